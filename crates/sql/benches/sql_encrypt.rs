//! `ENHANCED_SYM_ENCRYPT` / `ENHANCED_SYM_DECRYPT` over a stored table of
//! 11-byte values, next to the crypto crate's own loop measured in the same
//! run: the issue's target is at least 60% of the crate's per-core throughput,
//! with peak memory under 1 GiB (the query streams).
//!
//! Per-core throughput is rows per CPU-second of this process (user + system
//! time from /proc/self/stat), so it does not depend on how many cores the
//! query spread over.
//!
//! Run: `cargo bench -p sealhouse-sql --bench sql_encrypt` (10 million rows;
//! `SEALHOUSE_BENCH_ROWS` overrides). `SEALHOUSE_BENCH_VALUE_BYTES` sets the
//! value length (default 11; at least 11): the phone numbers padded with `x`,
//! as bench/run.sh's 1 KiB workloads are
//! (`SEALHOUSE_BENCH_VALUE_BYTES=1024 SEALHOUSE_BENCH_ROWS=1000000`). Under
//! `cargo test` it runs on 20,000 rows as a smoke test.

use std::time::Instant;

use datafusion::arrow::array::AsArray;
use std::sync::Arc;

use sealhouse_crypto::{Algorithm, Keyset, KeysetCipher};
use sealhouse_iam::{
    AccountId, AttachTarget, Iam, NoSealing, PolicyRef, Principal, SqliteStore, SystemClock,
};
use sealhouse_kms::api::CreateKeyRequest;
use sealhouse_kms::{Kms, KmsService, RootKey};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

struct Measure {
    name: &'static str,
    rows: u64,
    wall: f64,
    cpu: f64,
}

impl Measure {
    fn per_core(&self) -> f64 {
        self.rows as f64 / self.cpu
    }
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0 // USER_HZ is 100 on Linux.
}

/// Peak resident memory of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

fn measure(name: &'static str, rows: u64, f: impl FnOnce()) -> Measure {
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    f();
    Measure {
        name,
        rows,
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu0,
    }
}

