//! Failures on a cluster of separate processes: an executor killed while a
//! query runs on it, and a key disabled under a running cluster. Neither
//! gives other rows; each gives the right rows or an error saying why.

mod cluster;
mod sandbox;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cluster::{Process, fill, free_port, ok, run, sql, start_principal_cluster};
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
    let (mut cluster, _kms) = start_principal_cluster(
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

/// One executor of its own principal with its key cache off (a KMS refusal
/// shows at once), and the KMS it calls; the scheduler's URL.
fn uncached_cluster(sandbox: &Sandbox) -> (String, (Vec<Process>, Process)) {
    let scheduler_port = free_port();
    let processes =
        start_principal_cluster(sandbox.dir.path(), scheduler_port, 1, None, &[], || {
            let mut cmd = sandbox.std_command();
            cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0");
            cmd
        });
    (format!("http://127.0.0.1:{scheduler_port}"), processes)
}

/// The role an account makes so that a cluster's executors read its BYOK
/// projects: it trusts the warehouse service account's principals.
const EXECUTOR_ROLE_TRUST: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::0000000000000000:root"]}}],"Version":"1"}"#;

/// Executors are principals of their own. A BYOK project's key is another
/// account's: they read it as a session of that account's executor role,
/// and without the role the scan is refused naming the key and the role.
/// A KMS refusal on an executor (the role's Decrypt taken away, the key
/// disabled; the executor's key cache off) reaches the user naming the key
/// and why, as in the embedded warehouse; granted or enabled again, the
/// key serves. Never rows read without the key.
#[test]
fn byok_projects_are_read_through_the_accounts_executor_role() {
    let sandbox = Sandbox::new();
    let key = run(&sandbox, &["kms", "create-key"]);
    let key_id = kms_field(&key, "key_id");
    run(&sandbox, &["project", "create", "byok", "--key", &key_id]);
    fill(&sandbox, "byok");
    let (url, _cluster) = uncached_cluster(&sandbox);
    let query = "SELECT region, sum(amount) FROM events GROUP BY region ORDER BY 1";
    let embedded = ok(&sandbox, "byok", query);

    // No role yet: refused, naming the key and the role to make.
    let err = sql(&sandbox, Some(&url), "byok", query).expect_err("no role");
    println!("without the role: {err}");
    assert!(err.contains(&key_id), "{err}");
    assert!(err.contains("role/sealhouseclusterexecutorrole"), "{err}");
    assert!(!err.contains("DataFusionError("), "{err}");

    run(
        &sandbox,
        &[
            "iam",
            "create-role",
            "--name",
            "SealhouseClusterExecutorRole",
            "--trust-policy",
            EXECUTOR_ROLE_TRUST,
        ],
    );
    let attach = |verb: &str| {
        run(
            &sandbox,
            &[
                "iam",
                verb,
                "--policy",
                "AliyunKMSCryptoUserAccess",
                "--system",
                "--role",
                "SealhouseClusterExecutorRole",
            ],
        )
    };
    attach("attach-policy");
    assert_eq!(
        sql(&sandbox, Some(&url), "byok", query),
        Ok(embedded.clone())
    );

    run(&sandbox, &["kms", "disable-key", "--key-id", &key_id]);
    let err = sql(&sandbox, Some(&url), "byok", query).expect_err("the key is disabled");
    assert!(err.contains(&key_id), "{err}");
    assert!(err.contains("is Disabled"), "{err}");
    assert!(err.contains("enable it with EnableKey"), "{err}");
    // The executor's reason, not Ballista's Debug text of it.
    assert!(!err.contains("DataFusionError("), "{err}");
    run(&sandbox, &["kms", "enable-key", "--key-id", &key_id]);
    assert_eq!(
        sql(&sandbox, Some(&url), "byok", query),
        Ok(embedded.clone())
    );

    // The role's Decrypt taken away: refused, naming the role session.
    attach("detach-policy");
    let err = sql(&sandbox, Some(&url), "byok", query).expect_err("no Decrypt");
    println!("the role without Decrypt: {err}");
    assert!(err.contains(&key_id), "{err}");
    assert!(err.contains("sealhouseclusterexecutorrole"), "{err}");
    assert!(err.contains("kms:Decrypt"), "{err}");
    attach("attach-policy");
    assert_eq!(sql(&sandbox, Some(&url), "byok", query), Ok(embedded));

    // Every call the executor made went through its role session of the
    // key's account, or as itself: none as an account root.
    let calls = cluster::audit_events(&sandbox.data());
    let on_key: Vec<_> = calls
        .iter()
        .filter(|(p, _, k, _)| k.ends_with(&key_id) && p.contains("sealhouseclusterexecutorrole"))
        .collect();
    assert!(!on_key.is_empty(), "{calls:?}");
}

/// An executor of its own principal: once its Decrypt is revoked
/// (`sealhouse cluster identity revoke`, key cache off) a default-key
/// project's reads fail naming the key and the missing permission; granted
/// again (a new identity file for the same name), they work.
#[test]
fn a_revoked_executor_identity_reads_nothing_encrypted() {
    let sandbox = Sandbox::new();
    run(
        &sandbox,
        &["project", "create", "dflt", "--encryption", "AES256"],
    );
    fill(&sandbox, "dflt");
    let (url, _cluster) = uncached_cluster(&sandbox);
    let query = "SELECT region, sum(amount) FROM events GROUP BY region ORDER BY 1";
    let embedded = ok(&sandbox, "dflt", query);
    assert_eq!(
        sql(&sandbox, Some(&url), "dflt", query),
        Ok(embedded.clone())
    );

    run(
        &sandbox,
        &["cluster", "identity", "revoke", "--name", "executor0"],
    );
    let err = sql(&sandbox, Some(&url), "dflt", query).expect_err("Decrypt revoked");
    println!("revoked: {err}");
    assert!(err.contains("cluster-executor-executor0"), "{err}");
    assert!(err.contains("kms:Decrypt"), "{err}");
    assert!(err.contains(":0000000000000000:key/"), "{err}");
    assert!(!err.contains("DataFusionError("), "{err}");

    let again = sandbox.dir.path().join("executor0-again.identity");
    run(
        &sandbox,
        &[
            "cluster",
            "identity",
            "create",
            "--name",
            "executor0",
            "--out",
            again.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(sql(&sandbox, Some(&url), "dflt", query), Ok(embedded));
    // An identity file is never overwritten, nor a bad name taken.
    let fresh = sandbox.dir.path().join("fresh.identity");
    for (name, file, says) in [
        ("executor0", &again, "never overwritten"),
        ("../x", &fresh, "executor name"),
    ] {
        let out = sandbox
            .std_command()
            .args(["cluster", "identity", "create", "--name", name, "--out"])
            .arg(file)
            .output()
            .expect("runs");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
    assert!(!fresh.exists());
}
