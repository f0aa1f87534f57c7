#!/usr/bin/env python3
"""Two or more `sealhouse` binaries on the same queries, interleaved: the CPU
seconds (user + system, of the process) each takes per query, as medians with
their range. For before/after measurements of a change to the SQL path, on
the peer benchmark's tables at full size (10M x 11 B, 1M x 1 KiB, plain project).

    cargo build --profile peer-bench -p sealhouse   # once per version, then copy it
    python3 bench/ab.py before=/tmp/sealhouse-before,after=/tmp/sealhouse-after \\
        --queries dec1k,dec11 --runs 5

The tables are made once, by the first binary, in --dir (default
/tmp/sealhouse-ab) and reused by later runs: every binary reads the same
files. INSERT queries overwrite their table each run, so which binary runs
first in a round can matter; swap the order to check. The catalog keeps what
the first binary's writes measured (each column's value width, which decides
whether scans read text as views; older builds ignore it): name the newer
binary first, or use a fresh --dir.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

BASE11 = 13900000000


def queries(g):
    return {
        "enc11": f"SELECT HEX(max(ENHANCED_SYM_ENCRYPT({g}, x))) AS m, count(*) AS n FROM t11",
        "dec11": f"SELECT count(*) FROM e11 WHERE ENHANCED_SYM_DECRYPT({g}, c) = CAST(x AS BINARY)",
        "enc1k": f"SELECT HEX(max(ENHANCED_SYM_ENCRYPT({g}, x))) AS m, count(*) AS n FROM t1k",
        "dec1k": f"SELECT count(*) FROM e1k WHERE ENHANCED_SYM_DECRYPT({g}, c) = CAST(x AS BINARY)",
        "maxc1k": "SELECT max(c) IS NOT NULL FROM e1k",
        "insert_enc": f"INSERT OVERWRITE TABLE ins_enc SELECT id, ENHANCED_SYM_ENCRYPT({g}, x) FROM t11",
        "scan_enc": f"SELECT count(*), sum(id) FROM ins_enc WHERE ENHANCED_SYM_DECRYPT({g}, tel) = "
                    f"CAST(CAST({BASE11} + id AS STRING) AS BINARY)",
        "insert_plain": "INSERT OVERWRITE TABLE ins_plain SELECT id, x FROM t11",
        "scan_plain": f"SELECT count(*), sum(id) FROM ins_plain WHERE tel = CAST({BASE11} + id AS STRING)",
    }


class Runner:
    def __init__(self, data_dir):
        self.data = os.path.join(data_dir, "data")
        # The KMS root key stays in this directory, removed with it.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("SEALHOUSE_KMS_ROOT_KEY", "SEALHOUSE_KMS_ROOT_KEY_FILE")}
        self.env["SEALHOUSE_CONFIG_DIR"] = os.path.join(data_dir, "config")

    def sql(self, binary, statement):
        """(stdout, CPU seconds) of one `sealhouse sql` process."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([binary, "sql", "--data-dir", self.data, "--format", "csv", "-e", statement],
                           capture_output=True, env=self.env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit(f"{binary}: {statement[:200]}...: {p.stderr.decode()[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return p.stdout.decode(), cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", help="name=path[,name=path...]")
    ap.add_argument("--queries", default="dec1k,maxc1k,dec11,enc1k,enc11,insert_enc,scan_enc")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/sealhouse-ab")
    args = ap.parse_args()
    binaries = dict(pair.split("=", 1) for pair in args.binaries.split(","))
    runner = Runner(args.dir)
    first = next(iter(binaries.values()))
    keyset_file = os.path.join(args.dir, "keyset.hex")
    if not os.path.exists(keyset_file):
        os.makedirs(args.dir, exist_ok=True)
        out, _ = runner.sql(first, "SELECT HEX(NEW_KEYSET('AES-GCM-256', 'bench')) AS g")
        g = f"UNHEX('{out.splitlines()[1]}')"
        t0 = time.time()
        runner.sql(first,
                   f"CREATE TABLE t11 AS SELECT value AS id, CAST({BASE11} + value AS STRING) AS x FROM range(10000000);"
                   "CREATE TABLE t1k AS SELECT value AS id, lpad(CAST(value AS STRING), 1024, 'x') AS x FROM range(1000000);"
                   f"CREATE TABLE e11 AS SELECT x, ENHANCED_SYM_ENCRYPT({g}, x) AS c FROM t11;"
                   f"CREATE TABLE e1k AS SELECT x, ENHANCED_SYM_ENCRYPT({g}, x) AS c FROM t1k;"
                   "CREATE TABLE ins_enc (id BIGINT, tel BINARY); CREATE TABLE ins_plain (id BIGINT, tel STRING);"
                   f"INSERT INTO ins_enc SELECT id, ENHANCED_SYM_ENCRYPT({g}, x) FROM t11;"
                   "INSERT INTO ins_plain SELECT id, x FROM t11")
        with open(keyset_file, "w") as f:
            f.write(out.splitlines()[1])
        print(f"tables made in {time.time() - t0:.0f} s by {first}", flush=True)
    with open(keyset_file) as f:
        known = queries(f"UNHEX('{f.read().strip()}')")
    print(f"CPU seconds per query, medians of {args.runs} interleaved runs (range)")
    for name in args.queries.split(","):
        cpu = {b: [] for b in binaries}
        for _ in range(args.runs):
            for b, path in binaries.items():
                cpu[b].append(runner.sql(path, known[name])[1])
        print(f"{name:13s}" + "".join(
            f"  {b}: {statistics.median(c):.3f} ({min(c):.3f}-{max(c):.3f})" for b, c in cpu.items()),
            flush=True)


if __name__ == "__main__":
    main()
