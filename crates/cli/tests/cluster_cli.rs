//! A Sealhouse cluster of separate processes on loopback: a scheduler and
//! two executors over one data directory (`sealhouse cluster ...`), and
//! queries submitted with `sealhouse sql --cluster` and by `sealhouse serve
//! --cluster`'s sessions. Every result equals the embedded warehouse's, over
//! plain and storage-encrypted (AES256, AESCTR, RC4) tables of more than
//! eight files each, for queries and for the SELECT of INSERT and CREATE
//! TABLE AS; both executors run tasks, and each scan reads every file of its
//! table exactly once across them (no task reads another's files). Every
//! shuffle file the executors write is sealed.

mod cluster;
mod sandbox;
mod serve;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster::{Process, create_project, free_port, make_certs, start_cluster, tls_args};
use sandbox::Sandbox;

/// Runs `script` with `sealhouse sql` (on the cluster when `cluster` is
/// given); its CSV output, or its error.
fn sql(
    sandbox: &Sandbox,
    cluster: Option<&str>,
    project: &str,
    script: &str,
) -> Result<String, String> {
    let mut cmd = sandbox.std_command();
    cmd.args(["sql", "--format", "csv", "--project", project, "-e", script]);
    if let Some(url) = cluster {
        cmd.args(["--cluster", url]);
    }
    let out = cmd.output().expect("runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("utf-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn ok(sandbox: &Sandbox, project: &str, script: &str) -> String {
    sql(sandbox, None, project, script).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// The table's data files on disk.
fn files_of(data: &Path, table_id: &str) -> usize {
    std::fs::read_dir(data.join("tables").join(table_id))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
                .count()
        })
        .unwrap_or(0)
}

/// Fills `project.events` with 14 files: seven single INSERTs of a few
/// rows and seven of 20,000 rows (two size tiers of the automatic merge,
/// each below its eight-file trigger), and `project.regions` with one.
fn fill(sandbox: &Sandbox, project: &str) {
    ok(
        sandbox,
        project,
        "CREATE TABLE events (id BIGINT, region STRING, amount BIGINT); \
         CREATE TABLE regions (region STRING, name STRING); \
         INSERT INTO regions VALUES ('r0', 'north'), ('r1', 'south'), ('r2', 'east'), ('r3', 'west');",
    );
    let mut script = String::new();
    for k in 0..7 {
        script.push_str(&format!(
            "INSERT INTO events VALUES ({a}, 'r{r}', {a}), ({b}, NULL, -{b}), ({c}, 'r9', 7), \
             ({d}, '{MARKER}-{project}-{k}', 1);",
            a = 1_000_000 + k,
            b = 2_000_000 + k,
            c = 3_000_000 + k,
            d = 4_000_000 + k,
            r = k % 4,
        ));
        script.push_str(&format!(
            "INSERT INTO events SELECT value, concat('r', CAST(value % 5 AS STRING)), \
             CAST(random() * 1000000000 AS BIGINT) FROM range({start}, {end});",
            start = k * 20_000,
            end = (k + 1) * 20_000,
        ));
    }
    ok(sandbox, project, &script);
}

/// Begins a value inserted into every table: no cluster log may hold one.
const MARKER: &str = "inserted-plaintext";

/// The queries compared: full scans, aggregates, joins (within a project
/// and across two), pushed-down conditions, a Sealhouse function that
/// executors run, and COUNT(*).
fn queries(other: &str) -> Vec<String> {
    vec![
        "SELECT id, region, amount FROM events ORDER BY id".into(),
        "SELECT region, count(*), sum(amount), min(id), max(id) FROM events GROUP BY region ORDER BY region".into(),
        "SELECT r.name, count(*), sum(e.amount) FROM events e JOIN regions r ON e.region = r.region GROUP BY r.name ORDER BY r.name".into(),
        "SELECT count(*), sum(amount) FROM events WHERE id % 3 = 0 AND id > 100 AND region <> 'r2'".into(),
        "SELECT count(*) FROM events".into(),
        "SELECT hex(region), count(*) FROM events GROUP BY hex(region) ORDER BY 1".into(),
        "SELECT id, amount FROM events WHERE region = 'r9' ORDER BY amount DESC, id LIMIT 5".into(),
        format!("SELECT count(*), sum(a.amount - b.amount) FROM events a JOIN {other}.events b ON a.id = b.id"),
    ]
}

/// How many times each executor's log says it read each file, by table.
fn files_read(executors: &[Process]) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut read: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for executor in executors {
        for line in executor
            .log()
            .lines()
            .filter(|l| l.contains("reading a scan partition"))
        {
            let event: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
            let fields = &event["fields"];
            let table = fields["table"].as_str().expect("table").to_owned();
            for file in fields["files"].as_str().expect("files").split(',') {
                *read
                    .entry(table.clone())
                    .or_default()
                    .entry(file.to_owned())
                    .or_default() += 1;
            }
        }
    }
    read
}

