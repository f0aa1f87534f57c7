//! The keyset API (`KeysetCipher` + a held `CipherSession`) measured next to
//! the raw primitive it wraps, for every algorithm.
//!
//! Groups:
//!
//! - `<algorithm>/<size>` for sizes 11 B, 1 KiB and 1 MiB, each with
//!   `raw/encrypt`, `keyset/encrypt`, `raw/decrypt`, `keyset/decrypt`, so the
//!   pairs print side by side. Throughput is in plaintext bytes.
//! - `column-8192x11B/<algorithm>`: a column of 8192 eleven-byte values
//!   encrypted (and decrypted) per iteration into one output buffer, reported
//!   per element.
//!
//! The "raw" side does what a user of the primitive would do for the same job:
//! a fresh random IV per GCM seal (inside `AesGcm256::seal_append`), one
//! `AesSiv` instance reused across calls, the user's AAD as the associated
//! data (`&[aad]` as S2V's vector for AES-SIV, as the keyset API does for
//! ciphertexts of the original service). Both sides append into one `Vec`
//! that is cleared each iteration, so allocation is not measured. The keyset
//! side additionally writes the 32-byte key tag and binds it into the
//! associated data (`tag || aad`), which is the cost being measured.
//!
//! The AAD is empty, the common case for `ENHANCED_SYM_ENCRYPT`.
//!
//! After the criterion groups, in benchmark mode, the bench reads the median
//! estimates criterion just wrote (`<criterion home>/<group>/<function>/new/
//! estimates.json`; only files written by this run) and prints a summary
//! table: raw ns, keyset ns, overhead. Run with
//! `cargo bench -p sealhouse-crypto --bench keyset_cipher`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use sealhouse_crypto::primitive::{AesGcm256, AesSiv};
use sealhouse_crypto::{Algorithm, CipherSession, Keyset, KeysetCipher, SecretBytes};

/// Associated data used throughout.
const AAD: &[u8] = b"";

/// Value sizes of the per-value groups, with their labels.
const SIZES: [(usize, &str); 3] = [(11, "11B"), (1024, "1KiB"), (1 << 20, "1MiB")];

/// Values per iteration of the column groups, and their length.
const COLUMN_LEN: usize = 8192;
const COLUMN_VALUE_LEN: usize = 11;

/// Function names within each group, in print order.
const FUNCTIONS: [&str; 4] = [
    "raw/encrypt",
    "keyset/encrypt",
    "raw/decrypt",
    "keyset/decrypt",
];

/// The raw primitive as its user would call it.
trait Raw {
    fn seal(&mut self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>);
    fn open(&mut self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool;
}

impl Raw for AesGcm256 {
    #[inline]
    fn seal(&mut self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        self.seal_append(aad, plaintext, out);
    }

    #[inline]
    fn open(&mut self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool {
        self.open_append(aad, sealed, out).is_ok()
    }
}

impl Raw for AesSiv {
    #[inline]
    fn seal(&mut self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        self.seal_append(&[aad], plaintext, out);
    }

