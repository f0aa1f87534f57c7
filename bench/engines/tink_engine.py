"""Google Tink for Python (`tink`): one call per value from a Python loop, in this process.

AEAD: AES256_GCM key template (random 12-byte IV per value; output = 5-byte Tink
prefix || iv || ciphertext || tag). Deterministic: the DeterministicAead AES256_SIV
template (AES-SIV-CMAC with a 512-bit key: the same construction as Sealhouse's
AES-SIV-CMAC-256). The per-value cost includes the Python call and loop, which is how
Tink is used from Python. CPU: this process's CPU time.
"""

from .common import Clock, check_equal, check_max, result, value11, value1k


class Tink:
    name = "tink"
    workloads = {"enc11", "dec11", "det11", "enc1k", "dec1k"}

    def __init__(self, cfg):
        caps = cfg["caps"].get("tink", {})
        self.rows11 = min(cfg["rows11"], caps.get("11", 1 << 62))
        self.rows1k = min(cfg["rows1k"], caps.get("1k", 1 << 62))

    def setup(self):
        import tink
        from tink import aead, daead

        aead.register()
        daead.register()
        self.aead = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
        self.daead = tink.new_keyset_handle(daead.deterministic_aead_key_templates.AES256_SIV).primitive(
            daead.DeterministicAead)
        self.v11 = [value11(i) for i in range(self.rows11)]
        self.v1k = [value1k(i) for i in range(self.rows1k)]
        enc = self.aead.encrypt
        self.c11 = [enc(v, b"") for v in self.v11]
        self.c1k = [enc(v, b"") for v in self.v1k]
        from importlib.metadata import version

        return {"version": version("tink")}

    def run(self, workload):
        size = 1024 if workload.endswith("1k") else 11
        values = self.v1k if size == 1024 else self.v11
        rows = len(values)
        if workload.startswith(("enc", "det")):
            det = workload == "det11"
            f = self.daead.encrypt_deterministically if det else self.aead.encrypt
            with Clock() as c:
                count = 0
                top = b""
                for v in values:
                    ct = f(v, b"")
                    count += 1
                    if ct > top:
                        top = ct
            plain = self.daead.decrypt_deterministically(top, b"") if det else self.aead.decrypt(top, b"")
            ok, check = check_max(size, rows, count, plain)
            if det:
                same = f(plain, b"") == top
                ok, check = ok and same, check + f"; re-encrypting gives the same ciphertext: {same}"
            what = ("DeterministicAead AES256_SIV" if det else "Aead AES256_GCM") + ".encrypt per value, running max"
        else:
            cts = self.c1k if size == 1024 else self.c11
            dec = self.aead.decrypt
            with Clock() as c:
                equal = 0
                for v, ct in zip(values, cts):
                    if dec(ct, b"") == v:
                        equal += 1
            ok, check = check_equal(rows, equal)
            what = "Aead AES256_GCM.decrypt per value, compare with the input"
        return [result("tink", workload, rows, c, ok, check, what)]

    def close(self):
        pass