#[test]
fn queries_on_a_cluster_of_separate_processes_equal_the_embedded_warehouse() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let projects = [
        ("plain_p", None),
        ("aes_p", Some("AES256")),
        ("ctr_p", Some("AESCTR")),
        ("rc4_p", Some("RC4")),
    ];
    for (name, encryption) in projects {
        let mut args = vec!["project", "create", name];
        if let Some(algorithm) = encryption {
            args.extend(["--encryption", algorithm]);
        }
        let out = sandbox.std_command().args(&args).output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fill(&sandbox, name);
    }
    // Each events table holds 14 files (the automatic merge left them).
    let tables = std::fs::read_dir(data.join("tables")).expect("tables");
    let mut many = 0;
    for t in tables.filter_map(Result::ok) {
        let n = files_of(&data, &t.file_name().to_string_lossy());
        assert!(n == 1 || n == 14, "a table of {n} files");
        many += usize::from(n == 14);
    }
    assert_eq!(many, projects.len(), "every events table has 14 files");

    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let mut cluster = start_cluster(sandbox.dir.path(), scheduler_port, 2, None, &[], || {
        sandbox.std_command()
    });
    // The coordinator reaches the scheduler through a tap that keeps the
    // plans it submits.
    let tap = WireTap::start(scheduler_port);
    let tapped = format!("http://127.0.0.1:{}", tap.port);
    let watch = WorkDirWatch::start(
        (0..2)
            .map(|i| sandbox.dir.path().join(format!("work{i}")))
            .collect(),
    );
    let mut compared = 0;
    for (name, _) in projects {
        let other = if name == "plain_p" {
            "aes_p"
        } else {
            "plain_p"
        };
        for query in queries(other) {
            let embedded = ok(&sandbox, name, &query);
            let clustered = sql(&sandbox, Some(&tapped), name, &query)
                .unwrap_or_else(|e| panic!("{name}: {query} on the cluster: {e}"));
            assert_eq!(clustered, embedded, "{name}: {query}");
            assert!(embedded.lines().count() > 1, "{name}: {query} gave no rows");
            compared += 1;
        }
    }
    println!("{compared} queries gave the same rows on the cluster and embedded");
    // Every shuffle file the executors wrote meanwhile was sealed: none an
    // Arrow IPC stream, none holding an inserted value.
    let seen = watch.stop();
    println!(
        "{} shuffle files seen while the queries ran",
        seen.files.len()
    );
    assert!(
        seen.files.len() >= 8,
        "the joins and aggregates shuffled: {seen:?}"
    );
    assert!(
        seen.unsealed.is_empty(),
        "plaintext shuffle files: {seen:?}"
    );
    assert!(
        seen.with_marker.is_empty(),
        "shuffle files hold values: {seen:?}"
    );

    // The SELECT of an INSERT and of a CREATE TABLE AS runs on the cluster;
    // the rows written equal those the embedded warehouse writes.
    let scans_before = files_read(&cluster[1..])["ctr_p.events"]
        .values()
        .sum::<usize>();
    for (target, write) in [
        (
            "copy",
            "CREATE TABLE {t} (id BIGINT, region STRING, amount BIGINT); \
             INSERT INTO {t} SELECT e.id, r.name, e.amount FROM events e JOIN regions r ON e.region = r.region WHERE e.id % 7 = 1",
        ),
        (
            "summary",
            "CREATE TABLE {t} AS SELECT region, count(*) AS n, sum(amount) AS total FROM events GROUP BY region",
        ),
    ] {
        let local = format!("{target}_embedded");
        ok(&sandbox, "ctr_p", &write.replace("{t}", &local));
        sql(&sandbox, Some(&url), "ctr_p", &write.replace("{t}", target))
            .unwrap_or_else(|e| panic!("{write} on the cluster: {e}"));
        let read = |t: &str| {
            ok(
                &sandbox,
                "ctr_p",
                &format!("SELECT * FROM {t} ORDER BY 1, 2, 3"),
            )
        };
        assert_eq!(read(target), read(&local), "{target}");
        assert!(read(target).lines().count() > 3, "{target} holds rows");
    }
    let scans_after = files_read(&cluster[1..])["ctr_p.events"]
        .values()
        .sum::<usize>();
    assert_eq!(
        scans_after - scans_before,
        2 * 14,
        "both writes read events on the cluster"
    );

    // Both executors ran tasks (Ballista's log), and each file of a table
    // was read as often as the table was scanned on the cluster: by exactly
    // one task each time (Sealhouse's scan log).
    for (i, executor) in cluster[1..].iter().enumerate() {
        let log = executor.log();
        let finished = log.lines().filter(|l| l.contains("Finished task")).count();
        assert!(finished > 0, "executor {i} ran no task: {log}");
        println!("executor {i} finished {finished} tasks");
    }
    let read = files_read(&cluster[1..]);
    for (table, files) in &read {
        let times: Vec<usize> = files.values().copied().collect();
        assert!(
            times.iter().all(|&t| t == times[0]),
            "each file of {table} read as often as the table was scanned: {files:?}"
        );
    }
    let events = &read["plain_p.events"];
    assert_eq!(
        events.len(),
        14,
        "every file of plain_p.events was read: {events:?}"
    );
    // No process of the cluster logged a row's value or the root key (raw,
    // hex or base64), though they planned, read and decrypted every table.
    let root_keys = std::fs::read_dir(sandbox.config().join("root-keys")).expect("root keys");
    let root_key = std::fs::read(
        root_keys
            .filter_map(Result::ok)
            .next()
            .expect("a root key")
            .path(),
    )
    .expect("reads the root key");
    assert_eq!(root_key.len(), 32);
    let hex: String = root_key.iter().map(|b| format!("{b:02x}")).collect();
    let base64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&root_key)
    };
    // The plans submitted (every query above, tapped on the wire) name the
    // tables' files and carry no row's value and no key.
    let wire = tap.bytes();
    println!(
        "{} bytes between the coordinator and the scheduler",
        wire.len()
    );
    let holds = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
    assert!(holds(b"events"), "the tap saw the plans");
    assert!(!holds(MARKER.as_bytes()), "a plan holds a row's value");
    assert!(!holds(&root_key), "a plan holds the root key");
    assert!(!holds(hex.as_bytes()), "a plan holds the root key");
    assert!(!holds(base64.as_bytes()), "a plan holds the root key");
    for process in &cluster {
        let log = std::fs::read(&process.log).expect("reads the log");
        let text = String::from_utf8_lossy(&log);
        assert!(!text.contains(MARKER), "a log holds a row's value");
        assert!(
            !text.to_lowercase().contains(&hex),
            "a log holds the root key"
        );
        assert!(!text.contains(&base64), "a log holds the root key");
        assert!(
            !log.windows(32).any(|w| w == root_key.as_slice()),
            "a log holds the root key"
        );
    }
    // Nothing of a finished job stays in the executors' work directories
    // once the scheduler has cleaned up (a few seconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<PathBuf> = (0..2)
            .flat_map(|i| files_under(&sandbox.dir.path().join(format!("work{i}"))))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "job files left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.clear();
}

