"""The ceiling: bench/ceiling (the crypto crate's CipherSession loop, one thread),
run as a long-lived process that answers one JSON line per workload.

It gets the same two keysets as Sealhouse (hex of the binary keyset), and makes
the same values; its timings come from inside the process (/proc/self/schedstat, the main thread, where the loops run)."""

import json
import subprocess

from .common import Timed, check_equal, check_max, result


class Ceiling:
    name = "ceiling"
    workloads = {"enc11", "dec11", "det11", "enc1k", "dec1k"}

    def __init__(self, cfg):
        self.cfg = cfg
        self.proc = None

    def setup(self):
        c = self.cfg
        self.proc = subprocess.Popen(
            [c["ceiling_bin"], str(c["rows11"]), str(c["rows1k"]), c["gcm_keyset_hex"], c["siv_keyset_hex"]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        return {}

    def run(self, workload):
        self.proc.stdin.write(workload + "\n")
        self.proc.stdin.flush()
        r = json.loads(self.proc.stdout.readline())
        size = 1024 if workload.endswith("1k") else 11
        rows = r["rows"]
        if workload.startswith("dec"):
            ok, check = check_equal(rows, r["equal"])
            what = "CipherSession::decrypt_append per value, compare with the input"
        else:
            ok, check = check_max(size, rows, r["count"], bytes.fromhex(r["max_plain_hex"]))
            if workload == "det11":
                same = r["reencrypt_hex"] == r["max_hex"]
                ok, check = ok and same, check + f"; re-encrypting gives the same ciphertext: {same}"
            what = "CipherSession::encrypt_append per value, running max of the ciphertexts"
        return [result("ceiling", workload, rows, Timed(r["wall"], r["cpu"]), ok, check, what)]

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait()