fn sql(rt: &tokio::runtime::Runtime, w: &mut SqlSession, statement: &str) -> StatementOutput {
    rt.block_on(w.execute(statement))
        .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

/// A warehouse in `dir` acting as an account root, with an embedded KMS and
/// a role the warehouse may use; returns it and a `USE_WRAPPED_KEYSET(...)`
/// call on a new AES-GCM-256 wrapped keyset.
fn wrapped_keyset_warehouse(dir: &std::path::Path) -> (SqlSession, String) {
    const TRUST: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}"#;
    let account = AccountId::new("1892732288741234").expect("uid");
    let iam = Arc::new(Iam::new(
        SqliteStore::open_in_memory().expect("iam"),
        NoSealing,
    ));
    iam.create_account(&account).expect("account");
    iam.create_role(&account, "bench", TRUST, None, "")
        .expect("role");
    iam.attach_policy(
        &AttachTarget::Role {
            account: account.clone(),
            name: "bench".into(),
        },
        &PolicyRef::System("AliyunKMSCryptoUserAccess".into()),
    )
    .expect("attach");
    let kms = KmsService::open(
        &dir.join("kms"),
        Arc::clone(&iam),
        RootKey::generate().expect("root key"),
        SystemClock,
    )
    .expect("kms");
    let root = Principal::Root {
        account: account.clone(),
    };
    let key = kms
        .as_principal(root.clone())
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .arn;
    let keys = IdentityServices::new(
        iam,
        Arc::new(kms),
        sealhouse_kms::DEFAULT_CACHE_TTL,
        account,
    );
    let catalog = Catalog::open(
        &dir.join("warehouse"),
        sealhouse_storage::CatalogKey::random().expect("catalog key"),
    )
    .expect("catalog");
    let mut w = SqlSession::with_identity(catalog, root, Arc::new(keys));
    let role = "acs:ram::1892732288741234:role/bench";
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let hex = match rt
        .block_on(w.execute(&format!(
            "SELECT HEX(NEW_WRAPPED_KEYSET('{key}', '{role}', 'AES-GCM-256', 'bench'))"
        )))
        .expect("wrapped keyset")
    {
        StatementOutput::Rows(r) => r.batches[0]
            .column(0)
            .as_string::<i32>()
            .value(0)
            .to_owned(),
        other => panic!("no rows: {:?}", other.message()),
    };
    (
        w,
        format!("USE_WRAPPED_KEYSET('{key}', '{role}', UNHEX('{hex}'))"),
    )
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::var("SEALHOUSE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 10_000_000 } else { 20_000 });
    let value_bytes: usize = std::env::var("SEALHOUSE_BENCH_VALUE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11)
        .max(11);
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut w, wrapped) = wrapped_keyset_warehouse(dir.path());
    sql(&rt, &mut w, "CREATE TABLE t (tel STRING)");
    sql(&rt, &mut w, "CREATE TABLE k (ks BINARY)");
    sql(
        &rt,
        &mut w,
        "INSERT INTO k SELECT NEW_KEYSET('AES-GCM-256', 'bench')",
    );
    sql(
        &rt,
        &mut w,
        &format!(
            "INSERT INTO t SELECT rpad(CAST(13900000000 + value AS STRING), {value_bytes}, 'x') \
             AS tel FROM range({rows})"
        ),
    );
    sql(
        &rt,
        &mut w,
        "CREATE TABLE e AS SELECT ENHANCED_SYM_ENCRYPT(k.ks, t.tel) AS c FROM t JOIN k",
    );

    let scan = measure("SQL scan only: max(tel)", rows, || {
        sql(&rt, &mut w, "SELECT max(tel) FROM t");
    });
    let sql_encrypt = measure("SQL ENHANCED_SYM_ENCRYPT", rows, || {
        sql(
            &rt,
            &mut w,
            "SELECT max(ENHANCED_SYM_ENCRYPT(k.ks, t.tel)) FROM t JOIN k",
        );
    });
    let scan_ciphertexts = measure("SQL scan only: max(c) of the ciphertexts", rows, || {
        sql(&rt, &mut w, "SELECT max(c) FROM e");
    });
    let sql_decrypt = measure("SQL ENHANCED_SYM_DECRYPT", rows, || {
        match sql(
            &rt,
            &mut w,
            "SELECT max(ENHANCED_SYM_DECRYPT(k.ks, e.c)) FROM e JOIN k",
        ) {
            StatementOutput::Rows(r) => assert_eq!(r.num_rows(), 1),
            other => panic!("no rows: {:?}", other.message()),
        }
    });

    // The same decrypt with the keyset as a constant (how USE_WRAPPED_KEYSET
    // and script variables pass it): no join replicating it into every row.
    let keyset_hex = match sql(&rt, &mut w, "SELECT HEX(ks) FROM k") {
        StatementOutput::Rows(r) => r.batches[0]
            .column(0)
            .as_string::<i32>()
            .value(0)
            .to_owned(),
        other => panic!("no rows: {:?}", other.message()),
    };
    let sql_decrypt_constant = measure("SQL ENHANCED_SYM_DECRYPT, constant keyset", rows, || {
        sql(
            &rt,
            &mut w,
            &format!("SELECT max(ENHANCED_SYM_DECRYPT(UNHEX('{keyset_hex}'), c)) FROM e"),
        );
    });

    // Encrypt with a wrapped keyset: one KMS unwrap, then the same work.
    let sql_encrypt_wrapped = measure("SQL ENHANCED_SYM_ENCRYPT, USE_WRAPPED_KEYSET", rows, || {
        sql(
            &rt,
            &mut w,
            &format!("SELECT max(ENHANCED_SYM_ENCRYPT({wrapped}, tel)) FROM t"),
        );
    });

    // Peak memory of the SQL part, before the baseline allocates anything.
    let sql_peak = peak_rss_mib();

    // The crypto crate's own loop, one thread, over columns of 8192 values
    // (the batch size the SQL engine uses) appended into a reused buffer.
    const BATCH: u64 = 8192;
    let keyset = Keyset::new(Algorithm::AesGcm256, "bench").expect("keyset");
    let cipher = KeysetCipher::new(&keyset).expect("prepare");
    let values: Vec<String> = (0..BATCH)
        .map(|i| format!("{:x<value_bytes$}", 13_900_000_000 + i))
        .collect();
    let batches = rows.div_ceil(BATCH);
    let mut column = Vec::with_capacity(values.len() * (value_bytes + 60));
    let loop_encrypt = measure("crypto crate loop: encrypt", batches * BATCH, || {
        let mut session = cipher.session();
        for _ in 0..batches {
            column.clear();
            for v in &values {
                session.encrypt_append(v.as_bytes(), b"", &mut column);
            }
        }
    });
    let ciphertexts: Vec<Vec<u8>> = values
        .iter()
        .map(|v| cipher.encrypt(v.as_bytes(), b""))
        .collect();
    let mut plain = Vec::with_capacity(values.len() * value_bytes);
    let loop_decrypt = measure("crypto crate loop: decrypt", batches * BATCH, || {
        let mut session = cipher.session();
        for _ in 0..batches {
            plain.clear();
            for c in &ciphertexts {
                session
                    .decrypt_append(c, b"", &mut plain)
                    .expect("decrypts");
            }
        }
    });

    println!(
        "\n{rows} rows of {value_bytes}-byte values, AES-GCM-256 keyset, one data directory on local disk\n"
    );
    println!("| measurement | wall s | CPU s | rows/s | rows per CPU-second |");
    println!("|---|---:|---:|---:|---:|");
    for m in [
        &scan,
        &sql_encrypt,
        &sql_encrypt_wrapped,
        &scan_ciphertexts,
        &sql_decrypt,
        &sql_decrypt_constant,
        &loop_encrypt,
        &loop_decrypt,
    ] {
        println!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.0} |",
            m.name,
            m.wall,
            m.cpu,
            m.rows as f64 / m.wall,
            m.per_core()
        );
    }
    println!(
        "\nSQL / crypto crate, per core: encrypt {:.0}%, decrypt {:.0}% (target: at least 60%)",
        100.0 * sql_encrypt.per_core() / loop_encrypt.per_core(),
        100.0 * sql_decrypt.per_core() / loop_decrypt.per_core()
    );
    println!(
        "Peak resident memory of the SQL part (build, encrypt, decrypt): {sql_peak:.0} MiB (target: under 1024)"
    );
}
