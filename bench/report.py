"""Turns a results file of bench/run.py into the BENCHMARKS.md section and the chart.

    python bench/report.py bench/results/latest.json   # rewrite both from a saved run
    python bench/report.py --headline bench/results/latest.json   # only the headline table
"""

import json
import os
import sys

BEGIN, END = "<!-- peer-bench:begin -->", "<!-- peer-bench:end -->"
HEAD_BEGIN, HEAD_END = "<!-- headline:begin -->", "<!-- headline:end -->"
CHART = os.path.join("bench", "peer-ratios.png")

TITLES = {
    "enc11": "Encrypt {rows11} 11-byte values (randomized AEAD where the peer has one)",
    "dec11": "Decrypt {rows11} 11-byte values and compare each with its input",
    "det11": "Deterministic encryption of {rows11} 11-byte values (Sealhouse: AES-SIV-CMAC-256)",
    "enc1k": "Encrypt {rows1k} 1 KiB values",
    "dec1k": "Decrypt {rows1k} 1 KiB values and compare each with its input",
    "insert_enc": "Column-encrypted table, insert {rows11} rows (id BIGINT, tel 11 B encrypted per value)",
    "scan_enc": "Column-encrypted table, scan {rows11} rows, decrypt and check every value",
    "insert_storage": "Storage-encrypted table (Parquet modular encryption), insert {rows11} rows (id BIGINT, tel 11 B)",
    "scan_storage": "Storage-encrypted table, scan {rows11} rows and check every value",
    "insert_plain": "Unencrypted table (the floor), insert {rows11} rows",
    "scan_plain": "Unencrypted table (the floor), scan {rows11} rows and check every value",
}

LABELS = {
    "sealhouse": "Sealhouse SQL",
    "ceiling": "ceiling: crypto crate loop, 1 thread",
    "chdb": "ClickHouse (chdb)",
    "spark": "Spark (pyspark, local)",
    "pg-encrypt": "PostgreSQL pgcrypto encrypt()",
    "pg-pgp": "PostgreSQL pgcrypto pgp_sym_encrypt()",
    "tink": "Tink (Python)",
    "pyarrow": "pyarrow (Parquet)",
}

# What is not the same protection as Sealhouse's, said beside the figure.
NOTES = {
    ("enc11", "pg-encrypt"): "AES-256-CBC, zero IV: deterministic, no integrity",
    ("enc1k", "pg-encrypt"): "AES-256-CBC, zero IV: deterministic, no integrity",
    ("dec11", "pg-encrypt"): "AES-256-CBC, zero IV: no integrity",
    ("dec1k", "pg-encrypt"): "AES-256-CBC, zero IV: no integrity",
    ("enc11", "pg-pgp"): "OpenPGP, S2K key derivation per value",
    ("enc1k", "pg-pgp"): "OpenPGP, S2K key derivation per value",
    ("dec11", "pg-pgp"): "OpenPGP, S2K key derivation per value",
    ("dec1k", "pg-pgp"): "OpenPGP, S2K key derivation per value",
    ("enc11", "chdb"): "IV from randomString(12), a non-cryptographic PRNG",
    ("enc1k", "chdb"): "IV from randomString(12), a non-cryptographic PRNG",
    ("det11", "chdb"): "not SIV: AES-256-ECB, no integrity (ClickHouse has no SIV)",
    ("det11", "spark"): "not SIV: AES-256-ECB, no integrity (Spark has no SIV)",
    ("det11", "pg-encrypt"): "not SIV: AES-256-CBC zero IV, no integrity (pgcrypto has no SIV)",
    ("det11", "tink"): "AES256_SIV: the same construction",
    ("insert_enc", "sealhouse"): "column encryption: one AES-GCM-256 AEAD per value (no peer runs this as a table write)",
    ("scan_enc", "sealhouse"): "column decryption: one AEAD open per value",
    ("insert_storage", "sealhouse"): "project ENCRYPTION ALGORITHM AES256, default key: AES_GCM_V1 pages, every column + footer",
    ("scan_storage", "sealhouse"): "project ENCRYPTION ALGORITHM AES256, default key",
    ("insert_storage", "pyarrow"): "AES_GCM_V1 pages, every column + footer; table already in memory",
    ("scan_storage", "pyarrow"): "AES_GCM_V1 pages, every column + footer",
}


def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_ratio(s):
    if s["ratio"] is None:
        return "n/a"
    if s["peer"] == "sealhouse":
        return "1"
    lo, hi = s["ratio_range"]
    r = s["ratio"]
    p = 4 if r < 0.01 else 3 if r < 0.1 else 2
    return f"**{r:.{p}f}** ({lo:.{p}f}–{hi:.{p}f})" if s["reps"] > 1 else f"**{r:.{p}f}**"


def command_for(meta, workload):
    extra = []
    if meta["rows11"] != 10_000_000:
        extra.append(f"--rows11 {meta['rows11']}")
    if meta["rows1k"] != 1_000_000:
        extra.append(f"--rows1k {meta['rows1k']}")
    if meta["runs"] != 3:
        extra.append(f"--runs {meta['runs']}")
    return " ".join(["bench/run.sh", "--workloads", workload] + extra)


