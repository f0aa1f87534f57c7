//! Queries over an AES256-encrypted table, embedded and on a cluster of
//! separate processes on this machine (a scheduler and one, then two,
//! executors; then two executors with the cluster's mutually authenticated
//! TLS), measured in one run: rows per CPU-second
//! of every process involved (the `sealhouse sql` coordinator, and for the
//! cluster the scheduler, the executors and the KMS HTTP API they reach the
//! keys through as their own principals), and the cluster's CPU per row
//! against the embedded warehouse's.
//!
//! - `scan`: `SELECT sum(amount), max(region), count(id) FROM t`, the
//!   encrypted-table scan with a final aggregate (one stage of partial
//!   aggregates per file group, then one merge);
//! - `group`: `SELECT region, sum(amount) ... GROUP BY region`: partial
//!   aggregates shuffled (sealed shuffle files) by region;
//! - `encrypt`: `ENHANCED_SYM_ENCRYPT` of every row's region under an
//!   AES-GCM-256 keyset given as a constant (sealed for the executors on a
//!   cluster), counting the ciphertexts;
//! - `decrypt`: `ENHANCED_SYM_DECRYPT` of a stored ciphertext column (table
//!   `c`, the same rows encrypted) under that keyset.
//!
//! The table holds `SEALHOUSE_CLUSTER_ROWS` rows (10,000,000 by default) in
//! seven files. Each figure is the median of three runs. CPU is read from
//! /proc: a finished `sealhouse sql`'s from this process's children's
//! total, the long-running processes' from their own counters.
//!
//!   cargo bench --workspace --bench cluster_scan
//!
//! `cargo test --benches` runs it once on 70,000 rows.

#[path = "../tests/cluster/mod.rs"]
mod cluster;
#[path = "../tests/sandbox/mod.rs"]
mod sandbox;

use std::process::Command;
use std::time::Instant;

use cluster::{Process, create_project, free_port, make_certs, start_principal_cluster, tls_args};
use sandbox::Sandbox;

const FILES: u64 = 7;
const RUNS: usize = 3;
/// Clock ticks per second of /proc's CPU counters (USER_HZ on Linux).
const TICKS: f64 = 100.0;

/// The queries, by name, with `keyset` (hex) the column keyset.
fn queries(keyset: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "scan",
            "SELECT sum(amount), max(region), count(id) FROM t".to_owned(),
        ),
        (
            "group",
            "SELECT region, sum(amount) FROM t GROUP BY region ORDER BY region".to_owned(),
        ),
        (
            "encrypt",
            format!("SELECT count(ENHANCED_SYM_ENCRYPT(UNHEX('{keyset}'), region)) FROM t"),
        ),
        (
            "decrypt",
            format!("SELECT count(ENHANCED_SYM_DECRYPT(UNHEX('{keyset}'), ct)) FROM c"),
        ),
    ]
}

/// utime + stime of process `pid` (`self` for this one), and with
/// `children`, of its waited-for children instead.
fn cpu_ticks(pid: &str, children: bool) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("reads /proc");
    // Fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..]
        .split(' ')
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 of proc(5); the
    // slice starts at field 3 (state), so they are at 11..=14 here.
    let at = if children { 13 } else { 11 };
    fields[at].parse::<u64>().expect("ticks") + fields[at + 1].parse::<u64>().expect("ticks")
}

/// utime + stime of a cluster process.
fn ticks(process: &Process) -> u64 {
    cpu_ticks(&process.child.id().to_string(), false)
}

