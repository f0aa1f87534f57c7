//! Load on `sealhouse serve` over loopback: N PostgreSQL-protocol clients
//! (tokio-postgres, extended protocol) mixing encrypting INSERTs into an
//! AES256-encrypted project with reads that verify every row, then the same
//! INSERTs alone (group commit). Prints the throughput of 16 clients next
//! to one client's, measured in the same run on the same server, so the
//! figure reads as scaling, not as an absolute that depends on the
//! machine's disk.
//!
//! Then a large result streamed to one client: its rows per second next to
//! the same query counted inside the server (the reference: the rows made
//! without being sent), and the server's peak memory before and after.
//!
//!   cargo bench --workspace --bench pg_load
//!   SEALHOUSE_LOAD_SECONDS=30 SEALHOUSE_STREAM_ROWS=10000000 cargo bench --workspace --bench pg_load
//!
//! `SEALHOUSE_LOAD_PARTS` (comma-separated: mixed, inserts, small-files,
//! stream) runs only those parts, e.g. to profile one.

#[path = "../tests/serve/mod.rs"]
mod serve;

use std::time::Duration;

fn main() {
    let seconds: u64 = std::env::var("SEALHOUSE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // `cargo test --benches` runs this once as a smoke test.
    let bench = std::env::args().any(|a| a == "--bench");
    let seconds = if bench { seconds } else { 1 };
    let stream_rows: u64 = if bench {
        std::env::var("SEALHOUSE_STREAM_ROWS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10_000_000)
    } else {
        100_000
    };
    let parts = std::env::var("SEALHOUSE_LOAD_PARTS").unwrap_or_default();
    let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == name);
    let served = serve::Served::start();
    let root = served.account("5555");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "pg_load: mixed encrypting INSERT / verified SELECT, {seconds} s per run, AES256 project"
    );
    println!(
        "{:>8} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "clients", "inserts", "reads", "decrypts", "inserts/s", "statements/s"
    );
    let mut one = None;
    let mixed = if part("mixed") {
        vec![1usize, 16]
    } else {
        Vec::new()
    };
    for (round, clients) in mixed.into_iter().enumerate() {
        let project = format!("load{round}");
        let report = runtime.block_on(async {
            let keyset = serve::load::prepare(&served, &root, &project).await;
            serve::load::run(
                &served,
                &root,
                &project,
                &keyset,
                (clients, serve::load::Mix::Mixed, serve::load::Plans::Kept),
                Duration::from_secs(seconds),
            )
            .await
        });
        println!(
            "{:>8} {:>9} {:>9} {:>9} {:>12.1} {:>12.1}",
            clients,
            report.inserts,
            report.reads,
            report.decrypts,
            report.inserts_per_second(),
            report.statements_per_second()
        );
        if clients == 1 {
            one = Some(report);
        } else if let Some(one) = one {
            println!(
                "16 clients / 1 client: {:.2}x statements/s (no errors, no lost or duplicated rows)",
                report.statements_per_second() / one.statements_per_second()
            );
        }
    }
    if part("inserts") {
        runtime.block_on(inserts(&served, &root, seconds));
    }
    if part("small-files") {
        runtime.block_on(small_files(
            &served,
            &root,
            if bench { 10_000 } else { 200 },
        ));
    }
    drop(served);
    if part("stream") {
        // A server of its own, so that its peak memory is the stream's.
        let served = serve::Served::start();
        let root = served.account("5556");
        runtime.block_on(stream(&served, &root, stream_rows));
    }
}

/// Single-row encrypting INSERTs only (ENHANCED_SYM_ENCRYPT into an AES256
/// project): one client, then 16 clients with each statement planned at
/// every execution (`plan_cache_mode = force_custom_plan`, the reference)
/// and with kept plans (the default), alternating, twice each, every run
/// into a new table. Every row is checked afterwards (none lost, none
/// twice, the last of each client decrypts).
async fn inserts(served: &serve::Served, root: &serve::Key, seconds: u64) {
    use serve::load::Plans;
    let run = async |name: String, clients: usize, plans: Plans| {
        let keyset = serve::load::prepare(served, root, &name).await;
        let report = serve::load::run(
            served,
            root,
            &name,
            &keyset,
            (clients, serve::load::Mix::InsertsOnly, plans),
            Duration::from_secs(seconds),
        )
        .await;
        let rate = report.inserts_per_second();
        println!("pg_load inserts: {clients:>2} clients, {plans:?}: {rate:.0}/s");
        rate
    };
    let one = run("inserts_one".to_owned(), 1, Plans::Kept).await;
    let (mut every, mut kept) = (0.0_f64, 0.0_f64);
    for round in 0..2 {
        every = every.max(run(format!("inserts_every{round}"), 16, Plans::EveryExecution).await);
        kept = kept.max(run(format!("inserts_kept{round}"), 16, Plans::Kept).await);
    }
    println!(
        "pg_load inserts: single-row encrypting INSERTs for {seconds} s, best of 2: 16 clients \
         {kept:.0}/s with kept plans, {every:.0}/s planned at every execution (reference): \
         {:.2}x; 1 client {one:.0}/s (every row checked: none lost or twice)",
        kept / every
    );
}

