//! Throughput of segmented file encryption (`sealhouse_storage::segmented`)
//! over a 64 MiB buffer, next to two references measured in the same run:
//!
//! - `reference/memcpy`: copying the buffer, the floor of any pass over it;
//! - `reference/aes256-ctr-raw`: AES-256-CTR over the buffer in one call
//!   (the `ctr` and `aes` crates the format uses), no HMAC, no segments: what
//!   the AESCTR format would cost without authentication.
//!
//! Then for AESCTR (format version 3: AES-256-GCM segments), AESCTR in
//! format version 2 (AES-256-CTR then HMAC-SHA256, what version 3 replaced:
//! the reference it must beat) and RC4, with the default 64 KiB segments:
//! `<format>/encrypt` (a `SegmentedWriter` into a reused `Vec`, written in
//! 1 MiB pieces) and `<format>/decrypt` (`decrypt_all`: parse, authenticate
//! every segment, decrypt). Throughput is plaintext bytes.
//!
//! After the criterion groups, in benchmark mode, a table in MB/s (10^6
//! bytes per second) from the median of 5 timed passes of each, measured
//! one after another.
//!
//! In test mode (`cargo test --all-targets` runs each benchmark once, to
//! prove it works) the buffer is 1 MiB, so the unoptimised build stays quick.
//!
//! Run with `cargo bench -p sealhouse-storage --bench segmented`.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use aes::Aes256;
use criterion::{Criterion, SamplingMode, Throughput};
use ctr::cipher::{KeyIvInit, StreamCipher};
use sealhouse_crypto::SecretBytes;
use sealhouse_storage::segmented::{
    DEFAULT_SEGMENT_SIZE, FORMAT_VERSION, SegmentCipher, SegmentedWriter, decrypt_all,
};

const LEN: usize = 64 << 20;
const TEST_MODE_LEN: usize = 1 << 20;
const WRITE_PIECE: usize = 1 << 20;
const V2_ENCRYPT: &str = "reference/AESCTR-v2/encrypt";
const V2_DECRYPT: &str = "reference/AESCTR-v2/decrypt";

/// One measured job over the shared buffers.
struct Case {
    name: &'static str,
    run: Box<dyn FnMut()>,
}

fn cases(len: usize) -> Vec<Case> {
    let plaintext: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
    let key = SecretBytes::from_slice(&[0x42; 32]);
    let wrapped = vec![0x77u8; 180];
    let mut cases = Vec::new();

    let src = plaintext.clone();
    let mut dst = vec![0u8; len];
    cases.push(Case {
        name: "reference/memcpy",
        run: Box::new(move || {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        }),
    });

    let mut buf = plaintext.clone();
    cases.push(Case {
        name: "reference/aes256-ctr-raw",
        run: Box::new(move || {
            let mut c = ctr::Ctr128BE::<Aes256>::new(&[0x42; 32].into(), &[0; 16].into());
            c.apply_keystream(black_box(&mut buf));
            black_box(&buf);
        }),
    });

    let formats = [
        (
            "AESCTR/encrypt",
            "AESCTR/decrypt",
            FORMAT_VERSION,
            SegmentCipher::AesCtr,
        ),
        (V2_ENCRYPT, V2_DECRYPT, 2, SegmentCipher::AesCtr),
        (
            "RC4/encrypt",
            "RC4/decrypt",
            FORMAT_VERSION,
            SegmentCipher::Rc4,
        ),
    ];
    for (encrypt_name, decrypt_name, version, cipher) in formats {
        let file = encrypt(version, cipher, &key, &wrapped, &plaintext, Vec::new());
        let (src, key2, wrapped2) = (plaintext.clone(), key.duplicate(), wrapped.clone());
        let mut out = Some(Vec::with_capacity(file.len()));
        cases.push(Case {
            name: encrypt_name,
            run: Box::new(move || {
                let mut reused = out.take().unwrap_or_default();
                reused.clear();
                let file = encrypt(version, cipher, &key2, &wrapped2, &src, reused);
                out = Some(black_box(file));
            }),
        });
        let key3 = key.duplicate();
        cases.push(Case {
            name: decrypt_name,
            run: Box::new(move || {
                let plain = decrypt_all(black_box(&file), &key3).expect("decrypts");
                assert_eq!(plain.len(), len);
                black_box(plain);
            }),
        });
    }
    cases
}

/// `plaintext` as a segmented file of format `version` appended to `out`.
fn encrypt(
    version: u8,
    cipher: SegmentCipher,
    key: &SecretBytes,
    wrapped: &[u8],
    plaintext: &[u8],
    out: Vec<u8>,
) -> Vec<u8> {
    let place = sealhouse_storage::segmented::FileIdentity {
        table_id: 1,
        file_id: [0; 16],
    };
    let mut w = SegmentedWriter::of_version(
        version,
        out,
        cipher,
        key,
        wrapped,
        DEFAULT_SEGMENT_SIZE,
        place,
    )
    .expect("writer parameters are valid");
    for piece in plaintext.chunks(WRITE_PIECE) {
        w.write_all(piece).expect("writing to a Vec");
    }
    w.finish().expect("writing to a Vec")
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let len = if bench_mode { LEN } else { TEST_MODE_LEN };
    let mut cases = cases(len);
    {
        let mut group = criterion.benchmark_group("segmented-64MiB");
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Bytes(len as u64));
        for case in &mut cases {
            group.bench_function(case.name, |b| b.iter(&mut case.run));
        }
        group.finish();
    }
    criterion.final_summary();

    if bench_mode {
        println!("\nsegmented, 64 MiB buffer, MB/s (10^6 B/s), median of 5 passes:");
        let mut rates = std::collections::HashMap::new();
        for case in &mut cases {
            let mut secs: Vec<f64> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    (case.run)();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            secs.sort_by(f64::total_cmp);
            let rate = len as f64 / secs[2] / 1e6;
            println!("  {:<28} {:>8.0} MB/s", case.name, rate);
            rates.insert(case.name, rate);
        }
        for (new, old) in [
            ("AESCTR/encrypt", V2_ENCRYPT),
            ("AESCTR/decrypt", V2_DECRYPT),
        ] {
            println!(
                "  {new} (format 3, AES-GCM) is {:.2}x the speed of format 2 (CTR + HMAC)",
                rates[new] / rates[old]
            );
        }
    }
}
