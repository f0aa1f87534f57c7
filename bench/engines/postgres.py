"""PostgreSQL with pgcrypto (Debian packages), a server started by the harness on
127.0.0.1 in a fresh cluster under the run's work directory.

Two peers from one server:
- pg-encrypt: encrypt(x, key, 'aes') with a 32-byte key = AES-256-CBC, PKCS padding,
  all-zero IV (pgcrypto's raw encrypt() takes no IV): deterministic, no integrity.
  It is the same function in the encrypt and the deterministic workloads.
- pg-pgp: pgp_sym_encrypt(x, password, 'cipher-algo=aes256'): OpenPGP with a random
  session IV and SHA-1 MDC, and pgcrypto's default iterated-salted S2K per value.
Tables are UNLOGGED; fsync, JIT and parallel workers are off, so each query runs in
the one backend whose CPU (/proc/<pid>/stat) is measured. max(bytea) does not exist
in PostgreSQL, so the encrypt queries take the maximum as ORDER BY c DESC LIMIT 1
(a top-1 sort: one comparison per row).
"""

import glob
import os
import shutil
import socket
import subprocess
import time

from .common import BASE11, Clock, check_equal, check_max, result

KEY = "'\\x" + "6b" * 32 + "'::bytea"
PASSWORD = "'correct horse battery staple'"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class Postgres:
    name = "postgres"
    workloads = {"enc11", "dec11", "det11", "enc1k", "dec1k"}

    def __init__(self, cfg):
        self.cfg = cfg
        caps = cfg["caps"]
        self.rows = {
            ("pg-encrypt", 11): min(cfg["rows11"], caps["pg-encrypt"]["11"]),
            ("pg-encrypt", 1024): min(cfg["rows1k"], caps["pg-encrypt"]["1k"]),
            ("pg-pgp", 11): min(cfg["rows11"], caps["pg-pgp"]["11"]),
            ("pg-pgp", 1024): min(cfg["rows1k"], caps["pg-pgp"]["1k"]),
        }
        self.dir = os.path.join(cfg["workdir"], "pg")
        self.port = cfg.get("pg_port") or free_port()

    def start_server(self):
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))[-1]
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        data = os.path.join(self.dir, "data")
        subprocess.run(as_postgres([f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB -c work_mem=256MB "
                "-c max_parallel_workers_per_gather=0 -c jit=off -c max_wal_size=8GB")
        subprocess.run(as_postgres([f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l",
                                    os.path.join(self.dir, "log"), "-w", "start"]), check=True, capture_output=True)
        self.bindir, self.data = bindir, data

    def setup(self):
        import psycopg2

        self.start_server()
        for _ in range(50):
            try:
                self.conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
                break
            except psycopg2.OperationalError:
                time.sleep(0.2)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        self.cur.execute("SELECT pg_backend_pid(), version()")
        self.pid, version = self.cur.fetchone()
        r = self.rows
        n = max(r[("pg-encrypt", 11)], r[("pg-pgp", 11)])
        m = max(r[("pg-encrypt", 1024)], r[("pg-pgp", 1024)])
        self.cur.execute(f"CREATE UNLOGGED TABLE t11 AS SELECT g AS id, ({BASE11} + g)::text AS x FROM generate_series(0, {n - 1}) g")
        self.cur.execute(f"CREATE UNLOGGED TABLE t1k AS SELECT g AS id, lpad(g::text, 1024, 'x') AS x FROM generate_series(0, {m - 1}) g")
        for size, t in ((11, "t11"), (1024, "t1k")):
            e, p = "e" + t[1:], "p" + t[1:]
            self.cur.execute(f"CREATE UNLOGGED TABLE {e} AS SELECT x, encrypt(convert_to(x, 'UTF8'), {KEY}, 'aes') AS c "
                             f"FROM {t} WHERE id < {r[('pg-encrypt', size)]}")
            self.cur.execute(f"CREATE UNLOGGED TABLE {p} AS SELECT x, pgp_sym_encrypt(x, {PASSWORD}, 'cipher-algo=aes256') AS c "
                             f"FROM {t} WHERE id < {r[('pg-pgp', size)]}")
        self.cur.execute("VACUUM ANALYZE")
        return {"engine": version}

    def one(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchone()

    def run(self, workload):
        size = 1024 if workload.endswith("1k") else 11
        t = "t11" if size == 11 else "t1k"
        out = []
        for peer in ("pg-encrypt", "pg-pgp"):
            if workload == "det11" and peer == "pg-pgp":
                continue  # randomized: no deterministic mode
            rows = self.rows[(peer, size)]
            if peer == "pg-encrypt":
                enc = f"encrypt(convert_to(x, 'UTF8'), {KEY}, 'aes')"
                dec = f"decrypt(c, {KEY}, 'aes') = convert_to(x, 'UTF8')"
                back = lambda h: f"SELECT encode(decrypt(decode('{h}', 'hex'), {KEY}, 'aes'), 'hex')"  # noqa: E731
                src, dtable = f"{t} WHERE id < {rows}", "e" + t[1:]
            else:
                enc = f"pgp_sym_encrypt(x, {PASSWORD}, 'cipher-algo=aes256')"
                dec = f"pgp_sym_decrypt(c, {PASSWORD}) = x"
                back = lambda h: f"SELECT encode(convert_to(pgp_sym_decrypt(decode('{h}', 'hex'), {PASSWORD}), 'UTF8'), 'hex')"  # noqa: E731
                src, dtable = f"{t} WHERE id < {rows}", "p" + t[1:]
            clock = Clock(lambda: [self.pid])
            if workload.startswith(("enc", "det")):
                with clock:
                    max_hex = self.one(f"SELECT encode(c, 'hex') FROM (SELECT {enc} AS c FROM {src}) s ORDER BY c DESC LIMIT 1")[0]
                # The top-1 sort reads every row; the count is the source's, asked separately.
                count = self.one(f"SELECT count(*) FROM {src}")[0]
                plain = bytes.fromhex(self.one(back(max_hex))[0])
                ok, check = check_max(size, rows, count, plain)
                if workload == "det11":
                    again = self.one(f"SELECT encode(encrypt(decode('{plain.hex()}', 'hex'), {KEY}, 'aes'), 'hex')")[0]
                    ok, check = ok and again == max_hex, check + f"; re-encrypting gives the same ciphertext: {again == max_hex}"
                what = f"{enc.replace(KEY, 'key')} over {t}, max by ORDER BY c DESC LIMIT 1"
            else:
                with clock:
                    equal = self.one(f"SELECT count(*) FROM {dtable} WHERE {dec}")[0]
                ok, check = check_equal(rows, equal)
                what = f"count(*) WHERE {dec.replace(KEY, 'key')} FROM {dtable}"
            out.append(result(peer, workload, rows, clock, ok, check, what))
        return out

    def close(self):
        if getattr(self, "conn", None):
            self.conn.close()
        if getattr(self, "bindir", None):
            subprocess.run(as_postgres([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "stop"]),
                           capture_output=True)