    #[inline]
    fn open(&mut self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool {
        self.open_append(&[aad], sealed, out).is_ok()
    }
}

/// A keyset whose primary key is `material` (a generated key stays behind as
/// a second, non-primary key, as after a rotation).
fn keyset_with(algorithm: Algorithm, material: &SecretBytes) -> Keyset {
    let mut keyset = Keyset::new(algorithm, "bench").expect("new keyset");
    keyset
        .add_raw_key(algorithm, material.duplicate(), "bench primary")
        .expect("add bench key");
    keyset
}

/// Deterministic filler bytes (the primitives do not care what they encrypt).
fn plaintext(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Checks that the raw primitive and the keyset really use the same key, so
/// the comparison is like for like: the keyset's ciphertext body opens with
/// the primitive under `tag || aad`.
fn check_same_key<R: Raw>(raw: &mut R, cipher: &KeysetCipher) {
    let ct = cipher.encrypt(b"13900001234", AAD);
    let (tag, body) = ct.split_at(32);
    let mut bound = tag.to_vec();
    bound.extend_from_slice(AAD);
    let mut out = Vec::new();
    assert!(raw.open(&bound, body, &mut out), "same key in both paths");
    assert_eq!(out, b"13900001234");
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, big: bool) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(if big { 10 } else { 20 });
}

/// Everything one algorithm's groups need: the raw primitive and the
/// prepared keyset, both on the same key.
fn setup<R: Raw>(algorithm: Algorithm, make_raw: impl FnOnce(&SecretBytes) -> R) -> (R, KeysetCipher) {
    let material = SecretBytes::random(algorithm.key_len()).expect("os rng");
    let mut raw = make_raw(&material);
    let cipher = KeysetCipher::new(&keyset_with(algorithm, &material)).expect("prepare keyset");
    check_same_key(&mut raw, &cipher);
    (raw, cipher)
}

/// The per-value groups of one algorithm: `<algorithm>/<size>`.
fn bench_values<R: Raw>(c: &mut Criterion, algorithm: Algorithm, raw: &mut R, cipher: &KeysetCipher) {
    let mut session = cipher.session();
    for (size, label) in SIZES {
        let pt = plaintext(size);
        let raw_ct = {
            let mut v = Vec::new();
            raw.seal(AAD, &pt, &mut v);
            v
        };
        let keyset_ct = cipher.encrypt(&pt, AAD);
        // One output buffer, reused (cleared) by every function of the group.
        let mut out = Vec::with_capacity(cipher.ciphertext_len(size));

        let mut group = c.benchmark_group(format!("{algorithm}/{label}"));
        configure(&mut group, size >= 1 << 20);
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_function(FUNCTIONS[0], |b| {
            b.iter(|| {
                out.clear();
                raw.seal(black_box(AAD), black_box(&pt), &mut out);
                black_box(&out);
            });
        });
        group.bench_function(FUNCTIONS[1], |b| {
            b.iter(|| {
                out.clear();
                session.encrypt_append(black_box(&pt), black_box(AAD), &mut out);
                black_box(&out);
            });
        });
        group.bench_function(FUNCTIONS[2], |b| {
            b.iter(|| {
                out.clear();
                let ok = raw.open(black_box(AAD), black_box(&raw_ct), &mut out);
                assert!(ok, "raw opens");
                black_box(&out);
            });
        });
        group.bench_function(FUNCTIONS[3], |b| {
            b.iter(|| {
                out.clear();
                session
                    .decrypt_append(black_box(&keyset_ct), black_box(AAD), &mut out)
                    .expect("keyset decrypts");
                black_box(&out);
            });
        });
        group.finish();
    }
}

/// The column group of one algorithm: 8192 eleven-byte values per iteration,
/// appended into one buffer; reported per element.
fn bench_column<R: Raw>(c: &mut Criterion, algorithm: Algorithm, raw: &mut R, cipher: &KeysetCipher) {
    let values: Vec<[u8; COLUMN_VALUE_LEN]> = (0..COLUMN_LEN)
        .map(|i| {
            let text = format!("139{i:08}");
            text.as_bytes().try_into().expect("11 digits")
        })
        .collect();
    let mut session: CipherSession<'_> = cipher.session();

    // Ciphertexts of both paths, fixed length per path, stored back to back.
    let mut raw_cts = Vec::new();
    let mut keyset_cts = Vec::new();
    for v in &values {
        raw.seal(AAD, v, &mut raw_cts);
        session.encrypt_append(v, AAD, &mut keyset_cts);
    }
    let raw_ct_len = raw_cts.len() / COLUMN_LEN;
    let keyset_ct_len = cipher.ciphertext_len(COLUMN_VALUE_LEN);
    assert_eq!(keyset_cts.len(), keyset_ct_len * COLUMN_LEN);

    let mut out = Vec::with_capacity(keyset_ct_len * COLUMN_LEN);
    let mut group = c.benchmark_group(format!("column-{COLUMN_LEN}x{COLUMN_VALUE_LEN}B/{algorithm}"));
    configure(&mut group, false);
    group.throughput(Throughput::Elements(COLUMN_LEN as u64));

    group.bench_function(FUNCTIONS[0], |b| {
        b.iter(|| {
            out.clear();
            for v in &values {
                raw.seal(black_box(AAD), black_box(v), &mut out);
            }
            black_box(&out);
        });
    });
    group.bench_function(FUNCTIONS[1], |b| {
        b.iter(|| {
            out.clear();
            for v in &values {
                session.encrypt_append(black_box(v), black_box(AAD), &mut out);
            }
            black_box(&out);
        });
    });
    group.bench_function(FUNCTIONS[2], |b| {
        b.iter(|| {
            out.clear();
            for ct in raw_cts.chunks_exact(raw_ct_len) {
                let ok = raw.open(black_box(AAD), black_box(ct), &mut out);
                assert!(ok, "raw opens");
            }
            black_box(&out);
        });
    });
    group.bench_function(FUNCTIONS[3], |b| {
        b.iter(|| {
            out.clear();
            for ct in keyset_cts.chunks_exact(keyset_ct_len) {
                session
                    .decrypt_append(black_box(ct), black_box(AAD), &mut out)
                    .expect("keyset decrypts");
            }
            black_box(&out);
        });
    });
    group.finish();
}

fn bench_algorithm<R: Raw>(
    c: &mut Criterion,
    algorithm: Algorithm,
    make_raw: impl FnOnce(&SecretBytes) -> R,
) {
    let (mut raw, cipher) = setup(algorithm, make_raw);
    bench_values(c, algorithm, &mut raw, &cipher);
    bench_column(c, algorithm, &mut raw, &cipher);
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().without_plots().configure_from_args();

    bench_algorithm(&mut c, Algorithm::AesGcm256, |key| {
        AesGcm256::new(key).expect("32-byte key")
    });
    for algorithm in [Algorithm::AesSivCmac128, Algorithm::AesSivCmac256] {
        bench_algorithm(&mut c, algorithm, |key| {
            AesSiv::new(algorithm, key).expect("AES-SIV key")
        });
    }

    c.final_summary();

    // Only after real measurements (`cargo bench`), not under
    // `cargo test --benches`, `--list` or `--profile-time`.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--bench") && !has("--test") && !has("--list") && !has("--profile-time") {
        print_summary(&criterion_home(), started);
    }
}

// ---------------------------------------------------------------------------
// Summary table from criterion's estimates.

/// Criterion's output directory, found the way criterion finds it:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the target
/// directory `cargo metadata` reports, else `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()?;
        let meta: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        Some(PathBuf::from(meta.get("target_directory")?.as_str()?).join("criterion"))
    });
    from_metadata.unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Criterion's directory-name sanitising (`make_filename_safe`), enough for
