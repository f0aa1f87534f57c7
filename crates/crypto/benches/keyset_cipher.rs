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
//! data (`&[aad]` as S2V's vector for AES-SIV, as the keyset API does). Both
//! sides append into one `Vec` that is cleared each iteration, so allocation
//! is not measured. The keyset side additionally writes the 32-byte key tag
//! before each ciphertext and, to decrypt, finds the key by that tag: that is
//! the cost being measured.
//!
//! The keyset has two keys, the primary being the newer one (as after a
//! rotation). Its ciphertexts are made under a column key derived from the
//! primary key once, when the keyset is prepared; that key is private to the
//! crate, so the raw primitive gets an independent random key of the same
//! algorithm. The cost of AES-GCM and AES-SIV does not depend on the key value.
//!
//! The AAD is empty, the common case for `ENHANCED_SYM_ENCRYPT`.
//!
//! After the criterion groups, in benchmark mode, the bench prints two tables:
//!
//! 1. A summary of the criterion results: it reads the median estimates
//!    criterion just wrote (`<criterion home>/<group>/<function>/new/
//!    estimates.json`, only files written by this run, so a filtered run
//!    lists only what it measured) and prints raw ns, keyset ns, overhead.
//! 2. An interleaved check at 11 B: raw primitive and keyset API timed in
//!    alternation (rounds of 1000 calls each, alternating which goes first),
//!    reporting the minimum and median over rounds. Criterion measures one
//!    function after another, so on a shared machine a load change between
//!    the raw and the keyset function skews their ratio; alternating cancels
//!    that, and the minimum approximates the uncontended cost. Skipped when a
//!    filter that does not match `interleaved` is given.
//!
//! Run with `cargo bench -p sealhouse-crypto --bench keyset_cipher`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use sealhouse_crypto::primitive::{AesGcm256, AesSiv};
use sealhouse_crypto::{Algorithm, Keyset, KeysetCipher, SecretBytes};

/// Associated data used throughout.
const AAD: &[u8] = b"";

/// Value sizes of the per-value groups, with their labels.
const SIZES: [(usize, &str); 3] = [(11, "11B"), (1024, "1KiB"), (1 << 20, "1MiB")];

/// Values per iteration of the column groups, and their length.
const COLUMN_LEN: usize = 8192;
const COLUMN_VALUE_LEN: usize = 11;

/// The raw primitive as its user would call it.
trait Raw: Sized {
    fn new(algorithm: Algorithm, key: &SecretBytes) -> Self;
    fn seal(&mut self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>);
    fn open(&mut self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool;
}

impl Raw for AesGcm256 {
    fn new(_: Algorithm, key: &SecretBytes) -> Self {
        AesGcm256::new(key).expect("32-byte key")
    }

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
    fn new(algorithm: Algorithm, key: &SecretBytes) -> Self {
        AesSiv::new(algorithm, key).expect("AES-SIV key")
    }

    #[inline]
    fn seal(&mut self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        self.seal_append(&[aad], plaintext, out);
    }

