//! Load on `sealhouse serve` over loopback: N PostgreSQL-protocol clients
//! (tokio-postgres, extended protocol) mixing encrypting INSERTs into an
//! AES256-encrypted project with reads that verify every row. Prints the
//! throughput of 16 clients next to one client's, measured in the same run
//! on the same server, so the figure reads as scaling, not as an absolute
//! that depends on the machine's disk.
//!
//!   cargo bench -p sealhouse --bench pg_load
//!   SEALHOUSE_LOAD_SECONDS=30 cargo bench -p sealhouse --bench pg_load

#[path = "../tests/serve/mod.rs"]
mod serve;

use std::time::Duration;

fn main() {
    let seconds: u64 = std::env::var("SEALHOUSE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // `cargo test --benches` runs this once as a smoke test.
    let seconds = if std::env::args().any(|a| a == "--bench") {
        seconds
    } else {
        1
    };
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
    for (round, clients) in [1usize, 16].into_iter().enumerate() {
        let project = format!("load{round}");
        let report = runtime.block_on(async {
            let keyset = serve::load::prepare(&served, &root, &project).await;
            serve::load::run(
                &served,
                &root,
                &project,
                &keyset,
                clients,
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
}