/// `inserts` single-row INSERTs from 16 clients into an AES256 table (the
/// automatic merge policy only), then the same aggregate over it and over
/// the same rows written by one INSERT (the reference), best of 20 each
/// (a scan takes about a millisecond: best of three was mostly noise);
/// and over it again once the server's quiet merge has run.
async fn small_files(served: &serve::Served, root: &serve::Key, inserts: u64) {
    let c = served.connect(root).await;
    c.batch_execute(
        "CREATE PROJECT small ENCRYPTION ALGORITHM AES256; \
         CREATE TABLE small.many (i BIGINT, v STRING)",
    )
    .await
    .expect("setup");
    let clients = 16_u64;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let c = served.connect(root).await;
        tasks.push(tokio::spawn(async move {
            let insert = c
                .prepare("INSERT INTO small.many VALUES ($1, $2)")
                .await
                .expect("prepare");
            for i in (client..inserts).step_by(clients as usize) {
                c.execute(&insert, &[&(i as i64), &format!("value {i}")])
                    .await
                    .expect("insert");
            }
        }));
    }
    let started = std::time::Instant::now();
    for task in tasks {
        task.await.expect("client");
    }
    let took = started.elapsed();
    c.batch_execute("CREATE TABLE small.one AS SELECT * FROM small.many")
        .await
        .expect("one file");
    let query = |t: &str| format!("SELECT count(*), sum(i), max(v) FROM small.{t}");
    let best = |t: &'static str| {
        let c = &c;
        let sql = query(t);
        async move {
            let mut best = std::time::Duration::MAX;
            let mut answer = String::new();
            for _ in 0..20 {
                let started = std::time::Instant::now();
                let rows = c.simple_query(&sql).await.expect("scan");
                best = best.min(started.elapsed());
                if let Some(tokio_postgres::SimpleQueryMessage::Row(r)) = rows.get(1) {
                    answer = format!("{:?} {:?}", r.get(0), r.get(1));
                }
            }
            (best, answer)
        }
    };
    let (many, many_answer) = best("many").await;
    let (one, one_answer) = best("one").await;
    assert_eq!(many_answer, one_answer, "the same rows");
    // The server merges a table's small files once it has had no INSERT
    // for --merge-quiet-ms (500 ms by default): scanned again after that.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (quiet, quiet_answer) = best("many").await;
    assert_eq!(
        quiet_answer, one_answer,
        "the same rows after the quiet merge"
    );
    println!(
        "pg_load small files: {inserts} single-row INSERTs from {clients} clients in {:.2} s \
         ({:.0}/s); scan of them {:.1} ms, of the same rows in one INSERT (reference) {:.1} ms: \
         {:.2}x; 1.5 s later (the quiet merge) {:.1} ms: {:.2}x",
        took.as_secs_f64(),
        inserts as f64 / took.as_secs_f64(),
        many.as_secs_f64() * 1000.0,
        one.as_secs_f64() * 1000.0,
        many.as_secs_f64() / one.as_secs_f64(),
        quiet.as_secs_f64() * 1000.0,
        quiet.as_secs_f64() / one.as_secs_f64()
    );
}

/// One client reads `rows` rows of a BIGINT and a 100-byte text (extended
/// protocol, binary results), counting them as they arrive.
async fn stream(served: &serve::Served, root: &serve::Key, rows: u64) {
    let c = served.connect(root).await;
    let query = format!("SELECT value, repeat('x', 100) AS pad FROM range({rows})");
    let started = std::time::Instant::now();
    // Summing what the rows hold makes the server produce every one.
    let counted = c
        .query_one(
            &format!("SELECT count(*), sum(length(pad)) FROM ({query})"),
            &[],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    let reference = started.elapsed();
    assert_eq!(counted as u64, rows);
    let idle = served.peak_rss_kib();
    let started = std::time::Instant::now();
    let stream = c
        .query_raw(&query, std::iter::empty::<i64>())
        .await
        .expect("query");
    futures::pin_mut!(stream);
    let (mut seen, mut bytes) = (0_u64, 0_u64);
    while let Some(row) = futures::StreamExt::next(&mut stream).await {
        let row = row.expect("row");
        bytes += row.get::<_, &str>(1).len() as u64 + 8;
        seen += 1;
    }
    let took = started.elapsed();
    assert_eq!(seen, rows, "every row once");
    let peak = served.peak_rss_kib();
    println!(
        "pg_load stream: {rows} rows ({:.0} MB of values) in {:.2} s = {:.2} M rows/s; \
         counted in the server (reference) {:.2} s = {:.2} M rows/s",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64() / 1e6,
        reference.as_secs_f64(),
        rows as f64 / reference.as_secs_f64() / 1e6,
    );
    println!(
        "pg_load stream: server peak RSS {:.0} MiB before the stream, {:.0} MiB after",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