/// Forwards TCP connections to a port and keeps every byte that passes,
/// both ways: what a coordinator and the scheduler say to each other.
struct WireTap {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl WireTap {
    fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("an address").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().filter_map(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clones"),
                        server.try_clone().expect("clones"),
                    ),
                    (server, client),
                ] {
                    let kept = std::sync::Arc::clone(&kept);
                    std::thread::spawn(move || {
                        use std::io::Write;
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            kept.lock().expect("lock").extend_from_slice(&buf[..n]);
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Self { port, seen }
    }

    fn bytes(&self) -> Vec<u8> {
        self.seen.lock().expect("lock").clone()
    }
}

/// The first bytes of a sealed shuffle file (`crates/cluster/src/shuffle`);
/// a plaintext Arrow IPC stream starts with `0xFFFFFFFF`.
const SEALED_SHUFFLE_MAGIC: &[u8] = b"SHSHUF1\n";

/// Reads every file in the executors' work directories while queries run
/// (the scheduler removes a job's files seconds after it ends): what it saw
/// is in [`WorkDirWatch::stop`]'s answer.
struct WorkDirWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<WorkDirsSeen>,
}

#[derive(Debug, Default)]
struct WorkDirsSeen {
    /// Shuffle files seen with at least their magic's length.
    files: std::collections::BTreeSet<PathBuf>,
    /// Files that did not start with the sealed magic.
    unsealed: Vec<PathBuf>,
    /// Files holding an inserted value.
    with_marker: Vec<PathBuf>,
}

impl WorkDirWatch {
    fn start(dirs: Vec<PathBuf>) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut seen = WorkDirsSeen::default();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                for path in dirs.iter().flat_map(|d| files_under(d)) {
                    let Ok(bytes) = std::fs::read(&path) else {
                        continue; // removed meanwhile
                    };
                    if bytes.len() < SEALED_SHUFFLE_MAGIC.len() {
                        continue; // being written
                    }
                    if !bytes.starts_with(SEALED_SHUFFLE_MAGIC) {
                        seen.unsealed.push(path.clone());
                    }
                    if bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()) {
                        seen.with_marker.push(path.clone());
                    }
                    seen.files.insert(path);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            seen
        });
        Self { stop, thread }
    }

    fn stop(self) -> WorkDirsSeen {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the watch ends")
    }
}