def markdown_tables(data):
    meta, summary = data["meta"], data["summary"]
    out = []
    for w in meta["workloads"]:
        rows = [s for s in summary if s["workload"] == w]
        if not rows:
            continue
        title = TITLES[w].format(rows11=f"{meta['rows11']:,}", rows1k=f"{meta['rows1k']:,}")
        out.append(f"#### `{w}`: {title}\n")
        out.append(f"Reproduce: `{command_for(meta, w)}` (all engines of this table, "
                   f"{meta['runs']} repetition{'s' if meta['runs'] != 1 else ''}).\n")
        out.append("| engine | what runs | rows | rows/s per core | MB/s per core | ratio to Sealhouse (median, min–max) | wall s | check |")
        out.append("|---|---|---:|---:|---:|---:|---:|---|")
        for s in rows:
            note = NOTES.get((w, s["peer"]))
            what = s["what"].replace("|", "\\|") + (f" — *{note}*" if note else "")
            check = ("ok: " if s["ok"] else "**FAILED**: ") + s["check"]
            out.append(f"| {LABELS.get(s['peer'], s['peer'])} | {what} | {s['rows']:,} | {fmt_rate(s['rate'])} | "
                       f"{s['mbs']:.1f} | {fmt_ratio(s)} | {s['wall']:.2f} | {check} |")
        out.append("")
    return "\n".join(out)


def section(data):
    m = data["meta"]
    mach, v = m["machine"], m["versions"]
    vers = []
    for k in ("rustc", "java"):
        if k in v:
            vers.append(f"{k}: {v[k]}")
    for k in ("chdb", "spark", "postgres", "tink", "pyarrow"):
        if k in m["engine_info"]:
            vers.append(f"{k}: " + ", ".join(f"{a} {b}" for a, b in m["engine_info"][k].items()))
    present = {s["peer"] for s in data["summary"]}
    caps = ", ".join(f"{LABELS.get(p, p)} {'1 KiB' if s == '1k' else '11 B'}: {n:,} rows"
                     for p, d in m["caps"].items() if p in present for s, n in d.items()
                     if (s == "11" and n < m["rows11"]) or (s == "1k" and n < m["rows1k"]))
    setup = ", ".join(f"{k} {x:.0f} s" for k, x in m["setup_s"].items())
    lines = [
        BEGIN,
        "## Against the peers (bench/)",
        "",
        "Generated by `bench/run.sh` (`bench/run.py`); do not edit by hand: rerun it. "
        "What each workload runs on each engine, exactly, is in [bench/README.md](bench/README.md).",
        "",
        f"Date: {m['date']}, commit {m['git']}, `sealhouse` built with the `{m['profile']}` profile.",
        f"Command: `{m['command']}` — {m['runs']} repetition(s), "
        f"{m['rows11']:,} 11-byte values, {m['rows1k']:,} 1 KiB values. "
        f"This run took {m['total_s'] / 60:.1f} min end to end (build step {m['build_s']:.0f} s, "
        f"set-up {sum(m['setup_s'].values()):.0f} s [{setup}], measuring {m['measure_s']:.0f} s). "
        "On a fresh machine the build is most of a run: see [bench/README.md](bench/README.md#time-for-a-whole-run).",
        f"Rows capped for slow peers (per row rates; `--cap`/`--no-caps` change it): {caps or 'none'}.",
        "",
        f"Machine: {mach.get('model name')} (family {mach.get('cpu family')}, model {mach.get('model')}), "
        f"`nproc` {mach['nproc']}, {mach['memory']} memory, kernel {mach['kernel']}, "
        f"virtualised: {mach['hypervisor']}; CPU flags of note: {mach['flags']}. "
        f"Load average before / after: {m['load_before']} / {m['load_after']}.",
        "",
        "Versions: " + "; ".join(vers) + ".",
        "",
        "**How to read.** *Per core* = rows (or plaintext bytes) ÷ CPU-seconds (user + system) of the "
        "engine's own process(es) during the query, so an engine that uses both cores is not favoured. "
        "*Ratio* = the peer's rows per CPU-second ÷ Sealhouse's in the same repetition (>1: the peer does more per "
        "core), median over the repetitions with the range. Sealhouse runs each query as one `sealhouse sql` "
        "process, so its CPU includes starting the binary "
        f"(a `SELECT 1` process costs {m['engine_info'].get('sealhouse', {}).get('startup_cpu', 0):.2f} s CPU, not subtracted). "
        "Every engine's result depends on every ciphertext's bytes and is checked (column *check*). "
        "The machine is shared and noisy: compare ratios, not absolute figures across runs.",
        "",
        markdown_tables(data),
        f"![ratio of each peer to Sealhouse per workload]({CHART})",
        "",
        END,
    ]
    return "\n".join(lines)


# Words of a note that mark a peer's work as weaker than Sealhouse's.
WEAKER = ("no integrity", "not SIV", "non-cryptographic")


