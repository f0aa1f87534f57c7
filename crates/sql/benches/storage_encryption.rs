//! What project storage encryption costs: INSERT and full scan of the same
//! table unencrypted and under each algorithm (AES256, AESCTR, RC4), in the
//! same run, as medians of several runs; and, for comparison, pyarrow
//! writing and reading the same data with and without Parquet modular
//! encryption (bench/storage/pyarrow_encryption.py, run from here when a
//! Python with pyarrow is found: $SEALHOUSE_BENCH_PYTHON, else the test venv
//! ~/.cache/sealhouse/venv). Then what the integrity checks cost (issue
//! 18): the plain table's scan by DataFusion with and without the block
//! check (the same scan, the file read through `VerifiedFileStore` or not),
//! Sealhouse's scan against DataFusion alone, and the per-query checks.
//!
//! Run: `cargo bench -p sealhouse-sql --bench storage_encryption`
//! (10 million rows, 7 rounds, the plain scan's ways 35 rounds;
//! `SEALHOUSE_BENCH_ROWS`, `SEALHOUSE_BENCH_RUNS` and
//! `SEALHOUSE_BENCH_SCAN_RUNS` override). Under `cargo test`
//! it runs on 20,000 rows as a smoke test. Target (issue 6): AES256 at most
//! 10% slower than unencrypted for both.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealhouse_iam::{AccountId, Iam, NoSealing, Principal, SqliteStore, SystemClock};
use sealhouse_kms::{KmsService, RootKey};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

/// The full scan every mode's table is read back with.
const SCAN: &str = "SELECT count(*), sum(id), max(tel), min(note), sum(length(note)) FROM t";

/// The ways [`plain_scan_ways`] times, by their index in its rounds.
const SEALHOUSE: usize = 0;
const DATAFUSION_ALONE: usize = 1;
const DATAFUSION_CHECKED: usize = 2;
const DATAFUSION_VIEWS: usize = 3;

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
            let (took, answer) = timed(&rt, &mut w, SCAN);
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
    // The plain scan's ways are short and compared to a few percent, on a
    // machine whose speed drifts by more between rounds: many rounds.
    let scan_runs: usize = std::env::var("SEALHOUSE_BENCH_SCAN_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5 * runs);
    let scans = plain_scan_ways(&rt, &mut w, scan_runs);
    integrity_costs(&w, &results, &scans, runs);
    pyarrow_comparison(rows, runs);
}

/// One way of running the plain table's full scan, timed in [`timed_rounds`]:
/// its answer, printed.
type Way<'a> = Box<dyn FnMut() -> String + 'a>;

/// The wall and CPU times of each way, round by round.
struct Timings {
    wall: Vec<Vec<Duration>>,
    cpu: Vec<Vec<Duration>>,
}

impl Timings {
    fn wall(&self, way: usize) -> Duration {
        median(self.wall[way].clone())
    }

    fn cpu(&self, way: usize) -> Duration {
        median(self.cpu[way].clone())
    }

    /// The median of the rounds' ratios of `way` to `reference`, wall and
    /// CPU: robust to the machine drifting between rounds.
    fn paired(&self, way: usize, reference: usize) -> (f64, f64) {
        let ratio = |times: &[Vec<Duration>]| {
            let mut r: Vec<f64> = times[way]
                .iter()
                .zip(&times[reference])
                .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                .collect();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        };
        (ratio(&self.wall), ratio(&self.cpu))
    }
}

