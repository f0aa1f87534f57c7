//! A Sealhouse cluster of separate processes on loopback: a scheduler, two
//! executors that are principals of their own (their identities, the KMS
//! HTTP API), and queries submitted with `sealhouse sql --cluster` and by
//! `sealhouse serve --cluster`'s sessions (whose executor reads as the
//! warehouse). Every result equals the embedded warehouse's, over plain and
//! storage-encrypted (AES256 with the default key and BYOK, AESCTR, RC4)
//! tables of more than eight files each, for queries and for the SELECT of
//! INSERT and CREATE TABLE AS; both executors run tasks, make their KMS
//! calls as themselves, and each scan reads every file of its table exactly
//! once across them (no task reads another's files). Every shuffle file the
//! executors write is sealed, and the plans submitted hold no row's value or
//! key. (Tables in an S3 bucket: `cluster_s3_cli.rs`; TLS clusters:
//! `cluster_tls_cli.rs`; failures: `cluster_failures_cli.rs`.)

mod cluster;
mod sandbox;
mod serve;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster::{
    ExecutorsAs, MARKER, WireTap, audit_events, executor_home, files_of, files_read, files_under,
    fill, free_port, identity_file, ok, queries, sql, start_cluster, start_principal_cluster,
};
use sandbox::Sandbox;

