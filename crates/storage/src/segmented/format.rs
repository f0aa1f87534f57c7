//! The header of a segmented file: its fields, limits, encoding and parsing.
//!
//! ```text
//! offset  size  field
//!  0       8    magic "SHSEG\0\0" then the format version, 0x01
//!  8       1    cipher id: 1 AESCTR, 2 RC4
//!  9       3    reserved, zero
//! 12       4    segment_size, u32 BE: plaintext bytes per segment, 1 to 16 MiB
//! 16      16    file_nonce: random, the HKDF salt
//! 32       2    wrapped_key_len, u16 BE: 1 to 4096
//! 34       n    wrapped key: the KMS ciphertext blob of the data key, opaque here
//! 34+n    32    header_mac = HMAC-SHA256(mac_key, bytes 0 .. 34+n)
//! ```
//!
//! The header is `66 + n` bytes. Its first [`FIXED_HEADER_LEN`] bytes say how
//! long the rest is, so a reader over range requests fetches the header
//! exactly: 34 bytes, then [`SegmentedHeader::required_len`] bytes; or
//! [`MAX_HEADER_LEN`] bytes (capped at the file length) in one request.

use super::SegmentedError;
use super::cipher::SegmentCipher;
use super::keys::{MAC_LEN, Mac, NONCE_LEN, SegmentKeys};

/// The first eight bytes of a version-1 segmented file.
pub const MAGIC: [u8; 8] = *b"SHSEG\0\0\x01";
/// The format version this build reads and writes (the magic's last byte).
pub const FORMAT_VERSION: u8 = 1;
/// The plaintext bytes per segment writers should use unless they have a
/// reason not to: 64 KiB keeps a random read's overhead (one segment plus its
/// 32-byte tag) small while the tags add 0.05% to the file.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// The largest segment size, 16 MiB: a reader holds a whole segment to
/// verify it before returning any of it.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// The longest wrapped key a header holds. KMS ciphertext blobs of a 32-byte
/// data key are far shorter; the bound keeps a corrupt length from asking a
/// reader for megabytes.
pub const MAX_WRAPPED_KEY_LEN: usize = 4096;
/// Bytes of the header before the wrapped key: enough to learn the header's
/// full length.
pub const FIXED_HEADER_LEN: usize = 34;
/// The longest possible header (wrapped key of [`MAX_WRAPPED_KEY_LEN`] bytes).
pub const MAX_HEADER_LEN: usize = FIXED_HEADER_LEN + MAX_WRAPPED_KEY_LEN + MAC_LEN;
/// Bytes of tag after every segment's ciphertext.
pub const TAG_LEN: usize = MAC_LEN;

/// The magic without its version byte: what every version shares.
const MAGIC_FAMILY: &[u8] = b"SHSEG\0\0";

/// Whether `prefix` (the first bytes of a file, at least 7) starts like a
/// segmented file of any format version.
///
/// Meant for telling segmented files from Parquet (`PAR1`, `PARE`) and other
/// files; a future version is recognised here so that
/// [`SegmentedHeader::parse`] can say it needs a newer build.
pub fn is_segmented(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC_FAMILY)
}

/// A segmented file's header, parsed but not yet authenticated.
///
/// Nothing in it is secret: the wrapped key is the KMS's ciphertext. Its
/// fields are trustworthy only once [`super::SegmentedReader::new`] has
/// verified the header MAC under the data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentedHeader {
    cipher: SegmentCipher,
    segment_size: u32,
    file_nonce: [u8; NONCE_LEN],
    wrapped_key: Vec<u8>,
    mac: Mac,
}

