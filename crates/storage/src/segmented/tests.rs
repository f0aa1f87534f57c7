//! Round trips, range reads and the pinned file vectors of the segmented
//! format. Tampering is in `tamper_tests.rs`.

use std::io::Write;

use proptest::prelude::*;
use ring::digest;
use sealhouse_crypto::SecretBytes;

use super::*;

/// A format version and cipher files are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Format {
    pub(super) version: u8,
    pub(super) cipher: SegmentCipher,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}", self.cipher, self.version)
    }
}

const fn format(version: u8, cipher: SegmentCipher) -> Format {
    Format { version, cipher }
}

/// What this build writes (version 3), and version 2, which it wrote
/// before and can still write for older readers.
pub(super) const FORMATS: [Format; 4] = [
    format(FORMAT_VERSION, SegmentCipher::AesCtr),
    format(FORMAT_VERSION, SegmentCipher::Rc4),
    format(2, SegmentCipher::AesCtr),
    format(2, SegmentCipher::Rc4),
];
/// Version 3 AESCTR, what new AESCTR files are.
const AESCTR: Format = FORMATS[0];
pub(super) const WRAPPED: &[u8] = b"kms-ciphertext-blob";
pub(super) const PLACE: FileIdentity = FileIdentity {
    table_id: 42,
    file_id: [7; 16],
};

pub(super) fn data_key() -> SecretBytes {
    SecretBytes::from_slice(&(0..32).collect::<Vec<u8>>())
}

/// `plaintext` encrypted, written to the writer in pieces of `chunk` bytes.
pub(super) fn encrypt(
    format: Format,
    segment_size: u32,
    plaintext: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let mut w = SegmentedWriter::of_version(
        format.version,
        Vec::new(),
        format.cipher,
        &data_key(),
        WRAPPED,
        segment_size,
        PLACE,
    )
    .expect("writer");
    for piece in plaintext.chunks(chunk.max(1)) {
        w.write_all(piece).expect("write to a Vec");
    }
    w.finish().expect("finish into a Vec")
}

pub(super) fn open(file: &[u8]) -> Result<SegmentedReader, SegmentedError> {
    SegmentedReader::new(
        SegmentedHeader::parse(file)?,
        &data_key(),
        file.len() as u64,
    )
}