/// Every file (not directory) under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn served_sessions_run_their_queries_on_the_cluster() {
    // The scheduler's address is known before the server starts; the
    // executors open the server's data directory once it exists.
    let logs = tempfile::tempdir().expect("tempdir");
    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let served = serve::Served::start_with(&["--cluster", &url]);
    let command = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealhouse"));
        cmd.env("SEALHOUSE_DATA_DIR", served.data_dir())
            .env("SEALHOUSE_CONFIG_DIR", served.config_dir())
            .env("HOME", served.data_dir())
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE");
        cmd
    };
    let cluster = start_cluster(logs.path(), scheduler_port, 1, None, &[], command);

    let root = served.account("1892732288741234");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT sales; CREATE TABLE sales.t (id BIGINT, name STRING)")
            .await
            .expect("create");
        for i in 0..9_i64 {
            c.execute(
                "INSERT INTO sales.t VALUES ($1, $2)",
                &[&i, &format!("n{i}")],
            )
            .await
            .expect("insert");
        }
        // Extended protocol, a parameter, on the cluster.
        let rows = c
            .query(
                "SELECT id, name FROM sales.t WHERE id >= $1 ORDER BY id",
                &[&4_i64],
            )
            .await
            .expect("select");
        let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let want: Vec<(i64, String)> = (4..9).map(|i| (i, format!("n{i}"))).collect();
        assert_eq!(got, want);
        // A write whose SELECT runs on the cluster.
        let n = c
            .execute(
                "INSERT INTO sales.t SELECT id + 100, upper(name) FROM sales.t",
                &[],
            )
            .await
            .expect("insert select");
        assert_eq!(n, 9);
        let rows = c
            .query("SELECT count(*), max(name) FROM sales.t", &[])
            .await
            .expect("count");
        assert_eq!(rows[0].get::<_, i64>(0), 18);
        assert_eq!(rows[0].get::<_, String>(1), "n8");
        // The PostgreSQL catalog reads no stored table: it is answered here.
        let rows = c
            .query(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'sales'",
                &[],
            )
            .await
            .expect("pg_tables");
        assert_eq!(rows[0].get::<_, i64>(0), 1);
    });
    let log = cluster[1].log();
    let scans = log
        .lines()
        .filter(|l| l.contains("reading a scan partition"))
        .count();
    assert!(
        scans >= 2,
        "the executor read sales.t for the server's statements: {log}"
    );
}

