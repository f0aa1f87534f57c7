//! 16 concurrent PostgreSQL-protocol clients against `sealhouse serve` for a
//! few seconds: encrypting INSERTs into an AES256 project mixed with reads
//! that check every row; no errors, nothing lost or duplicated. The longer
//! measured run is `cargo bench -p sealhouse --bench pg_load`.

mod serve;

use std::time::Duration;

#[test]
fn sixteen_clients_insert_and_read_without_loss_or_errors() {
    let served = serve::Served::start();
    let root = served.account("4444");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        let keyset = serve::load::prepare(&served, &root, "load").await;
        serve::load::run(
            &served,
            &root,
            "load",
            &keyset,
            (16, serve::load::Mix::Mixed, serve::load::Plans::Kept),
            Duration::from_secs(4),
        )
        .await
    });
    assert!(report.inserts >= 16, "every client inserted: {report:?}");
    eprintln!(
        "16 clients, {:.1} s: {} inserts, {} reads, {} decrypt checks ({:.0} statements/s)",
        report.elapsed.as_secs_f64(),
        report.inserts,
        report.reads,
        report.decrypts,
        report.statements_per_second()
    );
}