/// A range read as an object-store reader does it: fetch what
/// `ciphertext_range_for` names, then decrypt.
pub(super) fn read(file: &[u8], range: std::ops::Range<u64>) -> Result<Vec<u8>, SegmentedError> {
    let reader = open(file)?;
    let fetch = reader.ciphertext_range_for(range.clone())?;
    reader.read_range(range, &file[fetch.start as usize..fetch.end as usize])
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn round_trips_at_segment_boundaries() {
    let s = 64usize;
    for cipher in FORMATS {
        for len in [0, 1, s - 1, s, s + 1, 2 * s, 5 * s + 17, 10 * s] {
            let plaintext = pattern(len);
            for chunk in [1, 7, s, 1000] {
                let file = encrypt(cipher, s as u32, &plaintext, chunk);
                let segments = len.div_ceil(s).max(1);
                let tag = if cipher == AESCTR { 16 } else { 32 };
                assert_eq!(
                    file.len(),
                    90 + WRAPPED.len() + len + tag * segments,
                    "{cipher} len {len}"
                );
                assert_eq!(
                    decrypt_all(&file, &data_key()),
                    Ok(plaintext.clone()),
                    "{cipher} len {len}"
                );
                let reader = open(&file).expect("opens");
                assert_eq!(reader.plaintext_len(), len as u64);
                assert_eq!(reader.segment_count(), segments as u64);
                assert_eq!(reader.header().cipher(), cipher.cipher);
                assert_eq!(reader.header().version(), cipher.version);
                assert_eq!(reader.header().wrapped_key(), WRAPPED);
            }
        }
    }
}

#[test]
fn default_segment_size_and_a_large_file_round_trip() {
    let plaintext = pattern(3 * DEFAULT_SEGMENT_SIZE as usize + 12345);
    for cipher in FORMATS {
        let file = encrypt(cipher, DEFAULT_SEGMENT_SIZE, &plaintext, 10_000);
        assert_eq!(
            decrypt_all(&file, &data_key()).as_deref(),
            Ok(&plaintext[..])
        );
        let mid = 2 * u64::from(DEFAULT_SEGMENT_SIZE) - 5;
        assert_eq!(
            read(&file, mid..mid + 10).as_deref(),
            Ok(&plaintext[mid as usize..mid as usize + 10])
        );
    }
}

#[test]
fn segment_size_one_works() {
    for cipher in FORMATS {
        let file = encrypt(cipher, 1, b"abc", 2);
        assert_eq!(decrypt_all(&file, &data_key()), Ok(b"abc".to_vec()));
        assert_eq!(read(&file, 1..2), Ok(b"b".to_vec()));
    }
}

#[test]
fn every_range_of_a_small_file_reads_back() {
    for cipher in FORMATS {
        let plaintext = pattern(100);
        let file = encrypt(cipher, 32, &plaintext, 33);
        let reader = open(&file).expect("opens");
        for start in 0..=100u64 {
            for end in start..=100u64 {
                let fetch = reader.ciphertext_range_for(start..end).expect("in range");
                let fetched = &file[fetch.start as usize..fetch.end as usize];
                assert_eq!(
                    reader.read_range(start..end, fetched).as_deref(),
                    Ok(&plaintext[start as usize..end as usize]),
                    "{cipher} {start}..{end}"
                );
            }
        }
    }
}

#[test]
fn ciphertext_ranges_cover_whole_segments_only() {
    let file = encrypt(AESCTR, 64, &pattern(200), 64);
    let reader = open(&file).expect("opens");
    let h = reader.header().header_len() as u64;
    // Segments of 64 bytes and a 16-byte AES-GCM tag each.
    assert_eq!(reader.header().tag_len(), 16);
    assert_eq!(reader.ciphertext_range_for(0..1), Ok(h..h + 80));
    assert_eq!(reader.ciphertext_range_for(64..128), Ok(h + 80..h + 160));
    assert_eq!(reader.ciphertext_range_for(63..65), Ok(h..h + 160));
    assert_eq!(
        reader.ciphertext_range_for(192..200),
        Ok(h + 240..file.len() as u64)
    );
    assert_eq!(
        reader.ciphertext_range_for(190..200),
        Ok(h + 160..file.len() as u64)
    );
    assert_eq!(reader.ciphertext_range_for(5..5), Ok(0..0));
    assert_eq!(
        reader.ciphertext_range_for(0..201),
        Err(SegmentedError::RangeOutOfBounds {
            start: 0,
            end: 201,
            plaintext_len: 200
        })
    );
}

#[test]
fn misfetched_bytes_are_refused() {
    let file = encrypt(AESCTR, 64, &pattern(200), 64);
    let reader = open(&file).expect("opens");
    let r = reader.ciphertext_range_for(10..20).expect("in range");
    let (s, e) = (r.start as usize, r.end as usize);
    assert_eq!(
        reader.read_range(10..20, &file[s..e - 1]),
        Err(SegmentedError::FetchedLenMismatch {
            expected: 80,
            got: 79
        })
    );
    // Right length, wrong place (segment 1 where segment 0 belongs).
    assert_eq!(
        reader.read_range(10..20, &file[s + 80..e + 80]),
        Err(SegmentedError::SegmentAuthentication { index: 0 })
    );
    let body = &file[reader.header().header_len()..];
    assert_eq!(
        reader.decrypt_segments(4, body),
        Err(SegmentedError::NoSuchSegment { index: 4, count: 4 })
    );
    assert_eq!(
        reader.decrypt_segments(0, &body[..100]),
        Err(SegmentedError::FetchedLenMismatch {
            expected: 160,
            got: 100
        })
    );
    assert_eq!(
        reader.decrypt_segments(1, &body[80..160]),
        Ok(pattern(200)[64..128].to_vec())
    );
    let mut longer = body.to_vec();
    longer.extend_from_slice(&body[..80]);
    assert_eq!(
        reader.decrypt_segments(0, &longer),
        Err(SegmentedError::NoSuchSegment { index: 4, count: 4 })
    );
}

#[test]
fn no_plaintext_reaches_the_file() {
    let marker = b"SEALHOUSE-MARKER";
    let mut plaintext = Vec::new();
    for i in 0..50 {
        plaintext.extend_from_slice(&pattern(i * 3));
        plaintext.extend_from_slice(marker);
    }
    for cipher in FORMATS {
        for segment_size in [16, 64, DEFAULT_SEGMENT_SIZE] {
            let file = encrypt(cipher, segment_size, &plaintext, 100);
            assert!(
                !file.windows(marker.len()).any(|w| w == marker),
                "{cipher} at {segment_size}: marker in the ciphertext"
            );
            assert_eq!(decrypt_all(&file, &data_key()).as_ref(), Ok(&plaintext));
        }
    }
}

#[test]
fn two_files_under_one_key_differ() {
    for cipher in FORMATS {
        let a = encrypt(cipher, 64, &pattern(100), 100);
        let b = encrypt(cipher, 64, &pattern(100), 100);
        assert_ne!(a[16..32], b[16..32], "fresh nonce per file");
        let h = open(&a).expect("opens").header().header_len();
        assert_ne!(a[h..], b[h..], "ciphertexts differ");
    }
}

#[test]
fn writer_refuses_bad_parameters() {
    let key = data_key();
    let new = |key: &SecretBytes, wrapped: &[u8], size| {
        SegmentedWriter::new(Vec::new(), SegmentCipher::AesCtr, key, wrapped, size, PLACE)
            .map(|_| ())
    };
    assert_eq!(
        new(&key, WRAPPED, 0),
        Err(SegmentedError::InvalidSegmentSize(0))
    );
    assert_eq!(
        new(&key, WRAPPED, MAX_SEGMENT_SIZE + 1),
        Err(SegmentedError::InvalidSegmentSize(MAX_SEGMENT_SIZE + 1))
    );
    assert_eq!(
        new(&key, b"", 64),
        Err(SegmentedError::InvalidWrappedKeyLen(0))
    );
    assert_eq!(
        new(&SecretBytes::from_slice(&[1; 16]), WRAPPED, 64),
        Err(SegmentedError::InvalidDataKeyLen(16))
    );
}

#[test]
fn a_failed_inner_write_poisons_the_writer() {
    /// Accepts `room` bytes, then fails.
    struct Full {
        room: usize,
    }
    impl Write for Full {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("disk full"));
            }
            let n = data.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = SegmentedWriter::new(
        Full { room: 100 },
        SegmentCipher::AesCtr,
        &data_key(),
        WRAPPED,
        64,
        PLACE,
    )
    .expect("writer");
    assert!(w.write_all(&pattern(200)).is_err());
    assert!(w.write_all(b"x").is_err(), "poisoned");
    assert!(w.flush().is_err(), "poisoned");
    assert!(w.finish().is_err(), "poisoned");
}