/// CPU time this process has used, all threads (those ended included).
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs every way once a round for `runs` rounds (after one round to warm
/// up, not counted), in reverse order every other round so that none
/// always runs first; every way must answer as the first does.
fn timed_rounds(runs: usize, ways: &mut [(&str, Way<'_>)]) -> Timings {
    let mut timings = Timings {
        wall: vec![Vec::new(); ways.len()],
        cpu: vec![Vec::new(); ways.len()],
    };
    for round in 0..=runs {
        let mut order: Vec<usize> = (0..ways.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        let mut answers = vec![String::new(); ways.len()];
        for i in order {
            let (t, cpu) = (Instant::now(), process_cpu());
            answers[i] = (ways[i].1)();
            let (wall, cpu) = (t.elapsed(), process_cpu() - cpu);
            if round > 0 {
                timings.wall[i].push(wall);
                timings.cpu[i].push(cpu);
            }
        }
        for (i, answer) in answers.iter().enumerate().skip(1) {
            assert_eq!(answer, &answers[0], "{} answered differently", ways[i].0);
        }
    }
    timings
}

/// The plain table's full scan, timed four ways in the same rounds after
/// all the inserts (so all see the same page cache and machine state):
/// [`SEALHOUSE`]'s scan (every check); [`DATAFUSION_ALONE`] on the same
/// file, nothing checked; [`DATAFUSION_CHECKED`], the same DataFusion scan
/// reading the file through the block check Sealhouse's scans read plain
/// files through (`VerifiedFileStore`): the check's own cost, everything
/// else equal; [`DATAFUSION_VIEWS`], DataFusion alone with its default
/// Utf8View strings, for scale.
///
/// The references read strings as Sealhouse's sessions do (Utf8, not
/// DataFusion's default Utf8View, which decodes them without copying).
fn plain_scan_ways(rt: &tokio::runtime::Runtime, w: &mut SqlSession, runs: usize) -> Timings {
    use datafusion::execution::object_store::ObjectStoreUrl;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
    use sealhouse_storage::scan::{BlockTagKeys, VerifiedFileStore};

    let (path, verifier) = {
        let catalog = w.catalog();
        let plain = catalog.table("m0", "t").expect("table");
        let files = catalog.files(&plain).expect("files");
        let [file] = files.as_slice() else {
            panic!("the plain table is one file, not {}", files.len());
        };
        let path = catalog
            .file_store()
            .local_path(&file.key)
            .expect("the bench's files are on the local disk");
        let verifier = BlockTagKeys::Catalog(catalog)
            .verifier(file)
            .expect("its tags fit")
            .expect("plain files are written with block tags");
        (path, verifier)
    };
    let checked_url = ObjectStoreUrl::parse("checked://plain").expect("url");
    let context =
        |views: bool, check: Option<sealhouse_storage::integrity::block_tags::BlockVerifier>| {
            let mut config = SessionConfig::new();
            config
                .options_mut()
                .execution
                .parquet
                .schema_force_view_types = views;
            config.options_mut().sql_parser.map_string_types_to_utf8view = views;
            let ctx = SessionContext::new_with_config(config);
            let url = if let Some(verifier) = check {
                ctx.register_object_store(
                    checked_url.as_ref(),
                    Arc::new(VerifiedFileStore::on_local_disk(verifier)),
                );
                let path = path.to_string_lossy();
                format!("{}{}", checked_url.as_str(), path.trim_start_matches('/'))
            } else {
                format!("file://{}", path.display())
            };
            rt.block_on(ctx.register_parquet("t", &url, ParquetReadOptions::default()))
                .expect("register");
            ctx
        };
    let datafusion = |ctx: SessionContext| -> Way<'_> {
        Box::new(move || {
            let batches = rt
                .block_on(async { ctx.sql(SCAN).await?.collect().await })
                .expect("DataFusion's scan");
            values(&batches)
        })
    };
    run(rt, w, "USE m0");
    let sealhouse: Way<'_> = Box::new(|| match rt.block_on(w.execute(SCAN)) {
        Ok(StatementOutput::Rows(r)) => values(&r.batches),
        Ok(_) => panic!("{SCAN} gave no rows"),
        Err(e) => panic!("{SCAN}: {e}"),
    });
    // In the order of the indexes above.
    let mut ways = [
        ("Sealhouse", sealhouse),
        ("DataFusion alone", datafusion(context(false, None))),
        (
            "DataFusion + block check",
            datafusion(context(false, Some(verifier))),
        ),
        (
            "DataFusion alone, Utf8View",
            datafusion(context(true, None)),
        ),
    ];
    timed_rounds(runs, &mut ways)
}

/// The values of a result's rows, one line each (names and types left out:
/// the ways name their columns differently).
fn values(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> String {
    use datafusion::arrow::util::display::array_value_to_string;

    let mut out = String::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let line: Vec<String> = batch
                .columns()
                .iter()
                .map(|column| array_value_to_string(column, row).expect("printable"))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// What the integrity checks cost (issue 18), measured in this run against
/// the same work without them:
/// - the plain table's scan by DataFusion reading the file through the
///   block check against the same scan without it, and Sealhouse's own
///   scan against DataFusion alone (`scans`, [`plain_scan_ways`]);
/// - the block tags of the plain table's files computed and checked over
///   their bytes in memory, against the INSERT and the scan;
/// - the per-query checks of every mode (catalog MACs, pinned digests),
///   against its scan.
fn integrity_costs(
    w: &SqlSession,
    results: &[(&str, Duration, Duration, u64)],
    scans: &Timings,
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
    let rounds = scans.wall[SEALHOUSE].len();
    println!(
        "  plain scan, {rounds} rounds, the ways' order alternating (medians; paired = median of the rounds' ratios):"
    );
    for (what, way, reference) in [
        (
            "the block check (DataFusion + check vs DataFusion alone, same file)",
            DATAFUSION_CHECKED,
            DATAFUSION_ALONE,
        ),
        (
            "Sealhouse's whole scan vs DataFusion alone",
            SEALHOUSE,
            DATAFUSION_ALONE,
        ),
    ] {
        let (paired_wall, paired_cpu) = scans.paired(way, reference);
        println!(
            "    {what}: wall {:.3} / {:.3} s, {:+.1}% (paired {:+.1}%); CPU {:.3} / {:.3} s, {:+.1}% (paired {:+.1}%)",
            scans.wall(way).as_secs_f64(),
            scans.wall(reference).as_secs_f64(),
            pct(scans.wall(way), scans.wall(reference)) - 100.0,
            100.0 * paired_wall - 100.0,
            scans.cpu(way).as_secs_f64(),
            scans.cpu(reference).as_secs_f64(),
            pct(scans.cpu(way), scans.cpu(reference)) - 100.0,
            100.0 * paired_cpu - 100.0,
        );
    }
    println!(
        "    (DataFusion alone with its default Utf8View strings: {:.3} s)",
        scans.wall(DATAFUSION_VIEWS).as_secs_f64()
    );
    let (tag, check) = (median(tagging), median(checking));
    println!(
        "  block tags over the plain table's {:.1} MiB: computing {:.1} ms ({:.1}% of its INSERT), checking {:.1} ms ({:.1}% of its scan)",
        bytes.iter().map(Vec::len).sum::<usize>() as f64 / (1024.0 * 1024.0),
        tag.as_secs_f64() * 1e3,
        pct(tag, plain_insert),
        check.as_secs_f64() * 1e3,
        pct(check, scans.wall(SEALHOUSE))
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
