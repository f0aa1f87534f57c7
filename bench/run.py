#!/usr/bin/env python3
"""Sealhouse against the peers, in one run on one machine (issue 8).

    python3 bench/run.py            # full run: 3 repetitions, 10M x 11 B, 1M x 1 KiB
    python3 bench/run.py --quick    # 200k x 11 B, 20k x 1 KiB, 1 repetition
    python3 bench/run.py --workloads enc11,dec11 --engines sealhouse,chdb

Installs what it needs (a venv under $HOME/.cache/sealhouse/bench-venv with the
pinned peers, PostgreSQL and a JRE from Debian if missing), builds the `sealhouse`
binary and the ceiling (bench/ceiling), starts every engine in its own worker
process, then runs repetition after repetition, each workload on every engine
back to back, so that each peer's ratio to Sealhouse comes from the same
repetition. A full run rewrites the section of BENCHMARKS.md between the
peer-bench markers, the headline table at its top, bench/peer-ratios.png and
bench/results/latest.json; see bench/README.md.
"""

import argparse
import glob
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
VENV = os.environ.get("SEALHOUSE_BENCH_VENV") or os.path.join(os.path.expanduser("~"), ".cache", "sealhouse", "bench-venv")
REQUIREMENTS = os.path.join(BENCH, "requirements.txt")

WORKLOADS = ["enc11", "dec11", "det11", "enc1k", "dec1k", "insert_enc", "scan_enc",
             "insert_storage", "scan_storage", "insert_plain", "scan_plain"]

# Rows measured per peer where running all of them would take minutes per query.
# Rates are per row, so a capped peer is still compared per core; the tables say
# how many rows each peer ran. `--cap PEER:SIZE=N` changes one, `--no-caps` drops all.
DEFAULT_CAPS = {
    "pg-encrypt": {"11": 1_000_000, "1k": 200_000},
    "pg-pgp": {"11": 2_000, "1k": 2_000},
    "tink": {"11": 2_000_000, "1k": 300_000},
    "spark": {"11": 3_000_000, "1k": 300_000},
    "chdb": {"11": 10_000_000, "1k": 1_000_000},
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd, **kw):
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


# --- installing -----------------------------------------------------------------