/// the names used here.
fn filename_safe(name: &str) -> String {
    name.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_")
}

/// The median time per iteration, in ns, of `group/function`, if this run
/// wrote it (older files are left over from earlier or filtered-out runs).
fn median_ns(home: &Path, group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = home
        .join(filename_safe(group))
        .join(filename_safe(function))
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json.get("median")?.get("point_estimate")?.as_f64()
}

fn print_summary(home: &Path, since: SystemTime) {
    let mut rows = Vec::new();
    for algorithm in Algorithm::ALL {
        let mut groups: Vec<(String, String, f64)> = SIZES
            .iter()
            .map(|(_, label)| (format!("{algorithm}/{label}"), (*label).to_owned(), 1.0))
            .collect();
        groups.push((
            format!("column-{COLUMN_LEN}x{COLUMN_VALUE_LEN}B/{algorithm}"),
            format!("{COLUMN_VALUE_LEN}B x{COLUMN_LEN} column, per value"),
            COLUMN_LEN as f64,
        ));
        for (group, label, per) in &groups {
            for op in ["encrypt", "decrypt"] {
                let raw = median_ns(home, group, &format!("raw/{op}"), since);
                let keyset = median_ns(home, group, &format!("keyset/{op}"), since);
                if let (Some(raw), Some(keyset)) = (raw, keyset) {
                    rows.push((algorithm, label.clone(), op, raw / per, keyset / per));
                }
            }
        }
    }
    if rows.is_empty() {
        println!("\n(no estimates from this run under {}: nothing to summarise)", home.display());
        return;
    }
    println!("\nSummary: criterion median per value (from {}):\n", home.display());
    println!("| algorithm | size | op | raw primitive | keyset API | overhead |");
    println!("|---|---|---|---:|---:|---:|");
    for (algorithm, label, op, raw, keyset) in rows {
        println!(
            "| {algorithm} | {label} | {op} | {} | {} | {:+.1}% |",
            format_ns(raw),
            format_ns(keyset),
            (keyset / raw - 1.0) * 100.0
        );
    }
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}