/// Runs `sql` with `sealhouse sql` (on the cluster at `url`, if given):
/// its output, wall time and CPU seconds (its own, and `cluster`'s).
fn run(
    sandbox: &Sandbox,
    url: Option<&str>,
    tls: &[String],
    cluster: &[Process],
    sql: &str,
) -> (String, f64, f64) {
    let before_children = cpu_ticks("self", true);
    let before_cluster: u64 = cluster.iter().map(ticks).sum();
    let started = Instant::now();
    let mut cmd: Command = sandbox.std_command();
    cmd.args(["sql", "--format", "csv", "--project", "enc", "-e", sql]);
    if let Some(url) = url {
        cmd.args(["--cluster", url]).args(tls);
    }
    let out = cmd.output().expect("runs");
    let wall = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ticks = cpu_ticks("self", true) - before_children + cluster.iter().map(ticks).sum::<u64>()
        - before_cluster;
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        wall,
        ticks as f64 / TICKS,
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One configuration's median wall and CPU seconds for each query, and the
/// rows each gave (checked against the embedded warehouse's).
fn measure(
    sandbox: &Sandbox,
    queries: &[(&str, String)],
    url: Option<&str>,
    tls: &[String],
    cluster: &[Process],
    expected: &mut Vec<String>,
) -> Vec<(f64, f64)> {
    queries
        .iter()
        .enumerate()
        .map(|(i, (_, sql))| {
            let mut walls = Vec::new();
            let mut cpus = Vec::new();
            for _ in 0..RUNS {
                let (rows, wall, cpu) = run(sandbox, url, tls, cluster, sql);
                match expected.get(i) {
                    Some(want) => assert_eq!(&rows, want, "{sql}: other rows"),
                    None => expected.push(rows),
                }
                walls.push(wall);
                cpus.push(cpu);
            }
            (median(walls), median(cpus))
        })
        .collect()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rows: u64 = if bench {
        std::env::var("SEALHOUSE_CLUSTER_ROWS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10_000_000)
    } else {
        70_000
    };
    let sandbox = Sandbox::new();
    create_project(&sandbox, "enc", "AES256");
    let (keyset, _, _) = run(
        &sandbox,
        None,
        &[],
        &[],
        "SELECT HEX(NEW_KEYSET('AES-GCM-256', 'bench'))",
    );
    let keyset = keyset.lines().last().expect("a keyset").trim().to_owned();
    let mut script = String::from(
        "CREATE TABLE t (id BIGINT, region STRING, amount BIGINT); CREATE TABLE c (ct BINARY);",
    );
    let per_file = rows / FILES;
    for f in 0..FILES {
        let end = if f + 1 == FILES {
            rows
        } else {
            (f + 1) * per_file
        };
        let start = f * per_file;
        script.push_str(&format!(
            "INSERT INTO t SELECT value, concat('region-', CAST(value % 16 AS STRING)), \
             value * 7919 % 1000003 FROM range({start}, {end}); \
             INSERT INTO c SELECT ENHANCED_SYM_ENCRYPT(UNHEX('{keyset}'), \
             concat('region-', CAST(value % 16 AS STRING))) FROM range({start}, {end});"
        ));
    }
    let started = Instant::now();
    run_script(&sandbox, &script);
    println!(
        "cluster_scan: {rows} rows in {FILES} files of an AES256 table, and their regions \
         encrypted in another, written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let queries = queries(&keyset);
    let (_, _, startup) = run(&sandbox, None, &[], &[], "SELECT 1");
    println!("a `sealhouse sql -e 'SELECT 1'` process: {startup:.2} CPU-s (in every figure)");

    let mut expected = Vec::new();
    let embedded = measure(&sandbox, &queries, None, &[], &[], &mut expected);
    let mut results = vec![("embedded", embedded)];
    let certs = sandbox.dir.path().join("certs");
    make_certs(
        &sandbox,
        &certs,
        &["scheduler", "executor0", "executor1", "coordinator"],
    );
    for (name, executors, tls) in [
        ("1 executor", 1, false),
        ("2 executors", 2, false),
        ("2 exec. TLS", 2, true),
    ] {
        let port = free_port();
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let logs = sandbox.dir.path().join(format!("cluster-{port}"));
        std::fs::create_dir_all(&logs).expect("a logs directory");
        // Executors as their own principals, through the KMS HTTP API: the
        // KMS process is one of the cluster's, its CPU counted.
        let (mut cluster, kms) = start_principal_cluster(
            &logs,
            port,
            executors,
            tls.then_some(certs.as_path()),
            &[],
            || {
                // Warnings only: the figures are of queries, not of logging.
                let mut cmd = sandbox.std_command();
                cmd.env("SEALHOUSE_LOG", "warn");
                cmd
            },
        );
        cluster.push(kms);
        let coordinator = if tls {
            tls_args(&certs, "coordinator")
        } else {
            Vec::new()
        };
        results.push((
            name,
            measure(
                &sandbox,
                &queries,
                Some(&url),
                &coordinator,
                &cluster,
                &mut expected,
            ),
        ));
    }

    println!(
        "\n{:<10} {:<12} {:>8} {:>8} {:>16} {:>14}",
        "query", "where", "wall s", "CPU s", "M rows/CPU-s", "CPU/row vs emb"
    );
    for (q, (query, _)) in queries.iter().enumerate() {
        let reference = results[0].1[q].1;
        for (name, figures) in &results {
            let (wall, cpu) = figures[q];
            println!(
                "{:<10} {:<12} {:>8.2} {:>8.2} {:>16.2} {:>13.2}x",
                query,
                name,
                wall,
                cpu,
                rows as f64 / cpu / 1e6,
                cpu / reference
            );
        }
    }
}

fn run_script(sandbox: &Sandbox, script: &str) {
    let out = sandbox
        .std_command()
        .args(["sql", "--project", "enc", "-e", script])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