impl SegmentedHeader {
    /// Parses the header at the start of `prefix`; bytes after it are
    /// ignored.
    ///
    /// A prefix that ends too early gives
    /// [`SegmentedError::IncompleteHeader`] with the number of bytes to fetch
    /// (34 until the wrapped key's length is known, then the exact header
    /// length). Any other error means the file is not a readable segmented
    /// file.
    pub fn parse(prefix: &[u8]) -> Result<Self, SegmentedError> {
        let incomplete = |needed| SegmentedError::IncompleteHeader {
            needed,
            have: prefix.len(),
        };
        let family = prefix.len().min(MAGIC_FAMILY.len());
        if prefix[..family] != MAGIC_FAMILY[..family] {
            return Err(SegmentedError::NotSegmented);
        }
        if let Some(&version) = prefix.get(7)
            && version != FORMAT_VERSION
        {
            return Err(SegmentedError::UnsupportedVersion(version));
        }
        let Some(fixed) = prefix.get(..FIXED_HEADER_LEN) else {
            return Err(incomplete(FIXED_HEADER_LEN));
        };
        let cipher = SegmentCipher::from_id(fixed[8])?;
        if fixed[9..12] != [0, 0, 0] {
            return Err(SegmentedError::ReservedNotZero);
        }
        let segment_size = u32::from_be_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
        check_segment_size(segment_size)?;
        let mut file_nonce = [0u8; NONCE_LEN];
        file_nonce.copy_from_slice(&fixed[16..32]);
        let wrapped_len = usize::from(u16::from_be_bytes([fixed[32], fixed[33]]));
        check_wrapped_key_len(wrapped_len)?;

        let header_len = FIXED_HEADER_LEN + wrapped_len + MAC_LEN;
        let Some(rest) = prefix.get(FIXED_HEADER_LEN..header_len) else {
            return Err(incomplete(header_len));
        };
        let (wrapped_key, mac) = rest.split_at(wrapped_len);
        Ok(Self {
            cipher,
            segment_size,
            file_nonce,
            wrapped_key: wrapped_key.to_vec(),
            mac: mac.try_into().expect("MAC_LEN bytes by the slice bounds"),
        })
    }

    /// How many bytes from the file's start [`Self::parse`] needs, judging by
    /// `prefix`: [`FIXED_HEADER_LEN`] while `prefix` is shorter than that,
    /// then the exact header length. Errors as `parse` does for a prefix that
    /// is not a readable header.
    pub fn required_len(prefix: &[u8]) -> Result<usize, SegmentedError> {
        match Self::parse(prefix) {
            Ok(header) => Ok(header.header_len()),
            Err(SegmentedError::IncompleteHeader { needed, .. }) => Ok(needed),
            Err(e) => Err(e),
        }
    }

    /// The cipher of the file's segments.
    pub fn cipher(&self) -> SegmentCipher {
        self.cipher
    }

    /// Plaintext bytes per segment (the last segment may hold fewer).
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The wrapped data key: hand it to KMS Decrypt to get the data key.
    pub fn wrapped_key(&self) -> &[u8] {
        &self.wrapped_key
    }

    /// The header's length in bytes; the first segment starts here.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + self.wrapped_key.len() + MAC_LEN
    }

    /// The file's nonce (HKDF salt).
    pub(crate) fn file_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.file_nonce
    }

    /// The header MAC, which every segment tag includes.
    pub(crate) fn mac(&self) -> &Mac {
        &self.mac
    }

    /// A header for a new file, its MAC made with `keys`.
    pub(crate) fn seal(
        cipher: SegmentCipher,
        segment_size: u32,
        file_nonce: [u8; NONCE_LEN],
        wrapped_key: &[u8],
        keys: &SegmentKeys,
    ) -> Result<Self, SegmentedError> {
        check_segment_size(segment_size)?;
        check_wrapped_key_len(wrapped_key.len())?;
        let mut header = Self {
            cipher,
            segment_size,
            file_nonce,
            wrapped_key: wrapped_key.to_vec(),
            mac: [0; MAC_LEN],
        };
        header.mac = keys.header_mac(&header.fields());
        Ok(header)
    }

    /// Checks the header MAC under `keys` (derived from this header's nonce).
    pub(crate) fn verify(&self, keys: &SegmentKeys) -> Result<(), SegmentedError> {
        keys.verify_header(&self.fields(), &self.mac)
    }

    /// The whole header as stored.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.fields();
        bytes.extend_from_slice(&self.mac);
        bytes
    }

    /// The header bytes the MAC covers: everything before it. Parsing accepts
    /// one encoding only (reserved bytes zero), so this re-encoding equals
    /// the bytes parsed.
    fn fields(&self) -> Vec<u8> {
        let wrapped_len =
            u16::try_from(self.wrapped_key.len()).expect("wrapped key length checked to be ≤ 4096");
        let mut bytes = Vec::with_capacity(self.header_len());
        bytes.extend_from_slice(&MAGIC);
        bytes.push(self.cipher.id());
        bytes.extend_from_slice(&[0, 0, 0]);
        bytes.extend_from_slice(&self.segment_size.to_be_bytes());
        bytes.extend_from_slice(&self.file_nonce);
        bytes.extend_from_slice(&wrapped_len.to_be_bytes());
        bytes.extend_from_slice(&self.wrapped_key);
        bytes
    }
}

fn check_segment_size(size: u32) -> Result<(), SegmentedError> {
    if (1..=MAX_SEGMENT_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(SegmentedError::InvalidSegmentSize(size))
    }
}

