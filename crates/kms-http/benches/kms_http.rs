//! Decrypt and GenerateDataKey over the signed HTTP API on loopback, with
//! several concurrent clients (each its own thread and `KmsClient`), beside
//! the same server's unauthenticated `GET /health` measured in the same run
//! with the same concurrency (the ratio shows what signing, verification,
//! authorisation, the KMS work and the audit log cost over bare HTTP), and
//! the embedded call latency (`KmsHandle` directly, one thread).
//!
//! The audit log is measured with its default durability
//! (`AuditDurability::Full`: one fsync per call), then with `Normal` for
//! comparison.
//!
//! Run: `cargo bench -p sealhouse-kms-http --bench kms_http` (3 s per
//! measurement; `SEALHOUSE_BENCH_SECONDS` overrides). Under `cargo test` it
//! runs each measurement for 0.2 s as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sealhouse_iam::signing::Credentials;
use sealhouse_iam::{AccountId, Iam, NewAccessKey, Principal, SqliteStore, SystemClock};
use sealhouse_kms::api::{CreateKeyRequest, DecryptRequest, GenerateDataKeyRequest};
use sealhouse_kms::{AuditDurability, Kms, KmsConfig, KmsData, KmsService, RootKey};
use sealhouse_kms_http::KmsClient;

const ACCOUNT: &str = "1892732288741234";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Health,
    Decrypt,
    GenerateDataKey,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Health => "GET /health",
            Op::Decrypt => "Decrypt",
            Op::GenerateDataKey => "GenerateDataKey",
        }
    }
}

struct Stats {
    count: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort_unstable();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    Stats {
        count: latencies.len(),
        per_second: latencies.len() as f64 / wall.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

struct Setup {
    _dir: tempfile::TempDir,
    service: Arc<KmsService>,
    runtime: tokio::runtime::Runtime,
    endpoint: String,
    access_key: NewAccessKey,
    key_id: String,
    blob: Vec<u8>,
}

fn setup(durability: AuditDurability) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = RootKey::create_file(&dir.path().join("kms-root.key")).expect("root key");
    let store = SqliteStore::open(&dir.path().join("iam.db")).expect("iam store");
    let iam = Arc::new(Iam::new(store, root.secret_sealer()));
    let account = AccountId::new(ACCOUNT).expect("account");
    let access_key = iam.create_account(&account).expect("account");
    let config = KmsConfig {
        audit_durability: durability,
        ..KmsConfig::default()
    };
    let service = Arc::new(
        KmsService::open_with(
            &dir.path().join("kms"),
            Arc::clone(&iam),
            root,
            SystemClock,
            config,
        )
        .expect("kms"),
    );
    let handle = service.as_principal(Principal::Root { account });
    let key_id = handle
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .key_id;
    let blob = handle
        .generate_data_key(&GenerateDataKeyRequest::new(&key_id))
        .expect("data key")
        .ciphertext_blob;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let endpoint = format!("http://{addr}");
    runtime.spawn(sealhouse_kms_http::serve(
        listener,
        Arc::clone(&service),
        iam,
        sealhouse_kms_http::ServeOptions {
            hosts: Some(sealhouse_kms_http::endpoint_hosts(addr, &[])),
            tls: None,
        },
    ));
    Setup {
        _dir: dir,
        service,
        runtime,
        endpoint,
        access_key,
        key_id,
        blob,
    }
}

fn decrypt_request(blob: &[u8]) -> DecryptRequest {
    DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: Default::default(),
    }
}

/// One call of `op` through `kms` (or plain HTTP for health).
fn call(op: Op, s: &Setup, kms: &dyn Kms, agent: &ureq::Agent) {
    match op {
        Op::Health => {
            let mut r = agent
                .get(format!("{}/health", s.endpoint))
                .call()
                .expect("health");
            assert_eq!(r.body_mut().read_to_string().expect("body"), "ok");
        }
        Op::Decrypt => {
            kms.decrypt(&decrypt_request(&s.blob)).expect("decrypt");
        }
        Op::GenerateDataKey => {
            kms.generate_data_key(&GenerateDataKeyRequest::new(&s.key_id))
                .expect("generate data key");
        }
    }
}

/// `threads` callers of `op` for `seconds`, each through its own `Kms`
/// made by `make` (a `KmsClient`, or an embedded handle).
fn concurrent<K: Kms>(
    s: &Setup,
    op: Op,
    threads: usize,
    seconds: f64,
    make: impl Fn() -> K + Sync,
) -> Stats {
    let run_for = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let kms = make();
                    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                    let mut mine = Vec::new();
                    while start.elapsed() < run_for {
                        let t = Instant::now();
                        call(op, s, &kms, &agent);
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    stats(latencies, start.elapsed())
}

/// `threads` HTTP clients.
fn over_http(s: &Setup, op: Op, threads: usize, seconds: f64) -> Stats {
    concurrent(s, op, threads, seconds, || {
        KmsClient::new(&s.endpoint, Credentials::from(&s.access_key)).unwrap()
    })
}

/// `threads` embedded handles (the same service, no HTTP).
fn embedded(s: &Setup, op: Op, threads: usize, seconds: f64) -> Stats {
    concurrent(s, op, threads, seconds, || {
        s.service.as_principal(Principal::Root {
            account: AccountId::new(ACCOUNT).expect("account"),
        })
    })
}

fn row(path: &str, op: Op, threads: usize, st: &Stats, ratio: Option<f64>) {
    println!(
        "| {path} {} | {threads} | {} | {:.0} | {} | {} | {} |",
        op.name(),
        st.count,
        st.per_second,
        micros(st.p50),
        micros(st.p99),
        ratio.map_or(String::new(), |r| format!("{r:.3}"))
    );
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let seconds: f64 = std::env::var("SEALHOUSE_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 3.0 } else { 0.2 });
    let concurrency: &[usize] = if benchmarking { &[4, 16] } else { &[2] };
    println!(
        "KMS over HTTP on loopback, {seconds} s per measurement, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (durability, label) in [
        (
            AuditDurability::Full,
            "audit Full (default: fsync per call)",
        ),
        (AuditDurability::Normal, "audit Normal"),
    ] {
        let s = setup(durability);
        println!("\n## {label}");
        println!("| path | clients | calls | calls/s | p50 | p99 | vs /health |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for op in [Op::Decrypt, Op::GenerateDataKey] {
            row("embedded", op, 1, &embedded(&s, op, 1, seconds), None);
        }
        for &threads in concurrency {
            let health = over_http(&s, Op::Health, threads, seconds);
            row("HTTP", Op::Health, threads, &health, Some(1.0));
            for op in [Op::Decrypt, Op::GenerateDataKey] {
                let h = over_http(&s, op, threads, seconds);
                row(
                    "HTTP",
                    op,
                    threads,
                    &h,
                    Some(h.per_second / health.per_second),
                );
            }
            for op in [Op::Decrypt, Op::GenerateDataKey] {
                row(
                    "embedded",
                    op,
                    threads,
                    &embedded(&s, op, threads, seconds),
                    None,
                );
            }
        }
        drop(s.runtime);
    }
}