#[test]
fn keyset_functions_do_not_go_to_a_cluster_and_bad_addresses_are_refused() {
    let sandbox = Sandbox::new();
    ok(
        &sandbox,
        "default",
        "CREATE TABLE t (id BIGINT); INSERT INTO t VALUES (1)",
    );
    // Over a table, a keyset function would go to the cluster: refused
    // before anything is sent (nothing listens on port 1).
    let err = sql(
        &sandbox,
        Some("http://127.0.0.1:1"),
        "default",
        "SELECT id, KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256')) FROM t",
    )
    .expect_err("refused");
    assert!(err.contains("does not run on a cluster yet"), "{err}");
    assert!(err.contains("without --cluster"), "{err}");
    // Reading no table, it runs here: the cluster is not asked.
    let out = sql(
        &sandbox,
        Some("http://127.0.0.1:1"),
        "default",
        "SELECT length(KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256'))) > 10",
    )
    .expect("runs here");
    assert!(out.contains("true"), "{out}");
    // A query that reads a table, with nothing listening there: the error
    // says which scheduler and what to do.
    let err = sql(
        &sandbox,
        Some("http://127.0.0.1:1"),
        "default",
        "SELECT id FROM t",
    )
    .expect_err("no scheduler");
    assert!(
        err.contains("cannot reach the cluster's scheduler at 127.0.0.1:1"),
        "{err}"
    );
    assert!(err.contains("sealhouse cluster scheduler"), "{err}");

    let err = sql(&sandbox, Some("ftp://127.0.0.1:5"), "default", "SELECT 1").expect_err("refused");
    assert!(err.contains("http://HOST:PORT"), "{err}");
    // An https:// scheduler needs the cluster's TLS files.
    let err =
        sql(&sandbox, Some("https://127.0.0.1:5"), "default", "SELECT 1").expect_err("refused");
    assert!(err.contains("--cluster-ca"), "{err}");

    let out = sandbox
        .std_command()
        .args(["cluster", "scheduler", "--listen", "0.0.0.0:50050"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");
}

/// Runs `query` with `sealhouse sql --cluster URL` and `extra` arguments.
fn sql_with(sandbox: &Sandbox, url: &str, extra: &[String], query: &str) -> Result<String, String> {
    let out = sandbox
        .std_command()
        .args(["sql", "--format", "csv", "--project", "aes_p", "-e", query])
        .args(["--cluster", url])
        .args(extra)
        .output()
        .expect("runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("utf-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A cluster whose processes were given certificates of one CA: queries
/// from a coordinator with a certificate of that CA run over TLS and equal
/// the embedded warehouse's; a coordinator without one, with one of another
/// CA, or speaking plaintext, is refused, and no row comes back.
#[test]
fn a_cluster_with_tls_serves_only_holders_of_its_certificates() {
    let sandbox = Sandbox::new();
    create_project(&sandbox, "aes_p", "AES256");
    fill(&sandbox, "aes_p");
    let certs = sandbox.dir.path().join("certs");
    make_certs(
        &sandbox,
        &certs,
        &["scheduler", "executor0", "executor1", "coordinator"],
    );
    // The key files are this user's only, and nothing is overwritten.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join("coordinator.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let again = sandbox
            .std_command()
            .args(["cluster", "certs", "--out", certs.to_str().expect("utf-8")])
            .args(["--name", "scheduler"])
            .output()
            .expect("runs");
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    }
    let intruder = sandbox.dir.path().join("other-ca");
    make_certs(&sandbox, &intruder, &["coordinator"]);

    let scheduler_port = free_port();
    let url = format!("https://127.0.0.1:{scheduler_port}");
    let cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        2,
        Some(&certs),
        &[],
        || sandbox.std_command(),
    );
    let member = tls_args(&certs, "coordinator");
    for query in queries("aes_p").iter().take(4) {
        let embedded = ok(&sandbox, "aes_p", query);
        let clustered = sql_with(&sandbox, &url, &member, query)
            .unwrap_or_else(|e| panic!("{query} on the TLS cluster: {e}"));
        assert_eq!(clustered, embedded, "{query}");
    }
    for (i, executor) in cluster[1..].iter().enumerate() {
        let log = executor.log();
        assert!(
            log.lines().any(|l| l.contains("Finished task")),
            "executor {i} ran no task over TLS: {log}"
        );
    }

    // (A query that reads the table: COUNT(*) alone is answered from row
    // counts, without the cluster.)
    let query = "SELECT sum(amount) FROM events";
    // A certificate of another CA: the handshake fails.
    let err = sql_with(&sandbox, &url, &tls_args(&intruder, "coordinator"), query)
        .expect_err("another CA's certificate is refused");
    assert!(err.contains("did not issue"), "{err}");
    // A process that trusts the cluster's CA but holds a certificate of
    // another: the scheduler refuses it.
    let mut forged = tls_args(&intruder, "coordinator");
    forged[1] = certs.join("ca.pem").to_str().expect("utf-8").to_owned();
    let err = sql_with(&sandbox, &url, &forged, query).expect_err("refused by the scheduler");
    assert!(err.contains("refused this process's certificate"), "{err}");
    // No certificate: the https:// address needs one.
    let err = sql_with(&sandbox, &url, &[], query).expect_err("no certificate");
    assert!(err.contains("--cluster-ca"), "{err}");
    // Plaintext to the TLS scheduler.
    let err = sql_with(
        &sandbox,
        &format!("http://127.0.0.1:{scheduler_port}"),
        &[],
        query,
    )
    .expect_err("plaintext is refused");
    assert!(err.contains("if it runs with TLS"), "{err}");
    // The files of a member, with an http:// address: refused before
    // connecting.
    let err = sql_with(
        &sandbox,
        &format!("http://127.0.0.1:{scheduler_port}"),
        &member,
        query,
    )
    .expect_err("TLS files with http://");
    assert!(err.contains("https://"), "{err}");
}

/// An executor killed while a query runs on it: the scheduler takes it for
/// lost once it stops asking for work (`--executor-timeout`), its tasks run
/// again on the other executor, and the query gives the embedded
/// warehouse's rows, or fails saying why; never other rows.
#[test]
fn an_executor_killed_mid_query_costs_time_not_rows() {
    let sandbox = Sandbox::new();
    fill(&sandbox, "default");
    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let mut cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        2,
        None,
        &["--executor-timeout", "6"],
        || sandbox.std_command(),
    );
    let query = "SELECT a.region, count(*), sum(b.amount % 1000) FROM events a \
                 JOIN events b ON a.id % 3000 = b.id % 3000 GROUP BY a.region ORDER BY 1";
    let started = Instant::now();
    let embedded = ok(&sandbox, "default", query);
    println!("embedded: {:?}", started.elapsed());

    let mut cmd = sandbox.std_command();
    cmd.args(["sql", "--format", "csv", "-e", query, "--cluster", &url]);
    let started = Instant::now();
    let running = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    // Once the second executor has finished a task of the query (so
    // shuffle output the next stage needs is on it), kill it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cluster[2].log().contains("Finished task") {
        assert!(Instant::now() < deadline, "executor 1 took no task");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster[2].child.kill().expect("kills the executor");
    let _ = cluster[2].child.wait();
    println!("killed executor 1 after {:?}", started.elapsed());
    let out = running.wait_with_output().expect("the query ends");
    println!("the query ended after {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert_eq!(stdout, embedded, "rows after an executor was lost");
        println!("the query was retried: same rows as embedded");
    } else {
        println!("the query failed: {stderr}");
        assert!(stdout.lines().count() <= 1, "rows and an error: {stdout}");
        assert!(stderr.contains("executor"), "{stderr}");
    }
    // The remaining executor answers the next queries.
    let again = sql(&sandbox, Some(&url), "default", query).expect("runs on one executor");
    assert_eq!(again, embedded);
}

/// The `key: value` line `name` of a `sealhouse kms` answer.
fn kms_field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .to_owned()
}

