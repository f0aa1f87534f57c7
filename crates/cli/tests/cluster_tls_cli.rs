//! A cluster whose processes hold certificates of one CA (`sealhouse
//! cluster certs`, `--cluster-ca/--cluster-cert/--cluster-key`), its
//! executors reaching the KMS over https: queries over TLS equal the
//! embedded warehouse's, and a process without such a certificate, or
//! speaking plaintext, is refused.

mod cluster;
mod sandbox;

use cluster::{
    ExecutorsAs, create_project, fill, free_port, make_certs, ok, queries, start_cluster,
    start_kms_with, tls_args,
};
use sandbox::Sandbox;

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
        &["scheduler", "executor0", "executor1", "coordinator", "kms"],
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
    // Executors as their own principals, reaching the KMS over https (its
    // certificate one of the cluster CA's, for the test).
    let (_kms, kms_url) = start_kms_with(
        sandbox.dir.path(),
        &[
            "--tls-cert".to_owned(),
            certs.join("kms.pem").to_str().expect("utf-8").to_owned(),
            "--tls-key".to_owned(),
            certs.join("kms.key").to_str().expect("utf-8").to_owned(),
        ],
        || sandbox.std_command(),
    );
    assert!(kms_url.starts_with("https://"), "{kms_url}");
    let ca = certs.join("ca.pem");
    let cluster = start_cluster(
        sandbox.dir.path(),
        scheduler_port,
        2,
        ExecutorsAs::OwnPrincipals {
            kms: &kms_url,
            kms_ca: Some(&ca),
        },
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