def headline(data):
    """The table at the top of BENCHMARKS.md: per workload, Sealhouse per core, the peer that
    does most per core and its ratio, and Sealhouse's share of the crypto crate's own loop."""
    m, summary = data["meta"], data["summary"]
    lines = [
        HEAD_BEGIN,
        "## Headline: Sealhouse against its peers, per core",
        "",
        f"From `bench/run.sh` ({m['date']}, commit {m['git']}, median of {m['runs']} repetitions; "
        "the whole run, machine and commands are in [Against the peers](#against-the-peers-bench)). "
        "*Ratio* < 1: Sealhouse does more per CPU-second than that peer. *Loop share*: Sealhouse SQL's "
        "rate as a share of the crypto crate's own loop on the same values (the ceiling). "
        "† marks a peer that does weaker work (no integrity, or not SIV); the peer-bench section says which.",
        "",
        "| workload | Sealhouse per core | peer doing most per core | ratio | loop share |",
        "|---|---:|---|---:|---:|",
    ]
    for w in m["workloads"]:
        rows = {s["peer"]: s for s in summary if s["workload"] == w}
        own = rows.get("sealhouse")
        if not own:
            continue
        unit = "MB/s" if w.endswith("1k") else "rows/s"
        rate = f"{own['mbs']:.0f} MB/s" if unit == "MB/s" else f"{fmt_rate(own['rate'])} rows/s"
        peers = [s for p, s in rows.items() if p not in ("sealhouse", "ceiling") and s["ratio"]]
        best = max(peers, key=lambda s: s["ratio"], default=None)
        if best:
            mark = " †" if any(k in NOTES.get((w, best["peer"]), "") for k in WEAKER) else ""
            who, ratio = f"{LABELS.get(best['peer'], best['peer'])}{mark}", f"{best['ratio']:.2f}"
        else:
            who, ratio = "—", "—"
        ceiling = rows.get("ceiling")
        share = f"{100 / ceiling['ratio']:.0f}%" if ceiling and ceiling["ratio"] else "—"
        lines.append(f"| `{w}` | {rate} | {who} | {ratio} | {share} |")
    lines.append(HEAD_END)
    return "\n".join(lines)


def replace_between(text, begin, end, new, after=None):
    """`text` with the part from `begin` to `end` replaced by `new`; where there is none, `new`
    goes after the first paragraph that ends before `after` (or at the end)."""
    if begin in text and end in text:
        return text[: text.index(begin)] + new + text[text.index(end) + len(end):]
    if after and after in text:
        at = text.index(after)
        return text[:at] + "\n" + new + "\n" + text[at:]
    return text.rstrip("\n") + "\n\n" + new + "\n"


def write_chart(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = [s for s in data["summary"] if s["peer"] != "sealhouse" and s["ratio"]]
    workloads = [w for w in data["meta"]["workloads"] if any(s["workload"] == w for s in summary)]
    peers = [p for p in LABELS if any(s["peer"] == p for s in summary)]
    colors = dict(zip(peers, plt.cm.tab10.colors))
    fig, ax = plt.subplots(figsize=(13, 0.4 * len(summary) + 1.5))
    y, ticks, labels = 0, [], []
    for w in workloads:
        rows = [s for s in summary if s["workload"] == w]
        for s in rows:
            ax.barh(y, s["ratio"], color=colors[s["peer"]], label=LABELS[s["peer"]])
            ax.text(s["ratio"] * 1.05, y, f"{s['ratio']:.2g}", va="center", fontsize=8)
            y += 1
        ticks.append(y - (len(rows) + 1) / 2)
        labels.append(w)
        y += 0.8
    ax.set_xscale("log")
    ax.axvline(1, color="black", linewidth=1)
    ax.set_yticks(ticks, labels)
    ax.invert_yaxis()
    ax.set_xlabel("rows per CPU-second, ratio to Sealhouse (log scale; right of 1 = faster than Sealhouse)")
    m = data["meta"]
    ax.set_title(f"Peers vs Sealhouse: median of {m['runs']} repetition(s), {m['date']}\n{m['command']}", fontsize=9)
    handles, names = ax.get_legend_handles_labels()
    seen = {}
    for h, n in zip(handles, names):
        seen.setdefault(n, h)
    ax.legend(seen.values(), seen.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(data, root):
    write_chart(data, os.path.join(root, CHART))
    path = os.path.join(root, "BENCHMARKS.md")
    with open(path) as f:
        text = f.read()
    text = replace_between(text, BEGIN, END, section(data))
    text = replace_between(text, HEAD_BEGIN, HEAD_END, headline(data), after="\n## ")
    with open(path, "w") as f:
        f.write(text)


def write_headline(data, root):
    path = os.path.join(root, "BENCHMARKS.md")
    with open(path) as f:
        text = f.read()
    text = replace_between(text, HEAD_BEGIN, HEAD_END, headline(data), after="\n## ")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    only_headline = sys.argv[1] == "--headline"
    with open(sys.argv[-1]) as f:
        results = json.load(f)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (write_headline if only_headline else write_all)(results, root)