/// A KMS refusal on an executor (the project's own key disabled, the
/// executor's key cache off) reaches the user naming the key and its
/// state, as in the embedded warehouse; enabled again, the key serves.
#[test]
fn a_key_disabled_under_a_running_cluster_is_named_in_the_error() {
    let sandbox = Sandbox::new();
    let run = |args: &[&str]| {
        let out = sandbox.std_command().args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let key = run(&["kms", "create-key"]);
    let key_id = kms_field(&key, "key_id");
    run(&["project", "create", "byok", "--key", &key_id]);
    fill(&sandbox, "byok");
    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let _cluster = start_cluster(sandbox.dir.path(), scheduler_port, 1, None, &[], || {
        let mut cmd = sandbox.std_command();
        cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0");
        cmd
    });
    let query = "SELECT region, sum(amount) FROM events GROUP BY region ORDER BY 1";
    let embedded = ok(&sandbox, "byok", query);
    assert_eq!(
        sql(&sandbox, Some(&url), "byok", query),
        Ok(embedded.clone())
    );

    run(&["kms", "disable-key", "--key-id", &key_id]);
    let err = sql(&sandbox, Some(&url), "byok", query).expect_err("the key is disabled");
    assert!(err.contains(&key_id), "{err}");
    assert!(err.contains("is Disabled"), "{err}");
    assert!(err.contains("enable it with EnableKey"), "{err}");
    // The executor's reason, not Ballista's Debug text of it.
    assert!(!err.contains("DataFusionError("), "{err}");

    run(&["kms", "enable-key", "--key-id", &key_id]);
    assert_eq!(sql(&sandbox, Some(&url), "byok", query), Ok(embedded));
}

/// Tables in an S3 bucket (a real S3 server on loopback): executors read
/// them from the bucket the data directory names, with every result equal
/// to the embedded warehouse's, and no object holds an inserted value.
#[test]
fn a_cluster_reads_tables_in_an_s3_bucket() {
    let s3_root = tempfile::tempdir().expect("tempdir");
    let server = sealhouse_test_s3::TestS3::start(s3_root.path(), 0, &["warehouse"])
        .expect("the S3 server starts");
    let mut env = server.client_env();
    env.push(("SEALHOUSE_STORAGE_URL", "s3://warehouse/cluster".to_owned()));
    let sandbox = Sandbox::new().with_env(env);
    for (name, algorithm) in [("aes_p", "AES256"), ("ctr_p", "AESCTR")] {
        create_project(&sandbox, name, algorithm);
        fill(&sandbox, name);
    }
    let mut objects = 0;
    let mut stack = vec![s3_root.path().join("warehouse")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("reads")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("reads");
                assert!(
                    !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
                    "{path:?} holds an inserted value"
                );
                objects += 1;
            }
        }
    }
    assert!(
        objects >= 28,
        "the tables' files are in the bucket: {objects}"
    );
    assert!(
        !sandbox.data().join("tables").exists()
            || files_under(&sandbox.data().join("tables")).is_empty(),
        "no table file on the local disk"
    );

    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let cluster = start_cluster(sandbox.dir.path(), scheduler_port, 2, None, &[], || {
        sandbox.std_command()
    });
    for (name, other) in [("aes_p", "ctr_p"), ("ctr_p", "aes_p")] {
        for query in queries(other) {
            let embedded = ok(&sandbox, name, &query);
            let clustered = sql(&sandbox, Some(&url), name, &query)
                .unwrap_or_else(|e| panic!("{name}: {query} on the cluster: {e}"));
            assert_eq!(clustered, embedded, "{name}: {query}");
        }
    }
    let read = files_read(&cluster[1..]);
    assert_eq!(read["aes_p.events"].len(), 14, "{read:?}");
}
