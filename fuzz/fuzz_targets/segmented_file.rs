#![no_main]
//! Segmented encrypted files (`sealhouse_storage::segmented`). Nothing may
//! panic, and a modified file must never decrypt to wrong plaintext.
//!
//! Input: one mode byte, then the rest.
//!
//! - even mode: the rest is a file. The header parser must agree with
//!   `required_len`; the reader opens it under a fixed data key (random bytes
//!   virtually never pass the header MAC, so this exercises the parser and
//!   the refusals); whatever opens must read consistently.
//! - odd mode: the rest is a plaintext, encrypted with the cipher and segment
//!   size (1 to 64) the mode byte picks, under the fixed key. It must decrypt
//!   whole and by ranges; then one byte chosen by the input is flipped, and
//!   separately the file is cut there: neither may decrypt, and every range
//!   read must fail or give exactly the original bytes.
//!
//! Each file gets a random nonce, as in production; the properties checked
//! hold for every nonce.

use std::io::Write;
use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use sealhouse_crypto::SecretBytes;
use sealhouse_storage::segmented::{
    FileIdentity, SegmentCipher, SegmentedError, SegmentedHeader, SegmentedReader, SegmentedWriter,
    decrypt_all,
};

const KEY: [u8; 32] = [0x5e; 32];
const WRAPPED: &[u8] = b"fuzz-wrapped-key";
const PLACE: FileIdentity = FileIdentity {
    table_id: 7,
    file_id: [0x5A; 16],
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = SecretBytes::from_slice(&KEY);
    if mode & 1 == 0 {
        read_any(rest, &key);
    } else {
        round_trip_and_tamper(mode, rest, &key);
    }
});

fn read_any(file: &[u8], key: &SecretBytes) {
    let required = SegmentedHeader::required_len(file);
    let header = match SegmentedHeader::parse(file) {
        Ok(header) => header,
        Err(SegmentedError::IncompleteHeader { needed, have }) => {
            assert!(needed > have && have == file.len());
            assert!(required == Ok(needed));
            return;
        }
        Err(e) => {
            assert!(required == Err(e));
            return;
        }
    };
    assert!(required == Ok(header.header_len()));
    assert!(SegmentedHeader::parse(&file[..header.header_len()]).as_ref() == Ok(&header));
    if let Ok(reader) = SegmentedReader::new(header, key, file.len() as u64) {
        let whole = decrypt_all(file, key);
        check_ranges(&reader, file, whole.as_deref().ok());
    }
}

fn round_trip_and_tamper(mode: u8, plaintext: &[u8], key: &SecretBytes) {
    let cipher = if mode & 2 == 0 {
        SegmentCipher::AesCtr
    } else {
        SegmentCipher::Rc4
    };
    let segment_size = 1 + u32::from(mode >> 2);
    let mut writer = SegmentedWriter::new(Vec::new(), cipher, key, WRAPPED, segment_size, PLACE)
        .expect("valid writer parameters");
    for piece in plaintext.chunks(7) {
        writer.write_all(piece).expect("writing to a Vec");
    }
    let file = writer.finish().expect("writing to a Vec");

    assert!(decrypt_all(&file, key).as_deref() == Ok(plaintext));
    let header = SegmentedHeader::parse(&file).expect("a fresh header parses");
    assert!(header.identity() == Some(&PLACE));
    let reader = open(&file, key).expect("a fresh file opens");
    assert!(reader.plaintext_len() == plaintext.len() as u64);
    check_ranges(&reader, &file, Some(plaintext));

    // An edit chosen by the input: a position and a non-zero XOR mask.
    let seed = plaintext.iter().fold(0usize, |h, &b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let at = seed % file.len();
    let mask = plaintext.first().map_or(1, |&b| b | 1);

    let mut flipped = file.clone();
    flipped[at] ^= mask;
    assert!(
        decrypt_all(&flipped, key).is_err(),
        "a flipped byte decrypted"
    );
    if let Ok(reader) = open(&flipped, key) {
        check_ranges(&reader, &flipped, Some(plaintext));
    }

    let cut = &file[..at];
    assert!(decrypt_all(cut, key).is_err(), "a truncated file decrypted");
    if let Ok(reader) = open(cut, key) {
        check_ranges(&reader, cut, Some(plaintext));
    }
}

fn open(file: &[u8], key: &SecretBytes) -> Result<SegmentedReader, SegmentedError> {
    SegmentedReader::new(SegmentedHeader::parse(file)?, key, file.len() as u64)
}

/// Reads a few ranges of `file`: each read fails, or returns exactly the
/// bytes `expected` holds there (when the plaintext is known).
fn check_ranges(reader: &SegmentedReader, file: &[u8], expected: Option<&[u8]>) {
    let len = reader.plaintext_len();
    let ranges: [Range<u64>; 5] = [
        0..len,
        0..len / 2,
        len / 3..len,
        len / 2..len / 2 + 1,
        len..len,
    ];
    for range in ranges {
        let range = range.start..range.end.min(len);
        let fetch = reader
            .ciphertext_range_for(range.clone())
            .expect("ranges within the plaintext");
        assert!(fetch.start <= fetch.end && fetch.end <= file.len() as u64);
        let fetched = &file[fetch.start as usize..fetch.end as usize];
        if let Ok(got) = reader.read_range(range.clone(), fetched) {
            assert!(got.len() as u64 == range.end - range.start);
            if let Some(expected) = expected {
                // A read of a truncated file may only return bytes the
                // original had at those offsets.
                if let Some(want) = expected.get(range.start as usize..range.end as usize) {
                    assert!(got == want, "a range read returned wrong plaintext");
                } else {
                    panic!("a range read returned bytes past the original plaintext");
                }
            }
        }
    }
}