    #[inline]
    fn open(&mut self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool {
        self.open_append(&[aad], sealed, out).is_ok()
    }
}

/// The raw primitive on a random key, and a prepared two-key keyset of the
/// same algorithm whose primary is the second, generated key.
fn setup<R: Raw>(algorithm: Algorithm) -> (R, KeysetCipher) {
    let raw = R::new(
        algorithm,
        &SecretBytes::random(algorithm.key_len()).expect("os rng"),
    );
    let mut keyset = Keyset::new(algorithm, "bench").expect("new keyset");
    keyset
        .rotate(algorithm, Some("bench primary"))
        .expect("rotate keyset");
    let cipher = KeysetCipher::new(&keyset).expect("prepare keyset");
    (raw, cipher)
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

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, big: bool) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(if big { 10 } else { 20 });
}

/// Benchmarks one group: `raw/encrypt`, `keyset/encrypt`, `raw/decrypt`,
/// `keyset/decrypt`, each iteration handling every value of `values` (and
/// the matching ciphertexts, stored back to back with a fixed length per
/// side) into one output buffer.
fn bench_group<R: Raw>(
    mut group: BenchmarkGroup<'_, WallTime>,
    raw: &mut R,
    cipher: &KeysetCipher,
    values: &[&[u8]],
) {
    let mut session = cipher.session();
    let (mut raw_cts, mut keyset_cts) = (Vec::new(), Vec::new());
    for v in values {
        raw.seal(AAD, v, &mut raw_cts);
        session.encrypt_append(v, AAD, &mut keyset_cts);
    }
    let raw_ct_len = raw_cts.len() / values.len();
    let keyset_ct_len = keyset_cts.len() / values.len();
    let mut out = Vec::with_capacity(keyset_cts.len());

    group.bench_function("raw/encrypt", |b| {
        b.iter(|| {
            out.clear();
            for v in values {
                raw.seal(black_box(AAD), black_box(v), &mut out);
            }
            black_box(&out);
        });
    });
    group.bench_function("keyset/encrypt", |b| {
        b.iter(|| {
            out.clear();
            for v in values {
                session.encrypt_append(black_box(v), black_box(AAD), &mut out);
            }
            black_box(&out);
        });
    });
    group.bench_function("raw/decrypt", |b| {
        b.iter(|| {
            out.clear();
            for ct in raw_cts.chunks_exact(raw_ct_len) {
                assert!(
                    raw.open(black_box(AAD), black_box(ct), &mut out),
                    "raw opens"
                );
            }
            black_box(&out);
        });
    });
    group.bench_function("keyset/decrypt", |b| {
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

/// All groups of one algorithm: `<algorithm>/<size>`, then the column group.
fn bench_algorithm<R: Raw>(c: &mut Criterion, algorithm: Algorithm) {
    let (mut raw, cipher) = setup::<R>(algorithm);
    for (size, label) in SIZES {
        let pt = plaintext(size);
        let mut group = c.benchmark_group(format!("{algorithm}/{label}"));
        configure(&mut group, size >= 1 << 20);
        group.throughput(Throughput::Bytes(size as u64));
        bench_group(group, &mut raw, &cipher, &[&pt]);
    }

    let column: Vec<String> = (0..COLUMN_LEN).map(|i| format!("139{i:08}")).collect();
    assert!(column.iter().all(|v| v.len() == COLUMN_VALUE_LEN));
    let values: Vec<&[u8]> = column.iter().map(|v| v.as_bytes()).collect();
    let mut group = c.benchmark_group(column_group(algorithm));
    configure(&mut group, false);
    group.throughput(Throughput::Elements(COLUMN_LEN as u64));
    bench_group(group, &mut raw, &cipher, &values);
}

/// The AES-SIV column loop against RustCrypto's `aes-siv` (what
/// `AesSiv` wrapped until it kept its per-key S2V work): the same 8192
/// eleven-byte values, empty associated data, one instance reused.
fn bench_siv_reference(c: &mut Criterion, algorithm: Algorithm) {
    use aes_siv::KeyInit as _;
    use aes_siv::aead::generic_array::GenericArray;
    use aes_siv::siv::{Aes128Siv, Aes256Siv};

    enum Reference {
        K128(Box<Aes128Siv>),
        K256(Box<Aes256Siv>),
    }
    let key = SecretBytes::random(algorithm.key_len()).expect("os rng");
    let mut ours = AesSiv::new(algorithm, &key).expect("AES-SIV key");
    let mut reference = match algorithm {
        Algorithm::AesSivCmac128 => Reference::K128(Box::new(Aes128Siv::new(
            GenericArray::from_slice(key.expose()),
        ))),
        _ => Reference::K256(Box::new(Aes256Siv::new(GenericArray::from_slice(
            key.expose(),
        )))),
    };
    let column: Vec<String> = (0..COLUMN_LEN).map(|i| format!("139{i:08}")).collect();
    let mut sealed = Vec::new();
    for v in &column {
        ours.seal_append(&[AAD], v.as_bytes(), &mut sealed);
    }
    let ct_len = sealed.len() / COLUMN_LEN;
    let mut out = Vec::with_capacity(sealed.len());
    let mut group = c.benchmark_group(siv_reference_group(algorithm));
    configure(&mut group, false);
    group.throughput(Throughput::Elements(COLUMN_LEN as u64));
    group.bench_function("aes-siv-crate/encrypt", |b| {
        b.iter(|| {
            out.clear();
            for v in &column {
                let start = out.len();
                out.extend_from_slice(&[0; 16]);
                out.extend_from_slice(v.as_bytes());
                let (siv, body) = out[start..].split_at_mut(16);
                let tag = match &mut reference {
                    Reference::K128(r) => r.encrypt_in_place_detached([AAD], body),
                    Reference::K256(r) => r.encrypt_in_place_detached([AAD], body),
                }
                .expect("encrypts");
                siv.copy_from_slice(&tag);
            }
            black_box(&out);
        });
    });
    group.bench_function("sealhouse/encrypt", |b| {
        b.iter(|| {
            out.clear();
            for v in &column {
                ours.seal_append(&[black_box(AAD)], black_box(v.as_bytes()), &mut out);
            }
            black_box(&out);
        });
    });
    group.bench_function("aes-siv-crate/decrypt", |b| {
        b.iter(|| {
            out.clear();
            for ct in sealed.chunks_exact(ct_len) {
                let (siv, body) = ct.split_at(16);
                let start = out.len();
                out.extend_from_slice(body);
                match &mut reference {
                    Reference::K128(r) => r.decrypt_in_place_detached(
                        [AAD],
                        &mut out[start..],
                        GenericArray::from_slice(siv),
                    ),
                    Reference::K256(r) => r.decrypt_in_place_detached(
                        [AAD],
                        &mut out[start..],
                        GenericArray::from_slice(siv),
                    ),
                }
                .expect("decrypts");
            }
            black_box(&out);
        });
    });
    group.bench_function("sealhouse/decrypt", |b| {
        b.iter(|| {
            out.clear();
            for ct in sealed.chunks_exact(ct_len) {
                ours.open_append(&[black_box(AAD)], black_box(ct), &mut out)
                    .expect("decrypts");
            }
            black_box(&out);
        });
    });
    group.finish();
}

fn siv_reference_group(algorithm: Algorithm) -> String {
    format!("siv-vs-aes-siv-crate-{COLUMN_LEN}x{COLUMN_VALUE_LEN}B/{algorithm}")
}

fn column_group(algorithm: Algorithm) -> String {
    format!("column-{COLUMN_LEN}x{COLUMN_VALUE_LEN}B/{algorithm}")
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().without_plots().configure_from_args();

    bench_algorithm::<AesGcm256>(&mut c, Algorithm::AesGcm256);
    bench_algorithm::<AesSiv>(&mut c, Algorithm::AesSivCmac128);
    bench_algorithm::<AesSiv>(&mut c, Algorithm::AesSivCmac256);
    bench_siv_reference(&mut c, Algorithm::AesSivCmac128);
    bench_siv_reference(&mut c, Algorithm::AesSivCmac256);

    c.final_summary();

    // Only after real measurements (`cargo bench`), not under
    // `cargo test --benches`, `--list` or `--profile-time`.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--bench") && !has("--test") && !has("--list") && !has("--profile-time") {
        print_summary(&criterion_home(), started);
        print_siv_reference(&criterion_home(), started);
        // A positional argument is criterion's filter; options that take a
        // value are written `--option=value` or make this check conservative.
        let filtered = args
            .iter()
            .skip(1)
            .any(|a| !a.starts_with('-') && !a.contains("interleaved"));
        if !filtered {
            interleaved_check();
        }
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
            column_group(algorithm),
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
        println!(
            "\n(no estimates from this run under {}: nothing to summarise)",
            home.display()
        );
        return;
    }
    println!(
        "\nSummary: criterion median per value (from {}):\n",
        home.display()
    );
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

/// The AES-SIV column loop next to `aes-siv`'s, in values per second.
fn print_siv_reference(home: &Path, since: SystemTime) {
    let mut printed_header = false;
    for algorithm in [Algorithm::AesSivCmac128, Algorithm::AesSivCmac256] {
        let group = siv_reference_group(algorithm);
        for op in ["encrypt", "decrypt"] {
            let reference = median_ns(home, &group, &format!("aes-siv-crate/{op}"), since);
            let ours = median_ns(home, &group, &format!("sealhouse/{op}"), since);
            if let (Some(reference), Some(ours)) = (reference, ours) {
                if !printed_header {
                    println!(
                        "\nAES-SIV column loop ({COLUMN_LEN} x {COLUMN_VALUE_LEN} B, empty \
                         associated data), values per second on one core:\n"
                    );
                    println!("| algorithm | op | aes-siv crate | Sealhouse AesSiv | speed-up |");
                    println!("|---|---|---:|---:|---:|");
                    printed_header = true;
                }
                let per_second = |ns: f64| COLUMN_LEN as f64 / ns * 1e9 / 1e6;
                println!(
                    "| {algorithm} | {op} | {:.2} M/s | {:.2} M/s | {:.2}x |",
                    per_second(reference),
                    per_second(ours),
                    reference / ours
                );
            }
        }
    }
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

// ---------------------------------------------------------------------------
// Interleaved check at 11 B.

const ROUNDS: usize = 200;
const CALLS_PER_ROUND: u32 = 1000;

/// Times `call(0)` (raw) and `call(1)` (keyset) alternately: each round runs
/// both for `CALLS_PER_ROUND` calls, the first one alternating between rounds.
/// Returns (minimum, median) ns per call of each.
fn interleave(mut call: impl FnMut(usize)) -> [(f64, f64); 2] {
    let mut samples = [(); 2].map(|()| Vec::with_capacity(ROUNDS));
    for round in 0..=ROUNDS {
        for k in 0..2 {
            let v = (k + round) % 2;
            let start = Instant::now();
            for _ in 0..CALLS_PER_ROUND {
                call(v);
            }
            // Round 0 is a warm-up.
            if round > 0 {
                samples[v].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS_PER_ROUND));
            }
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        (s[0], s[s.len() / 2])
    })
}

/// Algorithm, operation, and (min, median) ns per call of raw and keyset.
type InterleavedRow = (Algorithm, &'static str, [(f64, f64); 2]);

/// Encrypt and decrypt of an 11-byte value, raw and keyset.
fn interleaved_rows<R: Raw>(algorithm: Algorithm) -> [InterleavedRow; 2] {
    let (mut raw, cipher) = setup::<R>(algorithm);
    let mut session = cipher.session();
    let pt = b"13900001234";
    let mut raw_ct = Vec::new();
    raw.seal(AAD, pt, &mut raw_ct);
    let keyset_ct = cipher.encrypt(pt, AAD);
    let mut out = Vec::with_capacity(cipher.ciphertext_len(pt.len()));

    let encrypt = interleave(|v| {
        out.clear();
        match v {
            0 => raw.seal(black_box(AAD), black_box(pt), &mut out),
            _ => session.encrypt_append(black_box(pt), black_box(AAD), &mut out),
        }
        black_box(&out);
    });
    let decrypt = interleave(|v| {
        out.clear();
        let ok = match v {
            0 => raw.open(black_box(AAD), black_box(&raw_ct), &mut out),
            _ => session
                .decrypt_append(black_box(&keyset_ct), black_box(AAD), &mut out)
                .is_ok(),
        };
        assert!(ok, "opens");
        black_box(&out);
    });
    [
        (algorithm, "encrypt", encrypt),
        (algorithm, "decrypt", decrypt),
    ]
}

fn interleaved_check() {
    println!(
        "\nInterleaved check, 11 B, ns per call, min (median) over {ROUNDS} rounds of {CALLS_PER_ROUND} calls:\n"
    );
    println!(
        "| algorithm | op | raw primitive | keyset API | overhead (min) | overhead (median) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    let rows = [
        interleaved_rows::<AesGcm256>(Algorithm::AesGcm256),
        interleaved_rows::<AesSiv>(Algorithm::AesSivCmac128),
        interleaved_rows::<AesSiv>(Algorithm::AesSivCmac256),
    ];
    for (algorithm, op, [(raw, raw_med), (keyset, keyset_med)]) in rows.into_iter().flatten() {
        println!(
            "| {algorithm} | {op} | {raw:.1} ({raw_med:.1}) | {keyset:.1} ({keyset_med:.1}) | \
             {:+.1}% | {:+.1}% |",
            (keyset / raw - 1.0) * 100.0,
            (keyset_med / raw_med - 1.0) * 100.0
        );
    }
}
