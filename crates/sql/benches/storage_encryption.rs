//! What project storage encryption costs: INSERT and full scan of the same
//! table unencrypted and under each algorithm (AES256, AESCTR, RC4), in the
//! same run, as medians of several runs; and, for comparison, pyarrow
//! writing and reading the same data with and without Parquet modular
//! encryption (bench/storage/pyarrow_encryption.py, run from here when a
//! Python with pyarrow is found: $SEALHOUSE_BENCH_PYTHON, else the test venv
//! ~/.cache/sealhouse/venv).
//!
//! Run: `cargo bench -p sealhouse-sql --bench storage_encryption`
//! (10 million rows, 7 rounds; `SEALHOUSE_BENCH_ROWS` and
//! `SEALHOUSE_BENCH_RUNS` override). Under `cargo test`
//! it runs on 20,000 rows as a smoke test. Target (issue 6): AES256 at most
//! 10% slower than unencrypted for both.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealhouse_iam::{AccountId, Iam, NoSealing, Principal, SqliteStore, SystemClock};
use sealhouse_kms::{KmsService, RootKey};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

fn run(rt: &tokio::runtime::Runtime, w: &mut SqlSession, sql: &str) -> String {
    match rt.block_on(w.execute(sql)) {
        Ok(StatementOutput::Rows(r)) => format!("{:?}", r.batches),
        Ok(other) => other.message().unwrap_or_default(),
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn timed(rt: &tokio::runtime::Runtime, w: &mut SqlSession, sql: &str) -> (Duration, String) {
    let t = Instant::now();
    let out = run(rt, w, sql);
    (t.elapsed(), out)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::var("SEALHOUSE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 10_000_000 } else { 20_000 });
    let runs: usize = std::env::var("SEALHOUSE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 7 } else { 1 });
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let a = AccountId::new("1892732288741234").expect("uid");
    let iam = Arc::new(Iam::new(
        SqliteStore::open_in_memory().expect("iam"),
        NoSealing,
    ));
    iam.create_account(&a).expect("account");
    let kms = KmsService::open(
        &dir.path().join("kms"),
        Arc::clone(&iam),
        RootKey::generate().expect("root key"),
        SystemClock,
    )
    .expect("kms");
    let services = Arc::new(IdentityServices::new(
        Arc::clone(&iam),
        Arc::new(kms),
        Duration::from_secs(24 * 3600),
        a.clone(),
    ));
    let catalog = Catalog::open(
        &dir.path().join("warehouse"),
        sealhouse_storage::CatalogKey::random().expect("catalog key"),
    )
    .expect("catalog");
    let mut w = SqlSession::with_identity(catalog, Principal::Root { account: a }, services);

    // An id, a phone-number-like string, and a 32-character text per row.
    let insert = format!(
        "INSERT INTO t SELECT CAST(value AS BIGINT) AS id, \
         CAST(13900000000 + value AS STRING) AS tel, \
         concat('note-', CAST(value * 7919 % 1000003 AS STRING), '-padding-text') AS note \
         FROM generate_series(1, {rows}) AS s(value)"
    );
    let scan = "SELECT count(*), sum(id), max(tel), min(note), sum(length(note)) FROM t";
    let modes = [
        ("unencrypted", ""),
        ("AES256", " ENCRYPTION ALGORITHM AES256"),
        ("AESCTR", " ENCRYPTION ALGORITHM AESCTR"),
        ("RC4", " ENCRYPTION ALGORITHM RC4"),
    ];
    println!(
        "storage encryption: {rows} rows (id BIGINT, tel STRING, note STRING), medians of {runs} interleaved rounds"
    );
    for (i, (_, clause)) in modes.iter().enumerate() {
        run(&rt, &mut w, &format!("CREATE PROJECT m{i}{clause}"));
    }
    // Rounds interleave the modes, so warm-up and drift fall on all alike.
    let mut inserts = vec![Vec::new(); modes.len()];
    let mut scans = vec![Vec::new(); modes.len()];
    let mut bytes = vec![0u64; modes.len()];
    let mut reference_answer = None;
    for _ in 0..runs {
        for (i, (name, _)) in modes.iter().enumerate() {
            run(&rt, &mut w, &format!("USE m{i}"));
            run(&rt, &mut w, "DROP TABLE IF EXISTS t");
            run(
                &rt,
                &mut w,
                "CREATE TABLE t (id BIGINT, tel STRING, note STRING)",
            );
            inserts[i].push(timed(&rt, &mut w, &insert).0);
            let (took, answer) = timed(&rt, &mut w, scan);
            scans[i].push(took);
            // Every mode must read back the same rows.
            match &reference_answer {
                None => reference_answer = Some(answer),
                Some(r) => assert_eq!(r, &answer, "{name} read different rows"),
            }
            let info = w.catalog().table(&format!("m{i}"), "t").expect("table");
            bytes[i] = w
                .catalog()
                .files(&info)
                .expect("files")
                .iter()
                .map(|f| f.bytes)
                .sum();
        }
    }
    let results: Vec<_> = modes
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            (
                *name,
                median(inserts[i].clone()),
                median(scans[i].clone()),
                bytes[i],
            )
        })
        .collect();
    let (_, base_insert, base_scan, _) = results[0];
    println!(
        "{:<12} {:>12} {:>10} {:>12} {:>10} {:>10}",
        "mode", "insert", "vs plain", "scan", "vs plain", "MiB"
    );
    for (name, insert, scan, bytes) in &results {
        println!(
            "{:<12} {:>10.3} s {:>9.3}x {:>10.3} s {:>9.3}x {:>10.1}",
            name,
            insert.as_secs_f64(),
            insert.as_secs_f64() / base_insert.as_secs_f64(),
            scan.as_secs_f64(),
            scan.as_secs_f64() / base_scan.as_secs_f64(),
            *bytes as f64 / (1024.0 * 1024.0)
        );
    }
    let scans = checked_and_unchecked_scans(&rt, &mut w, runs);
    integrity_costs(&w, &results, &scans, runs);
    pyarrow_comparison(rows, runs);
}

/// Medians of the plain table's full scan by Sealhouse (block tags checked)
/// and by DataFusion alone on the same files (nothing checked), and the
/// median of each round's ratio of the first two.
struct ScanTimes {
    checked: Duration,
    unchecked: Duration,
    unchecked_views: Duration,
    paired_ratio: f64,
    /// The same for the CPU time the process spent in each scan (all
    /// threads): what the checks cost on a machine with other work to do.
    checked_cpu: Duration,
    unchecked_cpu: Duration,
    paired_cpu_ratio: f64,
}

/// CPU time this process has used, all threads (those ended included).
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Wall and CPU time of `f`.
fn wall_and_cpu<T>(f: impl FnOnce() -> T) -> (Duration, Duration, T) {
    let (t, cpu) = (Instant::now(), process_cpu());
    let out = f();
    (t.elapsed(), process_cpu() - cpu, out)
}

/// Times the plain table's scan by Sealhouse and by DataFusion alone in the
/// same rounds, one after the other, after all the inserts: both see the
/// same page cache and machine state (the mode rounds above time each scan
/// right after its table's INSERT, which DataFusion's would not share).
/// The reference reads strings as Sealhouse's sessions do (Utf8, not
/// DataFusion's default Utf8View, which decodes them without copying): the
/// same work but the checks. The default is timed too, for scale.
fn checked_and_unchecked_scans(
    rt: &tokio::runtime::Runtime,
    w: &mut SqlSession,
    runs: usize,
) -> ScanTimes {
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    let scan = "SELECT count(*), sum(id), max(tel), min(note), sum(length(note)) FROM t";
    let dir = {
        let catalog = w.catalog();
        let plain = catalog.table("m0", "t").expect("table");
        let files = catalog.files(&plain).expect("files");
        catalog
            .file_store()
            .local_path(&files[0].key)
            .expect("the bench's files are on the local disk")
            .parent()
            .expect("table directory")
            .to_owned()
    };
    let context = |views: bool| {
        let mut config = SessionConfig::new();
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = views;
        config.options_mut().sql_parser.map_string_types_to_utf8view = views;
        let ctx = SessionContext::new_with_config(config);
        rt.block_on(ctx.register_parquet(
            "t",
            dir.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        ))
        .expect("register");
        ctx
    };
    let (plain, views) = (context(false), context(true));
    let unchecked = |ctx: &SessionContext| {
        wall_and_cpu(|| {
            rt.block_on(async { ctx.sql(scan).await?.collect().await })
                .expect("unchecked scan")
        })
    };
    run(rt, w, "USE m0");
    let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    // One round to warm up, not counted.
    for round in 0..=runs {
        let (checked, checked_cpu, _) = wall_and_cpu(|| run(rt, w, scan));
        let (reference, reference_cpu, _) = unchecked(&plain);
        let (with_views, _, _) = unchecked(&views);
        if round > 0 {
            ratios.push(checked.as_secs_f64() / reference.as_secs_f64());
            cpu_ratios.push(checked_cpu.as_secs_f64() / reference_cpu.as_secs_f64());
            let took = [checked, reference, with_views, checked_cpu, reference_cpu];
            for (list, took) in times.iter_mut().zip(took) {
                list.push(took);
            }
        }
    }
    let middle = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [
        checked,
        unchecked,
        unchecked_views,
        checked_cpu,
        unchecked_cpu,
    ] = times.map(median);
    ScanTimes {
        checked,
        unchecked,
        unchecked_views,
        paired_ratio: middle(ratios),
        checked_cpu,
        unchecked_cpu,
        paired_cpu_ratio: middle(cpu_ratios),
    }
}

/// What the integrity checks cost (issue 18), measured in this run against
/// the same work without them:
/// - the plain table scanned by DataFusion alone (same files, no block
///   tags checked, no catalog) against Sealhouse's checked scan (`scans`);
/// - the block tags of the plain table's files computed and checked over
///   their bytes in memory, against the INSERT and the scan;
/// - the per-query checks of every mode (catalog MACs, pinned digests),
///   against its scan.
fn integrity_costs(
    w: &SqlSession,
    results: &[(&str, Duration, Duration, u64)],
    scans: &ScanTimes,
    runs: usize,
) {
    use std::io::Write;

    use sealhouse_storage::integrity::block_tags::BlockTagWriter;

    let catalog = w.catalog();
    let plain = catalog.table("m0", "t").expect("table");
    let files = catalog.files(&plain).expect("files");
    let local = |f: &sealhouse_storage::DataFile| {
        catalog
            .file_store()
            .local_path(&f.key)
            .expect("the bench's files are on the local disk")
    };
    let (_, plain_insert, _, _) = results[0];
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(local(f)).expect("read"))
        .collect();
    let mut tagging = Vec::new();
    let mut checking = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for b in &bytes {
            // The key of another file id costs the same to use.
            let staged = catalog.stage().expect("stage");
            let mut writer = BlockTagWriter::new(std::io::sink(), catalog.block_tag_key(&staged));
            writer.write_all(b).expect("sink");
            writer.finish().expect("sink");
        }
        tagging.push(t.elapsed());
        let t = Instant::now();
        for (f, b) in files.iter().zip(&bytes) {
            let verifier = sealhouse_storage::BlockTagKeys::Catalog(catalog)
                .verifier(f)
                .expect("fits")
                .expect("tagged");
            verifier.verify(0, b).expect("intact");
        }
        checking.push(t.elapsed());
    }
    let pct = |a: Duration, b: Duration| 100.0 * a.as_secs_f64() / b.as_secs_f64();
    println!("integrity checks (issue 18), same run:");
    println!(
        "  plain scan, {runs} interleaved rounds: Sealhouse (block tags checked) {:.3} s, DataFusion alone on the \
         same files {:.3} s: {:+.1}% (median of the rounds' ratios: {:+.1}%; DataFusion's default Utf8View \
         strings: {:.3} s)",
        scans.checked.as_secs_f64(),
        scans.unchecked.as_secs_f64(),
        pct(scans.checked, scans.unchecked) - 100.0,
        100.0 * scans.paired_ratio - 100.0,
        scans.unchecked_views.as_secs_f64()
    );
    println!(
        "  the same scans' CPU time (all threads): Sealhouse {:.3} s, DataFusion alone {:.3} s: {:+.1}% \
         (median of the rounds' ratios: {:+.1}%)",
        scans.checked_cpu.as_secs_f64(),
        scans.unchecked_cpu.as_secs_f64(),
        pct(scans.checked_cpu, scans.unchecked_cpu) - 100.0,
        100.0 * scans.paired_cpu_ratio - 100.0
    );
    let (tag, check) = (median(tagging), median(checking));
    println!(
        "  block tags over the plain table's {:.1} MiB: computing {:.1} ms ({:.1}% of its INSERT), checking {:.1} ms ({:.1}% of its scan)",
        bytes.iter().map(Vec::len).sum::<usize>() as f64 / (1024.0 * 1024.0),
        tag.as_secs_f64() * 1e3,
        pct(tag, plain_insert),
        check.as_secs_f64() * 1e3,
        pct(check, scans.checked)
    );
    for (i, (name, _, scan_time, _)) in results.iter().enumerate() {
        let mut per_query = Vec::new();
        let mut count = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let table = catalog.table(&format!("m{i}"), "t").expect("table");
            let files = catalog.files(&table).expect("files");
            count = files.len();
            for f in &files {
                match f.encryption {
                    Some(
                        sealhouse_storage::StorageAlgorithm::AesCtr
                        | sealhouse_storage::StorageAlgorithm::Rc4,
                    ) => {
                        sealhouse_storage::segmented_header_sha256(&local(f)).expect("header");
                    }
                    _ => {
                        sealhouse_storage::parquet_footer_sha256(&local(f)).expect("footer");
                    }
                }
            }
            per_query.push(t.elapsed());
        }
        let took = median(per_query);
        println!(
            "  {name:<12} per-query checks (catalog MACs, pinned digests of {count} files): {:.3} ms, {:.3}% of its scan",
            took.as_secs_f64() * 1e3,
            pct(took, *scan_time)
        );
    }
}

/// pyarrow writing and reading the same data with and without Parquet
/// modular encryption, in this run.
fn pyarrow_comparison(rows: u64, runs: usize) {
    let python = std::env::var_os("SEALHOUSE_BENCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cache/sealhouse/venv/bin/python"))
        });
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/storage/pyarrow_encryption.py");
    match python.filter(|p| p.exists()) {
        Some(python) => {
            let status = std::process::Command::new(&python)
                .arg(&script)
                .args(["--rows", &rows.to_string(), "--runs", &runs.to_string()])
                .status()
                .expect("run python");
            assert!(status.success(), "{} failed", script.display());
        }
        None => println!(
            "pyarrow comparison: not run (no Python with pyarrow; run scripts/python-tests.sh once, \
             or set SEALHOUSE_BENCH_PYTHON)"
        ),
    }
}
