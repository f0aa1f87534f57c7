//! Failures on a cluster of separate processes: an executor killed while a
//! query runs on it, and a key disabled under a running cluster. Neither
//! gives other rows; each gives the right rows or an error saying why.

mod cluster;
mod sandbox;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cluster::{ExecutorsAs, fill, free_port, ok, sql, start_cluster, start_kms};
use sandbox::Sandbox;

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
    let (_kms, kms_url) = start_kms(sandbox.dir.path(), || sandbox.std_command());
    let mut cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        2,
        ExecutorsAs::OwnPrincipals { kms: &kms_url },
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
/// (Executors reading as the warehouse: a BYOK key belongs to the
/// customer's account, which an executor's own principal cannot use.)
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
    let _cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        1,
        ExecutorsAs::Warehouse,
        None,
        &[],
        || {
            let mut cmd = sandbox.std_command();
            cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0");
            cmd
        },
    );
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

/// An executor reading as its own principal uses only what that principal
/// may: a BYOK project's key (another account's) is refused naming the key
/// and why, and once its Decrypt is revoked (`sealhouse cluster identity
/// revoke`, key cache off) a default-key project's reads fail naming the
/// key and the missing permission; granted again, they work. Never rows
/// read without the key.
#[test]
fn an_executor_reads_only_what_its_own_principal_may_decrypt() {
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
    let byok_key = kms_field(&key, "key_id");
    run(&["project", "create", "byok", "--key", &byok_key]);
    fill(&sandbox, "byok");
    run(&["project", "create", "dflt", "--encryption", "AES256"]);
    fill(&sandbox, "dflt");
    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    let (_kms, kms_url) = start_kms(sandbox.dir.path(), || sandbox.std_command());
    let _cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        1,
        ExecutorsAs::OwnPrincipals { kms: &kms_url },
        None,
        &[],
        || {
            let mut cmd = sandbox.std_command();
            cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0");
            cmd
        },
    );
    let query = "SELECT region, sum(amount) FROM events GROUP BY region ORDER BY 1";
    let embedded = ok(&sandbox, "dflt", query);
    assert_eq!(
        sql(&sandbox, Some(&url), "dflt", query),
        Ok(embedded.clone())
    );

    let err = sql(&sandbox, Some(&url), "byok", query).expect_err("another account's key");
    println!("BYOK on an own-principal executor: {err}");
    assert!(err.contains(&byok_key), "{err}");
    assert!(
        err.contains("its own principal of account 0000000000000000"),
        "{err}"
    );
    assert!(err.contains("--data-dir"), "{err}");
    assert!(!err.contains("DataFusionError("), "{err}");

    run(&["cluster", "identity", "revoke", "--name", "executor0"]);
    let err = sql(&sandbox, Some(&url), "dflt", query).expect_err("Decrypt revoked");
    println!("revoked: {err}");
    assert!(err.contains("cluster-executor-executor0"), "{err}");
    assert!(err.contains("kms:Decrypt"), "{err}");
    assert!(err.contains(":0000000000000000:key/"), "{err}");
    assert!(!err.contains("DataFusionError("), "{err}");

    // Granted again (a new identity file for the same executor re-attaches
    // its policy), the running executor reads again.
    let again = sandbox.dir.path().join("executor0-again.identity");
    run(&[
        "cluster",
        "identity",
        "create",
        "--name",
        "executor0",
        "--out",
        again.to_str().expect("utf-8"),
    ]);
    assert_eq!(sql(&sandbox, Some(&url), "dflt", query), Ok(embedded));
}
