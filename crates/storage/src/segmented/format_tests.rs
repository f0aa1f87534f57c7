//! Unit tests of the segmented file header (`format.rs`).

use sealhouse_crypto::SecretBytes;

use super::*;

const ID: FileIdentity = FileIdentity {
    table_id: 0x0102_0304_0506_0708,
    file_id: [0xEE; 16],
};

fn keys() -> SegmentKeys {
    SegmentKeys::derive(
        FORMAT_VERSION,
        SegmentCipher::Rc4,
        &SecretBytes::from_slice(&[1; 32]),
        &[9; 16],
    )
    .expect("keys")
}

fn sample() -> SegmentedHeader {
    SegmentedHeader::seal(
        FORMAT_VERSION,
        SegmentCipher::Rc4,
        300,
        [9; 16],
        ID,
        b"wrapped!",
        &keys(),
    )
    .expect("header")
}

#[test]
fn layout_of_the_bytes_is_as_documented() {
    let bytes = sample().to_bytes();
    assert_eq!(bytes.len(), 90 + 8);
    assert_eq!(&bytes[..8], b"SHSEG\0\0\x03");
    assert_eq!(bytes[8], 2);
    assert_eq!(&bytes[9..12], &[0, 0, 0]);
    assert_eq!(&bytes[12..16], &300u32.to_be_bytes());
    assert_eq!(&bytes[16..32], &[9; 16]);
    assert_eq!(&bytes[32..40], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&bytes[40..56], &[0xEE; 16]);
    assert_eq!(&bytes[56..58], &[0, 8]);
    assert_eq!(&bytes[58..66], b"wrapped!");
    assert_eq!(&bytes[66..], sample().mac());
}

#[test]
fn parse_round_trips_and_ignores_trailing_bytes() {
    let header = sample();
    let mut bytes = header.to_bytes();
    assert_eq!(SegmentedHeader::parse(&bytes), Ok(header.clone()));
    bytes.extend_from_slice(b"segments follow");
    let parsed = SegmentedHeader::parse(&bytes).expect("parses");
    assert_eq!(parsed, header);
    assert_eq!(parsed.header_len(), 98);
    assert_eq!(parsed.version(), 3);
    assert_eq!(parsed.cipher(), SegmentCipher::Rc4);
    assert_eq!(parsed.segment_size(), 300);
    assert_eq!(parsed.identity(), Some(&ID));
    assert_eq!(parsed.wrapped_key(), b"wrapped!");
    let direct = ring::digest::digest(&ring::digest::SHA256, &bytes[..98]);
    assert_eq!(parsed.sha256().as_slice(), direct.as_ref());
}

/// A version-1 header (no identity): what files written before carry.
fn sample_v1() -> SegmentedHeader {
    let mut header = sample();
    header.version = 1;
    header.identity = None;
    header.mac = keys().header_mac(&header.fields());
    header
}

#[test]
fn version_1_headers_still_parse() {
    let header = sample_v1();
    let bytes = header.to_bytes();
    assert_eq!(bytes.len(), 66 + 8);
    assert_eq!(&bytes[..8], b"SHSEG\0\0\x01");
    assert_eq!(&bytes[32..34], &[0, 8]);
    assert_eq!(&bytes[34..42], b"wrapped!");
    let parsed = SegmentedHeader::parse(&bytes).expect("v1");
    assert_eq!(parsed, header);
    assert_eq!(parsed.identity(), None);
    parsed.verify(&keys()).expect("v1 MAC");
    // Version 1 names no place: nothing to compare.
    parsed.check_identity(&ID).expect("v1 has no identity");
}

#[test]
fn identity_is_compared_and_authenticated() {
    let header = sample();
    header.check_identity(&ID).expect("own place");
    let other = FileIdentity { table_id: 9, ..ID };
    let err = header.check_identity(&other).expect_err("another place");
    assert!(
        err.to_string().contains("of table 9")
            && err.to_string().contains("of table 72623859790382856"),
        "{err}"
    );
    // Rewriting the identity breaks the header MAC.
    let mut bytes = header.to_bytes();
    bytes[39] ^= 1;
    let forged = SegmentedHeader::parse(&bytes).expect("parses");
    assert!(forged.verify(&keys()).is_err());
}

#[test]
fn identities_come_from_paths() {
    let path = Path::new("/d/tables/42/000102030405060708090a0b0c0d0e0f.parquet");
    let id = FileIdentity::of_path(path).expect("data file path");
    assert_eq!(id.table_id, 42);
    assert_eq!(id.file_id, std::array::from_fn(|i| i as u8));
    assert!(FileIdentity::of_path(Path::new("/d/tables/x/00.parquet")).is_none());
    assert!(
        FileIdentity::of_path(Path::new(
            "/d/tables/1/zz02030405060708090a0b0c0d0e0f.parquet"
        ))
        .is_none()
    );
    assert!(FileIdentity::new(1, "0001").is_none());
}

