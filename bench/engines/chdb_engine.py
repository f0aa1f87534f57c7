"""ClickHouse, embedded through the `chdb` Python package (in this process).

encrypt('aes-256-gcm', x, key, iv) with a per-row 12-byte IV from randomString(12)
(ClickHouse's non-cryptographic PRNG: ClickHouse has no CSPRNG-IV mode of its own),
stored as iv || ciphertext || tag. Deterministic: ClickHouse has no SIV mode; the
deterministic option it has is 'aes-256-ecb' (no integrity; equal 16-byte blocks
give equal ciphertext blocks). Tables are MergeTree (columnar, LZ4) in a session
directory. CPU: this process's CPU time, all threads (chdb runs in-process).
"""

import os

from .common import BASE11, Clock, check_equal, check_max, result

KEY = "k" * 32  # a 32-byte key as a String literal


class Chdb:
    name = "chdb"
    workloads = {"enc11", "dec11", "det11", "enc1k", "dec1k"}

    def __init__(self, cfg):
        self.cfg = cfg
        self.rows11 = min(cfg["rows11"], cfg["caps"].get("chdb", {}).get("11", 1 << 62))
        self.rows1k = min(cfg["rows1k"], cfg["caps"].get("chdb", {}).get("1k", 1 << 62))

    def q(self, sql):
        return self.s.query(sql, "TabSeparated").bytes().decode().strip()

    def setup(self):
        import chdb
        from chdb import session

        self.s = session.Session(os.path.join(self.cfg["workdir"], "chdb"))
        n, m = self.rows11, self.rows1k
        self.q("CREATE DATABASE IF NOT EXISTS b")
        for t in ("t11", "t1k", "e11", "e1k"):
            self.q(f"DROP TABLE IF EXISTS b.{t}")
        mt = "ENGINE = MergeTree ORDER BY tuple()"
        self.q(f"CREATE TABLE b.t11 {mt} AS SELECT toString({BASE11} + number) AS x FROM numbers({n})")
        self.q(f"CREATE TABLE b.t1k {mt} AS SELECT leftPad(toString(number), 1024, 'x') AS x FROM numbers({m})")
        for e, t in (("e11", "t11"), ("e1k", "t1k")):
            self.q(
                f"CREATE TABLE b.{e} {mt} AS SELECT x, concat(iv, encrypt('aes-256-gcm', x, '{KEY}', iv)) AS c "
                f"FROM (SELECT x, randomString(12) AS iv FROM b.{t})"
            )
        return {"version": chdb.__version__, "engine": self.q("SELECT version()")}

    def run(self, workload):
        if workload.startswith(("enc", "det")):
            size, table, rows = (1024, "b.t1k", self.rows1k) if workload.endswith("1k") else (11, "b.t11", self.rows11)
            if workload == "det11":
                expr, from_ = f"encrypt('aes-256-ecb', x, '{KEY}')", table
                what = f"max(encrypt('aes-256-ecb', x, key)) FROM {table} (deterministic, unauthenticated)"
            else:
                expr = f"concat(iv, encrypt('aes-256-gcm', x, '{KEY}', iv))"
                from_ = f"(SELECT x, randomString(12) AS iv FROM {table})"
                what = f"max(iv || encrypt('aes-256-gcm', x, key, iv)), iv = randomString(12), FROM {table}"
            with Clock() as c:
                out = self.q(f"SELECT hex(max({expr})), count() FROM {from_}")
            max_hex, count = out.split("\t")
            if workload == "det11":
                back = self.q(f"SELECT hex(decrypt('aes-256-ecb', unhex('{max_hex}'), '{KEY}'))")
            else:
                back = self.q(
                    f"SELECT hex(decrypt('aes-256-gcm', substring(unhex('{max_hex}'), 13), '{KEY}', substring(unhex('{max_hex}'), 1, 12)))"
                )
            ok, check = check_max(size, rows, int(count), bytes.fromhex(back))
            if workload == "det11":
                again = self.q(f"SELECT hex(encrypt('aes-256-ecb', unhex('{back}'), '{KEY}'))")
                ok, check = ok and again == max_hex, check + f"; re-encrypting gives the same ciphertext: {again == max_hex}"
        else:
            table, rows = ("b.e1k", self.rows1k) if workload.endswith("1k") else ("b.e11", self.rows11)
            with Clock() as c:
                out = self.q(
                    f"SELECT countIf(decrypt('aes-256-gcm', substring(c, 13), '{KEY}', substring(c, 1, 12)) = x) FROM {table}"
                )
            ok, check = check_equal(rows, int(out))
            what = f"countIf(decrypt('aes-256-gcm', ...) = x) FROM {table}"
        return [result("chdb", workload, rows, c, ok, check, what)]

    def close(self):
        self.s.close()