def ensure_venv():
    """Re-executes this script inside the bench venv, creating it if needed."""
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    with open(REQUIREMENTS, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(VENV, ".requirements-sha256")
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if have != want:
        t0 = time.time()
        if not os.path.exists(py):
            sh([sys.executable, "-m", "venv", VENV])
        sh([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        sh([py, "-m", "pip", "install", "-q", "-r", REQUIREMENTS])
        with open(stamp, "w") as f:
            f.write(want)
        log(f"venv ready in {time.time() - t0:.0f} s")
    os.environ["SEALHOUSE_BENCH_T0"] = os.environ.get("SEALHOUSE_BENCH_T0", str(T_START))
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


def apt_install(packages):
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    sh(sudo + ["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
    sh(sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q"] + packages,
       stdout=subprocess.DEVNULL)


def ensure_system(engines):
    need = []
    if "postgres" in engines and not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        need += ["postgresql", "postgresql-contrib"]
    if "spark" in engines and shutil.which("java") is None:
        need += ["default-jre-headless"]
    if need:
        apt_install(need)


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def binaries(profile):
    pdir = "debug" if profile == "dev" else profile
    return (os.path.join(target_dir(), pdir, "sealhouse"),
            os.path.join(target_dir(), "release", "sealhouse-bench-ceiling"))


def build_log():
    return os.path.join(target_dir(), "peer-bench-build.log")


def start_build(profile):
    """Starts building `sealhouse` and the ceiling in the background, so that the
    venv and the Debian packages install while it compiles (on a fresh machine the
    build is most of the run). The pid goes into the environment: this process
    keeps its pid and its children when ensure_venv() re-executes it in the venv,
    so wait_build() can reap the build there."""
    os.makedirs(target_dir(), exist_ok=True)
    cmds = [["cargo", "build", "--profile", profile, "-p", "sealhouse"],
            ["cargo", "build", "--release", "--manifest-path", os.path.join(BENCH, "ceiling", "Cargo.toml")]]
    script = " && ".join(" ".join(shlex.quote(c) for c in cmd) for cmd in cmds)
    log(f"building in the background (output in {build_log()}): {script}")
    with open(build_log(), "w") as out:
        proc = subprocess.Popen(["sh", "-c", script], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, CARGO_TARGET_DIR=target_dir()))
    os.environ["SEALHOUSE_BENCH_BUILD"] = f"{proc.pid}:{time.time()}"


def wait_build():
    """Waits for start_build()'s build; returns the build's wall time."""
    pid, _, started = os.environ.pop("SEALHOUSE_BENCH_BUILD").partition(":")
    _, status = os.waitpid(int(pid), 0)
    if os.waitstatus_to_exitcode(status) != 0:
        with open(build_log()) as f:
            sys.stderr.write("".join(f.readlines()[-40:]))
        sys.exit(f"the build failed (whole output in {build_log()})")
    return time.time() - float(started)


# --- running --------------------------------------------------------------------

class Worker:
    def __init__(self, name, cfg, logfile):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(BENCH, "worker.py"), name, json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logfile, text=True,
        )

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (see the run log)")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.name}: {reply['error']}")
        return reply

    def close(self):
        try:
            self.ask(op="quit")
        except Exception as e:  # noqa: BLE001 - closing is best effort
            log(f"closing {self.name}: {e}")
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_keysets(binary, workdir):
    d = os.path.join(workdir, "keysets")
    out = subprocess.run(
        [binary, "sql", "--data-dir", d, "--format", "csv", "-e",
         "SELECT HEX(NEW_KEYSET('AES-GCM-256', 'bench')) AS g, HEX(NEW_KEYSET('AES-SIV-CMAC-256', 'bench')) AS s"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    g, s = out[1].split(",")
    return g, s


def machine():
    info = {}
    with open("/proc/cpuinfo") as f:
        cpu = f.read()
    for line in cpu.splitlines():
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        if k in ("model name", "cpu family", "model") and k not in info:
            info[k] = v
        if k == "flags" and "flags" not in info:
            flags = v.split()
            info["flags"] = " ".join(f for f in ("aes", "pclmulqdq", "avx2", "vaes", "vpclmulqdq", "avx512f", "sha_ni")
                                     if f in flags)
    info["nproc"] = os.cpu_count()
    with open("/proc/meminfo") as f:
        info["memory"] = f.readline().split(":")[1].strip()
    info["kernel"] = os.uname().release
    info["hypervisor"] = "yes" if "hypervisor" in cpu else "no"
    return info


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def versions():
    v = {}
    for name, cmd in (("rustc", ["rustc", "--version"]), ("java", ["java", "-version"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            v[name] = (p.stdout or p.stderr).splitlines()[0]
        except (OSError, IndexError):
            v[name] = "not found"
    return v


def summarize(runs, workloads, peers_order):
    """Medians over repetitions; ratio = peer / Sealhouse per repetition, then the median."""
    rows = []
    for w in workloads:
        by_peer = {}
        for rep in runs:
            for r in rep:
                if r["workload"] == w:
                    by_peer.setdefault(r["peer"], []).append(r)
        seal = by_peer.get("sealhouse", [])
        for peer in sorted(by_peer, key=lambda p: peers_order.index(p) if p in peers_order else 99):
            rs = by_peer[peer]
            rates = [r["rows"] / r["cpu"] if r["cpu"] > 0 else float("inf") for r in rs]
            mbs = [r["bytes"] / r["cpu"] / 1e6 if r["cpu"] > 0 else float("inf") for r in rs]
            ratios = []
            for i, r in enumerate(rs):
                if i < len(seal) and seal[i]["cpu"] > 0 and r["cpu"] > 0:
                    ratios.append((r["rows"] / r["cpu"]) / (seal[i]["rows"] / seal[i]["cpu"]))
            rows.append({
                "workload": w, "peer": peer, "rows": rs[0]["rows"], "what": rs[0]["what"],
                "rate": statistics.median(rates), "mbs": statistics.median(mbs),
                "wall": statistics.median(r["wall"] for r in rs), "cpu": statistics.median(r["cpu"] for r in rs),
                "ratio": statistics.median(ratios) if ratios else None,
                "ratio_range": (min(ratios), max(ratios)) if ratios else None,
                "reps": len(rs), "ok": all(r["ok"] for r in rs), "check": rs[-1]["check"],
            })
    return rows


PEERS_ORDER = ["sealhouse", "ceiling", "chdb", "spark", "pg-encrypt", "pg-pgp", "tink", "pyarrow"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200k x 11 B, 20k x 1 KiB, 1 repetition; no report")
    ap.add_argument("--runs", type=int, help="repetitions (default 3; 1 with --quick)")
    ap.add_argument("--rows11", type=int, help="11-byte values (default 10,000,000)")
    ap.add_argument("--rows1k", type=int, help="1 KiB values (default 1,000,000)")
    ap.add_argument("--engines", default=",".join(["sealhouse", "ceiling", "chdb", "spark", "postgres", "tink", "pyarrow"]))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--cap", action="append", default=[], metavar="PEER:SIZE=N",
                    help="rows for one peer and size (11 or 1k), e.g. tink:11=10000000")
    ap.add_argument("--no-caps", action="store_true", help="every peer runs every row")
    ap.add_argument("--profile", default="peer-bench",
                    help="cargo profile for the sealhouse binary (default peer-bench: see Cargo.toml)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--workdir", help="where the engines keep their data, in a new subdirectory "
                    "(default: the system's temporary directory); about 6 GB at full size")
    ap.add_argument("--keep-workdir", action="store_true", help="keep the engines' data after the run")
    ap.add_argument("--write-report", action="store_true",
                    help="rewrite BENCHMARKS.md, the PNG and bench/results/latest.json (default for full runs)")
    ap.add_argument("--no-report", action="store_true", help="only print the table")
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}; known: {', '.join(WORKLOADS)}")

    if not args.no_build and "SEALHOUSE_BENCH_BUILD" not in os.environ:
        start_build(args.profile)
    ensure_venv()
    t_start = float(os.environ.get("SEALHOUSE_BENCH_T0", T_START))
    ensure_system(engines)

    runs = args.runs or (1 if args.quick else 3)
    rows11 = args.rows11 or (200_000 if args.quick else 10_000_000)
    rows1k = args.rows1k or (20_000 if args.quick else 1_000_000)
    caps = {} if args.no_caps else json.loads(json.dumps(DEFAULT_CAPS))
    for c in args.cap:
        peer, _, rest = c.partition(":")
        size, _, n = rest.partition("=")
        caps.setdefault(peer, {})[size] = int(n)
    for peer in ("pg-encrypt", "pg-pgp"):
        caps.setdefault(peer, {}).setdefault("11", 1 << 62)
        caps[peer].setdefault("1k", 1 << 62)

    sealhouse_bin, ceiling_bin = binaries(args.profile)
    build_s = 0.0
    if not args.no_build:
        build_s = wait_build()
        log(f"build (or check that it is up to date) took {build_s:.0f} s, the installs running beside it")

    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="sealhouse-peer-bench-", dir=args.workdir)
    os.chmod(workdir, 0o755)  # the PostgreSQL server runs as user postgres
    # What the engines store, measured at full size: about 6 GB (Sealhouse's
    # ciphertext tables, chdb's, Spark's, PostgreSQL's, pyarrow's files).
    need = rows11 * 300 + rows1k * 3000
    free = shutil.disk_usage(workdir).free
    if free < need:
        shutil.rmtree(workdir, ignore_errors=True)
        sys.exit(f"{free / 1e9:.1f} GB free under {os.path.dirname(workdir)}, about {need / 1e9:.1f} GB needed: "
                 "free some space or give --workdir on a larger file system (e.g. --workdir /dev/shm)")
    gcm = siv = None
    if "sealhouse" in engines or "ceiling" in engines:
        gcm, siv = make_keysets(sealhouse_bin, workdir)
    cfg = {
        "workdir": workdir, "rows11": rows11, "rows1k": rows1k, "caps": caps,
        "sealhouse_bin": sealhouse_bin, "ceiling_bin": ceiling_bin,
        "gcm_keyset_hex": gcm, "siv_keyset_hex": siv,
    }
    logpath = workdir + ".log"  # kept after the data is removed
    logfile = open(logpath, "a")
    log(f"work directory {workdir}; engine output in {logpath}")

    load_before = loadavg()
    workers, infos, setup_walls = {}, {}, {}
    try:
        for name in engines:
            w = Worker(name, cfg, logfile)
            workers[name] = w
            reply = w.ask(op="setup")
            infos[name], setup_walls[name] = reply["info"], reply["setup_wall"]
            log(f"{name}: set up in {reply['setup_wall']:.1f} s {reply['info']}")
        all_runs = []
        t_measure = time.time()
        for rep in range(runs):
            results = []
            for wl in workloads:
                for name, w in workers.items():
                    from engines import engine_class  # noqa: PLC0415 - workers own the engines
                    if wl not in engine_class(name).workloads:
                        continue
                    for r in w.ask(op="run", workload=wl)["results"]:
                        results.append(r)
                        log(f"run {rep + 1}/{runs} {wl:12} {r['peer']:16} {r['rows']:>9} rows "
                            f"cpu {r['cpu']:7.2f} s wall {r['wall']:7.2f} s "
                            f"{r['rows'] / max(r['cpu'], 1e-9) / 1e6:7.3f} M rows/CPU-s  "
                            f"{'ok' if r['ok'] else 'CHECK FAILED'}: {r['check']}")
            all_runs.append(results)
        measure_s = time.time() - t_measure
    finally:
        for w in workers.values():
            w.close()
        logfile.close()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = loadavg()

    summary = summarize(all_runs, workloads, PEERS_ORDER)
    failed = [s for s in summary if not s["ok"]]
    total_s = time.time() - t_start
    argv = [a for a in sys.argv[1:]]
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "bench/run.sh" + ("" if not argv else " " + " ".join(shlex.quote(a) for a in argv)),
        "runs": runs, "rows11": rows11, "rows1k": rows1k, "caps": caps,
        "engines": engines, "workloads": workloads,
        "machine": machine(), "versions": versions(), "engine_info": infos,
        "load_before": load_before, "load_after": load_after,
        "build_s": build_s, "setup_s": setup_walls, "measure_s": measure_s, "total_s": total_s,
        "profile": args.profile, "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                                       capture_output=True, text=True).stdout.strip(),
    }
    data = {"meta": meta, "runs": all_runs, "summary": summary}

    import report  # noqa: PLC0415 - needs the venv's matplotlib

    print()
    print(report.markdown_tables(data))
    write = args.write_report or (not args.quick and not args.no_report)
    out = os.path.join(BENCH, "results", "latest.json" if write else "last-quick.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    log(f"results in {out}")
    if write and not failed:
        report.write_all(data, ROOT)
        log("rewrote BENCHMARKS.md (peer-bench section) and bench/peer-ratios.png")
    log(f"total {total_s:.0f} s (build {build_s:.0f} s, measuring {measure_s:.0f} s)")
    if failed:
        log("CHECK FAILED: " + "; ".join(f"{s['workload']} {s['peer']}: {s['check']}" for s in failed))
        sys.exit(1)


T_START = time.time()

if __name__ == "__main__":
    sys.path.insert(0, BENCH)
    main()