#[test]
fn every_short_prefix_asks_for_more_or_is_rejected() {
    let bytes = sample().to_bytes();
    for len in 0..bytes.len() {
        let needed = if len < FIXED_HEADER_LEN {
            FIXED_HEADER_LEN
        } else {
            98
        };
        assert_eq!(
            SegmentedHeader::parse(&bytes[..len]),
            Err(SegmentedError::IncompleteHeader { needed, have: len }),
            "prefix of {len}"
        );
        assert_eq!(SegmentedHeader::required_len(&bytes[..len]), Ok(needed));
    }
    assert_eq!(SegmentedHeader::required_len(&bytes), Ok(98));
    let v1 = sample_v1().to_bytes();
    for len in 8..v1.len() {
        let needed = if len < FIXED_HEADER_LEN_V1 {
            FIXED_HEADER_LEN_V1
        } else {
            74
        };
        assert_eq!(
            SegmentedHeader::required_len(&v1[..len]),
            Ok(needed),
            "v1 prefix of {len}"
        );
    }
}

#[test]
fn magic_and_version_are_checked_first() {
    assert!(is_segmented(b"SHSEG\0\0\x01"));
    assert!(is_segmented(b"SHSEG\0\0\x02 and more"));
    assert!(is_segmented(b"SHSEG\0\0\x03"));
    assert!(!is_segmented(b"PAR1"));
    assert!(!is_segmented(b"SHSEG\0"));
    assert_eq!(
        SegmentedHeader::parse(b"PAR1"),
        Err(SegmentedError::NotSegmented)
    );
    assert_eq!(
        SegmentedHeader::parse(b"SHX"),
        Err(SegmentedError::NotSegmented)
    );
    assert_eq!(
        SegmentedHeader::parse(b"SHSEG\0\0\x04"),
        Err(SegmentedError::UnsupportedVersion(4))
    );
    let mut bytes = sample().to_bytes();
    bytes[7] = 9;
    assert_eq!(
        SegmentedHeader::parse(&bytes),
        Err(SegmentedError::UnsupportedVersion(9))
    );
}

#[test]
fn out_of_range_fields_are_rejected() {
    let good = sample().to_bytes();
    let with = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        SegmentedHeader::parse(&b)
    };
    assert_eq!(with(8, &[0]), Err(SegmentedError::UnknownCipherId(0)));
    assert_eq!(with(8, &[3]), Err(SegmentedError::UnknownCipherId(3)));
    assert_eq!(with(10, &[1]), Err(SegmentedError::ReservedNotZero));
    assert_eq!(
        with(12, &0u32.to_be_bytes()),
        Err(SegmentedError::InvalidSegmentSize(0))
    );
    let too_big = MAX_SEGMENT_SIZE + 1;
    assert_eq!(
        with(12, &too_big.to_be_bytes()),
        Err(SegmentedError::InvalidSegmentSize(too_big))
    );
    assert!(with(12, &MAX_SEGMENT_SIZE.to_be_bytes()).is_ok());
    assert_eq!(
        with(56, &[0, 0]),
        Err(SegmentedError::InvalidWrappedKeyLen(0))
    );
    assert_eq!(
        with(56, &[0x10, 0x01]),
        Err(SegmentedError::InvalidWrappedKeyLen(4097))
    );
}

/// An AESCTR header of the current version with `segment_size` and `wrapped`.
fn seal(
    segment_size: u32,
    wrapped: &[u8],
    keys: &SegmentKeys,
) -> Result<SegmentedHeader, SegmentedError> {
    SegmentedHeader::seal(
        FORMAT_VERSION,
        SegmentCipher::AesCtr,
        segment_size,
        [0; 16],
        ID,
        wrapped,
        keys,
    )
}

#[test]
fn only_versions_2_and_3_are_written() {
    for version in [0, 1, 4] {
        assert_eq!(
            SegmentedHeader::seal(
                version,
                SegmentCipher::AesCtr,
                64,
                [0; 16],
                ID,
                b"w",
                &keys()
            ),
            Err(SegmentedError::UnsupportedVersion(version))
        );
    }
}

#[test]
fn longest_header_fits_max_header_len() {
    let keys = keys();
    let wrapped = vec![7u8; MAX_WRAPPED_KEY_LEN];
    let header = seal(1, &wrapped, &keys).expect("header");
    assert_eq!(header.to_bytes().len(), MAX_HEADER_LEN);
    assert_eq!(
        SegmentedHeader::required_len(&header.to_bytes()[..60]),
        Ok(MAX_HEADER_LEN)
    );
    let too_long = vec![7u8; MAX_WRAPPED_KEY_LEN + 1];
    assert_eq!(
        seal(1, &too_long, &keys),
        Err(SegmentedError::InvalidWrappedKeyLen(4097))
    );
    assert_eq!(
        seal(0, b"w", &keys),
        Err(SegmentedError::InvalidSegmentSize(0))
    );
}
