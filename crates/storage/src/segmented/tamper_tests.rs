//! Modified files never decrypt to wrong plaintext: every single-byte
//! change, every truncation, reordered, dropped, repeated or foreign
//! segments, and a wrong data key all fail.

use sealhouse_crypto::SecretBytes;

use super::tests::{FORMATS, data_key, encrypt, open, read};
use super::*;

const S: usize = 16;

/// The tag length of `file`'s segments.
fn tag_len(file: &[u8]) -> usize {
    open(file).expect("opens").header().tag_len()
}

/// 50 bytes in 16-byte segments: 16 + 16 + 16 + 2, so four segments.
fn small_plaintext() -> Vec<u8> {
    (0..50u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect()
}

/// Ranges that together touch every segment in every combination of
/// neighbours, plus the whole file.
fn ranges(len: u64) -> Vec<std::ops::Range<u64>> {
    let windows = (0..len).step_by(5).map(|start| start..(start + 9).min(len));
    std::iter::once(0..len).chain(windows).collect()
}

/// Whatever `file` is, reading it fails, or returns exactly the plaintext.
fn never_wrong(file: &[u8], plaintext: &[u8]) -> bool {
    if let Ok(p) = decrypt_all(file, &data_key())
        && p != plaintext
    {
        return false;
    }
    ranges(plaintext.len() as u64)
        .into_iter()
        .all(|r| match read(file, r.clone()) {
            Ok(p) => p == plaintext[r.start as usize..r.end as usize],
            Err(_) => true,
        })
}

#[test]
fn every_single_byte_change_is_detected() {
    let plaintext = small_plaintext();
    for cipher in FORMATS {
        let file = encrypt(cipher, S as u32, &plaintext, 7);
        let header_len = open(&file).expect("opens").header().header_len();
        for at in 0..file.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[at] ^= mask;
                assert!(
                    decrypt_all(&bad, &data_key()).is_err(),
                    "{cipher}: byte {at} ^ {mask:#x} decrypted"
                );
                assert!(
                    never_wrong(&bad, &plaintext),
                    "{cipher}: byte {at} ^ {mask:#x} read wrong"
                );
                if at >= header_len {
                    // Reads of the changed segment fail; of others succeed.
                    let changed = ((at - header_len) / (S + tag_len(&file))) as u64;
                    let err = read(&bad, changed * S as u64..changed * S as u64 + 1);
                    assert_eq!(
                        err,
                        Err(SegmentedError::SegmentAuthentication { index: changed })
                    );
                } else {
                    assert!(
                        open(&bad).is_err(),
                        "{cipher}: header byte {at} ^ {mask:#x} opened"
                    );
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    for cipher in FORMATS {
        // 48 bytes: exactly three full segments, the last one final.
        for plaintext in [small_plaintext(), small_plaintext()[..48].to_vec()] {
            let file = encrypt(cipher, S as u32, &plaintext, 50);
            for len in 0..file.len() {
                let cut = &file[..len];
                assert!(
                    decrypt_all(cut, &data_key()).is_err(),
                    "{cipher}: cut at {len} decrypted"
                );
                assert!(
                    never_wrong(cut, &plaintext),
                    "{cipher}: cut at {len} read wrong"
                );
            }
        }
    }
}

#[test]
fn truncation_at_a_segment_boundary_fails_on_the_final_flag() {
    for cipher in FORMATS {
        let plaintext = small_plaintext();
        let file = encrypt(cipher, S as u32, &plaintext, 50);
        let h = open(&file).expect("opens").header().header_len();
        for kept in 1..4 {
            let cut = &file[..h + kept * (S + tag_len(&file))];
            let reader = open(cut).expect("a possible length: its last segment looks final");
            assert_eq!(reader.plaintext_len(), (kept * S) as u64);
            assert_eq!(
                decrypt_all(cut, &data_key()),
                Err(SegmentedError::SegmentAuthentication {
                    index: kept as u64 - 1
                })
            );
        }
        // Just the header: no final segment at all.
        assert!(matches!(
            open(&file[..h]),
            Err(SegmentedError::InvalidFileLength { .. })
        ));
    }
}

#[test]
fn reordered_dropped_repeated_or_appended_segments_are_detected() {
    for cipher in FORMATS {
        // 64 bytes: four full segments, so any permutation keeps the length.
        let plaintext = small_plaintext()[..48]
            .iter()
            .chain(&[1u8; 16])
            .copied()
            .collect::<Vec<_>>();
        let file = encrypt(cipher, S as u32, &plaintext, 64);
        let h = open(&file).expect("opens").header().header_len();
        let seg =
            |i: usize| &file[h + i * (S + tag_len(&file))..h + (i + 1) * (S + tag_len(&file))];
        let assemble = |order: &[usize]| {
            let mut f = file[..h].to_vec();
            for &i in order {
                f.extend_from_slice(seg(i));
            }
            f
        };
        assert_eq!(
            decrypt_all(&assemble(&[0, 1, 2, 3]), &data_key()),
            Ok(plaintext.clone())
        );
        for order in [
            &[1, 0, 2, 3][..],
            &[0, 2, 1, 3],
            &[0, 1, 3, 2],
            &[3, 1, 2, 0],
            &[0, 2, 3],
            &[1, 2, 3],
            &[0, 0, 1, 2, 3],
            &[0, 1, 2, 3, 3],
            &[0, 1, 2, 2, 3],
        ] {
            let bad = assemble(order);
            assert!(
                decrypt_all(&bad, &data_key()).is_err(),
                "{cipher}: order {order:?} decrypted"
            );
            assert!(
                never_wrong(&bad, &plaintext),
                "{cipher}: order {order:?} read wrong"
            );
        }
    }
}

#[test]
fn segments_of_another_file_under_the_same_key_are_rejected() {
    for cipher in FORMATS {
        let plaintext = small_plaintext();
        let a = encrypt(cipher, S as u32, &plaintext, 50);
        let b = encrypt(cipher, S as u32, &plaintext, 50);
        let h = open(&a).expect("opens").header().header_len();
        // a's header with b's segments, and a with b's second segment.
        let mut spliced = a[..h].to_vec();
        spliced.extend_from_slice(&b[h..]);
        assert_eq!(
            decrypt_all(&spliced, &data_key()),
            Err(SegmentedError::SegmentAuthentication { index: 0 })
        );
        let mut one = a.clone();
        let t = tag_len(&a);
        let second = h + S + t..h + 2 * (S + t);
        one[second.clone()].copy_from_slice(&b[second]);
        assert_eq!(
            decrypt_all(&one, &data_key()),
            Err(SegmentedError::SegmentAuthentication { index: 1 })
        );
    }
}

#[test]
fn a_wrong_data_key_fails_at_the_header() {
    for cipher in FORMATS {
        let file = encrypt(cipher, S as u32, &small_plaintext(), 50);
        let header = SegmentedHeader::parse(&file).expect("parses without a key");
        let mut wrong = [0u8; 32];
        wrong[31] = 1;
        let err = SegmentedReader::new(header, &SecretBytes::from_slice(&wrong), file.len() as u64)
            .expect_err("wrong key");
        assert_eq!(err, SegmentedError::HeaderAuthentication);
        assert!(err.to_string().contains("wrong data key"), "{err}");
        assert_eq!(
            decrypt_all(&file, &SecretBytes::from_slice(&[0; 32])),
            Err(SegmentedError::HeaderAuthentication)
        );
    }
}

#[test]
fn errors_name_the_problem_and_no_key() {
    let file = encrypt(FORMATS[1], S as u32, &small_plaintext(), 50);
    let mut bad = file.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = decrypt_all(&bad, &data_key()).expect_err("tampered");
    assert_eq!(
        err.to_string(),
        "segment 3 failed authentication: the file was modified, truncated or its segments reordered"
    );
    assert_eq!(
        decrypt_all(b"PAR1 not ours", &data_key())
            .expect_err("parquet")
            .to_string(),
        "not a Sealhouse segmented file: the magic bytes SHSEG are missing"
    );
    let reader = open(&file).expect("opens");
    let shown = format!("{reader:?}");
    assert!(shown.contains("redacted"), "{shown}");
    // The data key is 0, 1, ..., 31: its bytes in a row would show "1, 2, 3".
    assert!(!shown.contains("1, 2, 3"), "{shown}");
}