fn check_wrapped_key_len(len: usize) -> Result<(), SegmentedError> {
    if (1..=MAX_WRAPPED_KEY_LEN).contains(&len) {
        Ok(())
    } else {
        Err(SegmentedError::InvalidWrappedKeyLen(len))
    }
}

#[cfg(test)]
mod tests {
    use sealhouse_crypto::SecretBytes;

    use super::*;

    fn sample() -> SegmentedHeader {
        let keys = SegmentKeys::derive(
            SegmentCipher::Rc4,
            &SecretBytes::from_slice(&[1; 32]),
            &[9; 16],
        )
        .expect("keys");
        SegmentedHeader::seal(SegmentCipher::Rc4, 300, [9; 16], b"wrapped!", &keys).expect("header")
    }

    #[test]
    fn layout_of_the_bytes_is_as_documented() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 66 + 8);
        assert_eq!(&bytes[..8], b"SHSEG\0\0\x01");
        assert_eq!(bytes[8], 2);
        assert_eq!(&bytes[9..12], &[0, 0, 0]);
        assert_eq!(&bytes[12..16], &300u32.to_be_bytes());
        assert_eq!(&bytes[16..32], &[9; 16]);
        assert_eq!(&bytes[32..34], &[0, 8]);
        assert_eq!(&bytes[34..42], b"wrapped!");
        assert_eq!(&bytes[42..], sample().mac());
    }

    #[test]
    fn parse_round_trips_and_ignores_trailing_bytes() {
        let header = sample();
        let mut bytes = header.to_bytes();
        assert_eq!(SegmentedHeader::parse(&bytes), Ok(header.clone()));
        bytes.extend_from_slice(b"segments follow");
        let parsed = SegmentedHeader::parse(&bytes).expect("parses");
        assert_eq!(parsed, header);
        assert_eq!(parsed.header_len(), 74);
        assert_eq!(parsed.cipher(), SegmentCipher::Rc4);
        assert_eq!(parsed.segment_size(), 300);
        assert_eq!(parsed.wrapped_key(), b"wrapped!");
    }

    #[test]
    fn every_short_prefix_asks_for_more_or_is_rejected() {
        let bytes = sample().to_bytes();
        for len in 0..bytes.len() {
            let needed = if len < FIXED_HEADER_LEN {
                FIXED_HEADER_LEN
            } else {
                74
            };
            assert_eq!(
                SegmentedHeader::parse(&bytes[..len]),
                Err(SegmentedError::IncompleteHeader { needed, have: len }),
                "prefix of {len}"
            );
            assert_eq!(SegmentedHeader::required_len(&bytes[..len]), Ok(needed));
        }
        assert_eq!(SegmentedHeader::required_len(&bytes), Ok(74));
    }

    #[test]
    fn magic_and_version_are_checked_first() {
        assert!(is_segmented(b"SHSEG\0\0\x01"));
        assert!(is_segmented(b"SHSEG\0\0\x02 and more"));
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
            SegmentedHeader::parse(b"SHSEG\0\0\x02"),
            Err(SegmentedError::UnsupportedVersion(2))
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
            with(32, &[0, 0]),
            Err(SegmentedError::InvalidWrappedKeyLen(0))
        );
        assert_eq!(
            with(32, &[0x10, 0x01]),
            Err(SegmentedError::InvalidWrappedKeyLen(4097))
        );
    }

    #[test]
    fn longest_header_fits_max_header_len() {
        let keys = SegmentKeys::derive(
            SegmentCipher::AesCtr,
            &SecretBytes::from_slice(&[1; 32]),
            &[0; 16],
        )
        .expect("keys");
        let wrapped = vec![7u8; MAX_WRAPPED_KEY_LEN];
        let header = SegmentedHeader::seal(SegmentCipher::AesCtr, 1, [0; 16], &wrapped, &keys)
            .expect("header");
        assert_eq!(header.to_bytes().len(), MAX_HEADER_LEN);
        assert_eq!(
            SegmentedHeader::required_len(&header.to_bytes()[..40]),
            Ok(MAX_HEADER_LEN)
        );
        let too_long = vec![7u8; MAX_WRAPPED_KEY_LEN + 1];
        assert_eq!(
            SegmentedHeader::seal(SegmentCipher::AesCtr, 1, [0; 16], &too_long, &keys),
            Err(SegmentedError::InvalidWrappedKeyLen(4097))
        );
        assert_eq!(
            SegmentedHeader::seal(SegmentCipher::AesCtr, 0, [0; 16], b"w", &keys),
            Err(SegmentedError::InvalidSegmentSize(0))
        );
    }
}