#[test]
fn writer_memory_is_one_segment() {
    let mut w = SegmentedWriter::new(
        Vec::new(),
        SegmentCipher::AesCtr,
        &data_key(),
        WRAPPED,
        64,
        PLACE,
    )
    .expect("writer");
    w.write_all(&pattern(64 * 100 + 1)).expect("write");
    let shown = format!("{w:?}");
    assert!(
        shown.contains("segments_written: 100") && shown.contains("buffered: 1"),
        "{shown}"
    );
}

/// An empty file, and one of 150 bytes in 64-byte segments, with fixed key,
/// nonce, identity and wrapped key, as version 3 writes them (AESCTR) and as
/// version 2 did (both ciphers; `of_version(2)` still writes those bytes):
/// their SHA-256 pins every byte of the format. The expected values were
/// computed by independent implementations of docs/formats.md in Python
/// (pyca/cryptography 48 for AES-GCM, AES-CTR and ARC4, the standard
/// library's hmac for HKDF and HMAC); version 2's were pinned before
/// version 3 existed.
#[test]
fn file_vectors_are_pinned() {
    let nonce: [u8; 16] = std::array::from_fn(|i| 0xA0 + i as u8);
    let place = FileIdentity {
        table_id: 42,
        file_id: std::array::from_fn(|i| 0x10 + i as u8),
    };
    let plaintext = pattern(150);
    let cases = [
        (
            AESCTR,
            &plaintext[..],
            307,
            "14029958d277294ab7fc223e2ea48fdd7c906fbee3fb3a7b209a5b2ab62e7db9",
        ),
        (
            AESCTR,
            &[][..],
            125,
            "86bacdab80ed8b9f44c338c4414cf3c2b78e4dcf597a0c7fc8c6e76d11cc1064",
        ),
        (
            format(2, SegmentCipher::AesCtr),
            &plaintext[..],
            355,
            "dcbf86447d85f38f217524ab9b7edbc7b03c42e9537b8872c0689dd6218d29cb",
        ),
        (
            format(2, SegmentCipher::Rc4),
            &plaintext[..],
            355,
            "f1dd093ac81e28306e13b06144b66ebfa1fe8917fdfc303aa98f03f3b45feb97",
        ),
        (
            format(2, SegmentCipher::AesCtr),
            &[][..],
            141,
            "83f54c812bca61493a5a0d0390f281beb8b8a0294283fe303fb59daccf3bd227",
        ),
    ];
    for (format, plaintext, len, sha256) in cases {
        let start = writer::Start {
            version: format.version,
            nonce,
        };
        let mut w = SegmentedWriter::with_nonce(
            Vec::new(),
            format.cipher,
            &data_key(),
            WRAPPED,
            64,
            place,
            start,
        )
        .expect("writer");
        w.write_all(plaintext).expect("write");
        let file = w.finish().expect("finish");
        assert_eq!(file.len(), len, "{format}");
        assert_eq!(
            hex::encode(digest::digest(&digest::SHA256, &file)),
            sha256,
            "{format}"
        );
        assert_eq!(decrypt_all(&file, &data_key()).as_deref(), Ok(plaintext));
        let header = SegmentedHeader::parse(&file).expect("header");
        assert_eq!(header.identity(), Some(&place));
        assert_eq!(header.version(), format.version);
    }
}

