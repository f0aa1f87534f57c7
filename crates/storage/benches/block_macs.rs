//! Candidate MACs for plain files' block tags (issue 18's plain-scan
//! cost), over 256 KiB blocks as the tags cover them, measured in one run
//! next to the one in use:
//!
//! - `BLAKE3 keyed`: the tag of version-1 lists (`integrity/block_tags.rs`),
//!   the reference of the last column;
//! - `GMAC, aws-lc`: the tag of version-2 lists, in use: aws-lc-rs's
//!   AES-256-GCM with the block as associated data and nothing to encrypt;
//! - `ring AES-256-GCM, a copy`: ring's AES-GCM (VAES/VPCLMULQDQ code
//!   where the CPU has it) encrypting a scratch copy of the block, its tag
//!   as the block's MAC (what a GHASH-speed MAC from a maintained crate
//!   costs here; the copy is included);
//! - `GMAC, ring`: the same GMAC through ring's AAD path;
//! - `HMAC-SHA256`: ring's;
//! - `memcpy`: copying the block, the floor of any pass over it.
//!
//! Each figure is the best of 5 passes over 700 blocks (175 MiB, the plain
//! table of the `storage_encryption` bench); in test mode (`cargo test
//! --all-targets`) 4 blocks, once. The passes reuse one block, as a scan
//! checks a block just read into its buffer (in cache). The GMAC rows must
//! give the same tags (the same algorithm): the bench checks that first.
//!
//!   cargo bench -p sealhouse-storage --bench block_macs

use std::hint::black_box;
use std::time::Instant;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;

const BLOCK: usize = 256 * 1024;

fn nonce(i: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (blocks, passes) = if bench { (700u64, 5) } else { (4, 1) };
    let data: Vec<u8> = (0..BLOCK).map(|i| (i * 7 % 251) as u8).collect();
    let mut scratch = data.clone();
    let key = [7u8; 32];
    let gcm = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key"));
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let aws_gcm = {
        use aws_lc_rs::aead;
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &key).expect("a 32-byte key");
        aead::LessSafeKey::new(key)
    };
    let aws_gmac = |i: u64| -> [u8; 16] {
        use aws_lc_rs::aead;
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&i.to_be_bytes());
        let tag = aws_gcm
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from(&data[..]),
                &mut [],
            )
            .expect("sealed");
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        out
    };
    let ring_gmac = |i: u64| {
        gcm.seal_in_place_separate_tag(nonce(i), Aad::from(&data[..]), &mut [])
            .expect("sealed")
    };
    assert_eq!(
        aws_gmac(3).as_slice(),
        ring_gmac(3).as_ref(),
        "aws-lc and ring compute the same GMAC"
    );
    let mut rows: Vec<(&str, f64)> = Vec::new();
    let mut measure = |name: &'static str, pass: &mut dyn FnMut(u64) -> u8| {
        let mut best = f64::MAX;
        for _ in 0..passes {
            let started = Instant::now();
            let mut sink = 0u8;
            for i in 0..blocks {
                sink ^= pass(i);
            }
            black_box(sink);
            best = best.min(started.elapsed().as_secs_f64());
        }
        rows.push((name, best));
    };
    measure("BLAKE3 keyed (tags v1)", &mut |i| {
        let mut h = blake3::Hasher::new_keyed(&key);
        h.update(&i.to_be_bytes());
        h.update(&data);
        h.finalize().as_bytes()[0]
    });
    measure("GMAC, aws-lc (tags v2)", &mut |i| aws_gmac(i)[0]);
    measure("ring AES-256-GCM, a copy", &mut |i| {
        scratch.copy_from_slice(&data);
        let tag = gcm
            .seal_in_place_separate_tag(nonce(i), Aad::empty(), &mut scratch)
            .expect("sealed");
        tag.as_ref()[0]
    });
    measure("GMAC, ring", &mut |i| ring_gmac(i).as_ref()[0]);
    measure("HMAC-SHA256", &mut |_| {
        hmac::sign(&hmac_key, &data).as_ref()[0]
    });
    let mut copy = data.clone();
    measure("memcpy (reference)", &mut |_| {
        copy.copy_from_slice(black_box(&data));
        copy[5]
    });
    let bytes = blocks as f64 * BLOCK as f64;
    let blake3 = rows[0].1;
    println!(
        "block MACs over {blocks} blocks of 256 KiB ({:.1} MiB), best of {passes}",
        bytes / (1 << 20) as f64
    );
    println!(
        "{:<30} {:>10} {:>9} {:>12}",
        "MAC", "ms", "GB/s", "vs BLAKE3"
    );
    for (name, seconds) in rows {
        println!(
            "{name:<30} {:>10.1} {:>9.2} {:>11.2}x",
            seconds * 1e3,
            bytes / seconds / 1e9,
            seconds / blake3
        );
    }
}
