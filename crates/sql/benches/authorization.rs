//! What authorisation costs: the same large SELECT in a session without an
//! identity (nothing checked) and as a RAM user whose access comes from a
//! project grant (RAM evaluation, then the project's roles and grants), in
//! the same run; and the fixed cost per statement, from a query that reads
//! no rows. Authorisation happens once per statement, so the large query's
//! times should not differ beyond noise.
//!
//! Run: `cargo bench -p sealhouse-sql --bench authorization` (10 million rows;
//! `SEALHOUSE_BENCH_ROWS` overrides). Under `cargo test` it runs on 20,000
//! rows as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sealhouse_iam::{AccountId, Iam, NoSealing, Principal, SqliteStore, SystemClock};
use sealhouse_kms::{KmsService, RootKey};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

fn run(rt: &tokio::runtime::Runtime, w: &mut SqlSession, sql: &str) {
    match rt.block_on(w.execute(sql)) {
        Ok(StatementOutput::Rows(r)) => assert!(r.num_rows() <= 1),
        Ok(_) => {}
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// The median of `runs` timings of `sql`.
fn median(rt: &tokio::runtime::Runtime, w: &mut SqlSession, sql: &str, runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            run(rt, w, sql);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::var("SEALHOUSE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 10_000_000 } else { 20_000 });
    let runs = if benchmarking { 9 } else { 3 };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let a = AccountId::new("1892732288741234").expect("uid");
    let iam = Arc::new(Iam::new(
        SqliteStore::open_in_memory().expect("iam"),
        NoSealing,
    ));
    iam.create_account(&a).expect("account");
    iam.create_user(&a, "analyst").expect("user");
    let kms = KmsService::open(
        &dir.path().join("kms"),
        Arc::clone(&iam),
        RootKey::generate().expect("root key"),
        SystemClock,
    )
    .expect("kms");
    let services = Arc::new(IdentityServices::new(
        iam,
        Arc::new(kms),
        Duration::from_secs(60),
        a.clone(),
    ));
    let catalog = Catalog::open(
        &dir.path().join("warehouse"),
        sealhouse_storage::CatalogKey::random().expect("catalog key"),
    )
    .expect("catalog");

    // The owner fills the table and grants the analyst SELECT on it.
    let mut owner = SqlSession::with_identity(
        Arc::clone(&catalog),
        Principal::Root { account: a.clone() },
        Arc::clone(&services),
    );
    run(&rt, &mut owner, "CREATE TABLE t (tel STRING)");
    run(
        &rt,
        &mut owner,
        &format!("INSERT INTO t SELECT CAST(13900000000 + value AS STRING) FROM range({rows})"),
    );
    run(&rt, &mut owner, "ADD USER analyst");
    run(&rt, &mut owner, "GRANT SELECT ON TABLE t TO USER analyst");

    let mut unchecked = SqlSession::new(Arc::clone(&catalog));
    let mut analyst = SqlSession::with_identity(
        catalog,
        Principal::User {
            account: a,
            name: "analyst".into(),
        },
        services,
    );
    let big = "SELECT max(tel) FROM t";
    let none = "SELECT max(tel) FROM t WHERE false";
    // Warm both sessions (file cache, plans) before timing.
    run(&rt, &mut unchecked, big);
    run(&rt, &mut analyst, big);
    let mut table = Vec::new();
    for (name, sql) in [
        ("large SELECT (all rows)", big),
        ("SELECT reading no rows", none),
    ] {
        // Interleaved, so drift on a noisy machine hits both alike.
        let u = median(&rt, &mut unchecked, sql, runs);
        let g = median(&rt, &mut analyst, sql, runs);
        table.push((name, u, g));
    }
    println!("\n{rows} rows, median of {runs} runs each\n");
    println!(
        "| query | no identity (nothing checked) | RAM user with a table grant | difference |"
    );
    println!("|---|---:|---:|---:|");
    for (name, u, g) in table {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:+.2} ms ({:+.1}%) |",
            u.as_secs_f64() * 1e3,
            g.as_secs_f64() * 1e3,
            (g.as_secs_f64() - u.as_secs_f64()) * 1e3,
            100.0 * (g.as_secs_f64() / u.as_secs_f64() - 1.0)
        );
    }
}