/// A version-1 file (AESCTR, the 150 bytes above, 64-byte segments), as
/// builds before file identities wrote it (its SHA-256 was pinned then):
/// still read.
#[test]
fn version_1_files_still_read() {
    let file = hex::decode(V1_FILE).expect("hex");
    assert_eq!(
        hex::encode(digest::digest(&digest::SHA256, &file)),
        "451581ec71dfcb9248c54fcfaa2c9c56d108ab9ba4abe5cc4953d6cff0592347"
    );
    assert_eq!(decrypt_all(&file, &data_key()), Ok(pattern(150)));
    let header = SegmentedHeader::parse(&file).expect("header");
    assert_eq!((header.version(), header.identity()), (1, None));
    assert_eq!(read(&file, 70..90), Ok(pattern(150)[70..90].to_vec()));
}

const V1_FILE: &str = "53485345470000010100000000000040a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00136b6d732d636970686572746578742d626c6f6214e33f868d95b78e1f4f5d578511e5cc8ff93b09b480d2d828aa5dbd0358686e4172e940c1fec76a3310e8d1d2c889fd5c3dae830b5cc84eae56d47039258567401ce5b4ce2bbaf7cfb0f53d3e20aead56c3c786cbda61226f355c065a08a1d08b35c2977e417052550b4606d926a5abe0fed251b1f47cff160a829fc3391778bbdd7ce0c805e43a73c768e1afa77758b27801fa36700d7d9e36e51dcdcf01b85b3cc7dc7dedd3f8d73fb5f4969b7c444d1eb8b83b7b0422ce940be781589d1eb2eb481dc176d3cbd959bb5b2771ed4d6f7d30ceabf6a2b7f9aceb9c5789b95bc23791e570750ad55edf0bc06547783eb8d9cfdd19ed0456ba73bec3d42fc9f0e828c68f8176abe254c52f7614b2411c4a97fa5de718";

fn any_cipher() -> impl Strategy<Value = Format> {
    prop::sample::select(FORMATS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_plaintext_round_trips(
        cipher in any_cipher(),
        segment_size in 1u32..300,
        plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
        chunk in 1usize..500,
    ) {
        let file = encrypt(cipher, segment_size, &plaintext, chunk);
        prop_assert_eq!(decrypt_all(&file, &data_key()), Ok(plaintext));
    }

    #[test]
    fn any_range_reads_the_plaintext_slice(
        cipher in any_cipher(),
        segment_size in 1u32..300,
        plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let file = encrypt(cipher, segment_size, &plaintext, 257);
        let (a, b) = (a.index(plaintext.len() + 1), b.index(plaintext.len() + 1));
        let (start, end) = (a.min(b), a.max(b));
        prop_assert_eq!(read(&file, start as u64..end as u64), Ok(plaintext[start..end].to_vec()));
    }
}