#[test]
fn queries_on_a_cluster_of_separate_processes_equal_the_embedded_warehouse() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let run = |args: &[&str]| cluster::run(&sandbox, args);
    // A BYOK project: its key is the local account's, which lets the
    // cluster's executors in through the role they assume.
    let byok_key = run(&["kms", "create-key"])
        .lines()
        .find_map(|l| l.strip_prefix("key_id: ").map(str::to_owned))
        .expect("a key id");
    run(&[
        "iam",
        "create-role",
        "--name",
        "SealhouseClusterExecutorRole",
        "--trust-policy",
        r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::0000000000000000:root"]}}],"Version":"1"}"#,
    ]);
    run(&[
        "iam",
        "attach-policy",
        "--policy",
        "AliyunKMSCryptoUserAccess",
        "--system",
        "--role",
        "SealhouseClusterExecutorRole",
    ]);
    let projects = [
        ("plain_p", None),
        ("aes_p", Some("AES256")),
        ("byok_p", Some("BYOK")),
        ("ctr_p", Some("AESCTR")),
        ("rc4_p", Some("RC4")),
    ];
    for (name, encryption) in projects {
        let mut args = vec!["project", "create", name];
        match encryption {
            Some("BYOK") => args.extend(["--key", byok_key.as_str()]),
            Some(algorithm) => args.extend(["--encryption", algorithm]),
            None => {}
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
    // The executors are principals of their own, reaching the KMS over its
    // HTTP API; they hold no key of the warehouse.
    let (mut cluster, _kms) =
        start_principal_cluster(sandbox.dir.path(), scheduler_port, 2, None, &[], || {
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
            if query.contains("arrow_typeof") {
                assert!(embedded.contains("Utf8View"), "{name}: {embedded}");
            }
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
    // Each executor made its KMS calls as its own principal (the audit
    // log), Decrypt only; a repeated query within the key cache's TTL makes
    // none.
    let executor_calls = || -> Vec<(String, String, String, String)> {
        audit_events(&data)
            .into_iter()
            .filter(|(principal, ..)| principal.contains(":user/cluster-executor-"))
            .collect()
    };
    let calls = executor_calls();
    for i in 0..2 {
        let principal = format!("acs:ram::0000000000000000:user/cluster-executor-executor{i}");
        let own: Vec<_> = calls.iter().filter(|c| c.0 == principal).collect();
        assert!(!own.is_empty(), "executor {i} made no KMS call: {calls:?}");
        println!("executor {i}: {} KMS calls as {principal}", own.len());
    }
    assert!(
        calls
            .iter()
            .all(|(_, action, key, outcome)| action == "Decrypt"
                && outcome == "ok"
                && key.contains(":0000000000000000:key/")),
        "executors only Decrypt with the service account's keys: {calls:?}"
    );
    // The BYOK key: as sessions of the account's executor role, Decrypt
    // only.
    let byok: Vec<_> = audit_events(&data)
        .into_iter()
        .filter(|(_, _, key, _)| key.ends_with(&byok_key))
        .collect();
    let sessions: Vec<_> = byok
        .iter()
        .filter(|(p, ..)| {
            p.contains(":assumed-role/sealhouseclusterexecutorrole/cluster-executor-")
        })
        .collect();
    assert!(!sessions.is_empty(), "{byok:?}");
    assert!(
        sessions
            .iter()
            .all(|(_, action, _, outcome)| action == "Decrypt" && outcome == "ok"),
        "{sessions:?}"
    );
    for project in ["aes_p", "byok_p", "ctr_p"] {
        let query = "SELECT count(*), sum(amount) FROM events WHERE id % 2 = 0";
        sql(&sandbox, Some(&url), project, query).expect("runs");
        let before = executor_calls().len();
        sql(&sandbox, Some(&url), project, query).expect("runs");
        assert_eq!(
            executor_calls().len(),
            before,
            "{project}: a repeated query made KMS calls on the executors"
        );
    }
    // Their homes, data and config directories stayed empty: no root key,
    // no catalog was opened or made there.
    for i in 0..2 {
        let home = executor_home(sandbox.dir.path(), i);
        assert_eq!(files_under(&home), Vec::<PathBuf>::new(), "executor {i}");
    }
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
    let secrets: Vec<String> = (0..2)
        .map(|i| {
            let identity: serde_json::Value = serde_json::from_slice(
                &std::fs::read(identity_file(sandbox.dir.path(), i)).expect("identity"),
            )
            .expect("json");
            identity["access_key_secret"]
                .as_str()
                .expect("secret")
                .to_owned()
        })
        .collect();
    for secret in &secrets {
        assert!(
            !holds(secret.as_bytes()),
            "a plan holds an executor's secret"
        );
    }
    for process in &cluster {
        let log = std::fs::read(&process.log).expect("reads the log");
        let text = String::from_utf8_lossy(&log);
        assert!(!text.contains(MARKER), "a log holds a row's value");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a log holds an executor's secret"
            );
        }
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
    let cluster = start_cluster(
        logs.path(),
        scheduler_port,
        1,
        ExecutorsAs::Warehouse,
        None,
        &[],
        command,
    );

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
        // A keyset constant travels sealed: the first query makes the
        // sealing data key (GenerateDataKey) and the executor opens it
        // (Decrypt); the same query again, within the KMS cache's TTL, makes
        // no KMS call at all.
        let keyset: String = c
            .query("SELECT HEX(NEW_KEYSET('AES-GCM-256'))", &[])
            .await
            .expect("a keyset")[0]
            .get(0);
        let round_trip = format!(
            "SELECT count(*) FROM sales.t WHERE CAST(ENHANCED_SYM_DECRYPT(UNHEX('{keyset}'), \
             ENHANCED_SYM_ENCRYPT(UNHEX('{keyset}'), name)) AS STRING) = name"
        );
        let mut calls = vec![kms_calls(served.data_dir())];
        for _ in 0..2 {
            let rows = c.query(&round_trip, &[]).await.expect("round trip");
            assert_eq!(rows[0].get::<_, i64>(0), 18);
            calls.push(kms_calls(served.data_dir()));
        }
        // The first opens the seal on the executor: one Decrypt (the data
        // key it is sealed under was made when the session's first scan
        // sealed its plain files' tag keys).
        assert!(calls[1] - calls[0] >= 1, "Decrypt: {calls:?}");
        assert_eq!(
            calls[2], calls[1],
            "the repeated query called the KMS: {calls:?}"
        );
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
fn queries_reading_no_table_stay_here_and_bad_addresses_are_refused() {
    let sandbox = Sandbox::new();
    ok(
        &sandbox,
        "default",
        "CREATE TABLE t (id BIGINT); INSERT INTO t VALUES (1)",
    );
    // (Keyset functions on a cluster, and what is refused before anything
    // is sent: `cluster_keysets_cli.rs`.)
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

/// How many calls the KMS of data directory `data` has in its audit log.
fn kms_calls(data: &std::path::Path) -> i64 {
    rusqlite::Connection::open(data.join("kms").join("audit.db"))
        .expect("the audit log")
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("counts")
}
