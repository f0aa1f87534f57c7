"""Sealhouse: every query is one `sealhouse sql --data-dir D --format csv -e "..."` process.

CPU is that process's user + system time (os.wait4), so it includes starting the
binary and opening the data directory (measured separately as `startup`, and not
subtracted). The keysets are passed as constants, `UNHEX('<keyset hex>')`, the way
script variables and USE_WRAPPED_KEYSET pass them (no join with a keyset table).
"""

import csv
import io
import os
import resource
import subprocess
import time

from .common import BASE11, Timed, check_equal, check_max, result

# The storage-encrypted project of insert_storage / scan_storage: AES256 (Parquet
# modular encryption, AES-GCM pages and footer) with the project's default key.
STORAGE_PROJECT = "sp_aes256"


class SqlError(RuntimeError):
    pass


class Sealhouse:
    name = "sealhouse"
    workloads = {
        "enc11", "dec11", "det11", "enc1k", "dec1k",
        "insert_enc", "scan_enc", "insert_storage", "scan_storage", "insert_plain", "scan_plain",
    }

    def __init__(self, cfg):
        self.bin = cfg["sealhouse_bin"]
        self.dir = os.path.join(cfg["workdir"], "sealhouse-data")
        # The KMS root key lives outside the data directory, by default under
        # ~/.config/sealhouse: keep the bench's key in its workdir, removed with it.
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("SEALHOUSE_KMS_ROOT_KEY", "SEALHOUSE_KMS_ROOT_KEY_FILE")
        }
        self.env["SEALHOUSE_CONFIG_DIR"] = os.path.join(cfg["workdir"], "sealhouse-config")
        self.rows11 = cfg["rows11"]
        self.rows1k = cfg["rows1k"]
        self.gcm = cfg["gcm_keyset_hex"]
        self.siv = cfg["siv_keyset_hex"]

    def sql(self, statement):
        """Runs statements; returns (rows of the last result, wall s, CPU s)."""
        # CPU of the child: the RUSAGE_CHILDREN difference (this worker runs
        # nothing else, so only this process is reaped in between).
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        p = subprocess.run(
            [self.bin, "sql", "--data-dir", self.dir, "--format", "csv", "-e", statement],
            capture_output=True,
            env=self.env,
        )
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if p.returncode != 0:
            raise SqlError(f"{statement[:300]}...: {p.stderr.decode()[-2000:]}")
        out = p.stdout
        rows = list(csv.reader(io.StringIO(out.decode())))
        return rows, wall, cpu

    def setup(self):
        os.makedirs(self.dir, exist_ok=True)
        n, m = self.rows11, self.rows1k
        g = f"UNHEX('{self.gcm}')"
        self.sql(
            "DROP TABLE IF EXISTS t11; DROP TABLE IF EXISTS t1k; DROP TABLE IF EXISTS e11;"
            "DROP TABLE IF EXISTS e1k; DROP TABLE IF EXISTS ins_enc; DROP TABLE IF EXISTS ins_plain;"
            f"CREATE PROJECT {STORAGE_PROJECT} ENCRYPTION ALGORITHM AES256;"
            f"CREATE TABLE {STORAGE_PROJECT}.ins_storage (id BIGINT, tel STRING);"
            f"CREATE TABLE t11 AS SELECT value AS id, CAST({BASE11} + value AS STRING) AS x FROM range({n});"
            f"CREATE TABLE t1k AS SELECT value AS id, lpad(CAST(value AS STRING), 1024, 'x') AS x FROM range({m});"
            f"CREATE TABLE e11 AS SELECT x, ENHANCED_SYM_ENCRYPT({g}, x) AS c FROM t11;"
            f"CREATE TABLE e1k AS SELECT x, ENHANCED_SYM_ENCRYPT({g}, x) AS c FROM t1k;"
            "CREATE TABLE ins_enc (id BIGINT, tel BINARY);"
            "CREATE TABLE ins_plain (id BIGINT, tel STRING)"
        )
        rows, _, _ = self.sql("SELECT (SELECT count(*) FROM t11) AS a, (SELECT count(*) FROM t1k) AS b")
        assert [int(v) for v in rows[1]] == [n, m], rows
        _, wall, cpu = self.sql("SELECT 1")
        return {"startup_wall": wall, "startup_cpu": cpu}

    def run(self, workload):
        g, s = f"UNHEX('{self.gcm}')", f"UNHEX('{self.siv}')"
        n = self.rows11
        if workload in ("enc11", "enc1k", "det11"):
            size, table, rows = (11, "t11", n) if workload != "enc1k" else (1024, "t1k", self.rows1k)
            ks = s if workload == "det11" else g
            q = f"SELECT HEX(max(ENHANCED_SYM_ENCRYPT({ks}, x))) AS m, count(*) AS n FROM {table}"
            out, wall, cpu = self.sql(q)
            max_hex, count = out[1][0], int(out[1][1])
            back, _, _ = self.sql(f"SELECT HEX(ENHANCED_SYM_DECRYPT({ks}, UNHEX('{max_hex}')))")
            plain = bytes.fromhex(back[1][0])
            ok, check = check_max(size, rows, count, plain)
            if workload == "det11":
                again, _, _ = self.sql(f"SELECT HEX(ENHANCED_SYM_ENCRYPT({ks}, UNHEX('{back[1][0]}')))")
                same = again[1][0] == max_hex
                ok, check = ok and same, check + f"; re-encrypting gives the same ciphertext: {same}"
            what = f"max(ENHANCED_SYM_ENCRYPT(ks, x)) over {table}, {'AES-SIV-CMAC-256' if workload == 'det11' else 'AES-GCM-256'} keyset"
        elif workload in ("dec11", "dec1k"):
            table, rows = ("e11", n) if workload == "dec11" else ("e1k", self.rows1k)
            q = f"SELECT count(*) FROM {table} WHERE ENHANCED_SYM_DECRYPT({g}, c) = CAST(x AS BINARY)"
            out, wall, cpu = self.sql(q)
            ok, check = check_equal(rows, int(out[1][0]))
            what = f"count(*) WHERE ENHANCED_SYM_DECRYPT(ks, c) = x over {table} (x, c)"
        elif workload in ("insert_enc", "insert_storage", "insert_plain"):
            target, expr = {
                "insert_enc": ("ins_enc", f"ENHANCED_SYM_ENCRYPT({g}, x)"),
                "insert_storage": (f"{STORAGE_PROJECT}.ins_storage", "x"),
                "insert_plain": ("ins_plain", "x"),
            }[workload]
            out, wall, cpu = self.sql(f"INSERT OVERWRITE TABLE {target} SELECT id, {expr} FROM t11")
            cnt, _, _ = self.sql(f"SELECT count(*) FROM {target}")
            rows = n
            ok, check = int(cnt[1][0]) == n, f"{cnt[1][0]}/{n} rows stored (every value checked by the scan workload)"
            what = f"INSERT OVERWRITE TABLE {target} SELECT id, {expr.replace(g, 'ks')} FROM t11"
        elif workload in ("scan_enc", "scan_storage", "scan_plain"):
            if workload == "scan_enc":
                target, expr = "ins_enc", f"ENHANCED_SYM_DECRYPT({g}, tel) = CAST(CAST({BASE11} + id AS STRING) AS BINARY)"
            else:
                target = f"{STORAGE_PROJECT}.ins_storage" if workload == "scan_storage" else "ins_plain"
                expr = f"tel = CAST({BASE11} + id AS STRING)"
            out, wall, cpu = self.sql(f"SELECT count(*), sum(id) FROM {target} WHERE {expr}")
            rows = n
            cnt, total = int(out[1][0]), int(out[1][1] or 0)
            ok = cnt == n and total == n * (n - 1) // 2
            check = f"{cnt}/{n} rows equal their expected value; sum(id) {'matches' if total == n * (n - 1) // 2 else 'WRONG'}"
            what = f"count(*), sum(id) FROM {target} WHERE {expr.replace(g, 'ks')}"
        else:
            raise ValueError(workload)
        return [result("sealhouse", workload, rows, Timed(wall, cpu), ok, check, what)]

    def close(self):
        pass
