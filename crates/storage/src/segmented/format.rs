//! The header of a segmented file: its fields, limits, encoding and parsing.
//!
//! Version 3 (written since AESCTR segments are AES-256-GCM; see
//! `keys.rs`) and version 2 (written since the catalog binds files to their
//! place, until version 3) share one header layout:
//!
//! ```text
//! offset  size  field
//!  0       8    magic "SHSEG\0\0" then the format version, 0x03 (or 0x02)
//!  8       1    cipher id: 1 AESCTR, 2 RC4
//!  9       3    reserved, zero
//! 12       4    segment_size, u32 BE: plaintext bytes per segment, 1 to 16 MiB
//! 16      16    file_nonce: random, the HKDF salt
//! 32       8    table_id, i64 BE: the table the file was written for
//! 40      16    file_id: the id the file was committed under (a UUID)
//! 56       2    wrapped_key_len, u16 BE: 1 to 4096
//! 58       n    wrapped key: the KMS ciphertext blob of the data key, opaque here
//! 58+n    32    header_mac = HMAC-SHA256(mac_key, bytes 0 .. 58+n)
//! ```
//!
//! Version 1 (still read) has no `table_id` and `file_id`: its wrapped key
//! length is at offset 32 and the key at 34. The header MAC covers the
//! identity, so a version-2 file copied over another file of the same key
//! (another table, another project of the same key account) still
//! authenticates but names its own place, which readers compare with the
//! place they read it from ([`SegmentedHeader::check_identity`]).
//!
//! A version-2 or -3 header is `90 + n` bytes. Its first [`FIXED_HEADER_LEN`]
//! bytes say how long the rest is, so a reader over range requests fetches
//! the header exactly: [`FIXED_HEADER_LEN`] bytes, then
//! [`SegmentedHeader::required_len`] bytes; or [`MAX_HEADER_LEN`] bytes
//! (capped at the file length) in one request.

use std::path::Path;

use super::SegmentedError;
use super::cipher::SegmentCipher;
use super::keys::{self, MAC_LEN, Mac, NONCE_LEN, SegmentKeys};

/// The first eight bytes of a segmented file of the version this build
/// writes.
pub const MAGIC: [u8; 8] = *b"SHSEG\0\0\x03";
/// The format version this build writes (the magic's last byte); it reads
/// this one and versions 1 and 2.
pub const FORMAT_VERSION: u8 = 3;
/// The plaintext bytes per segment writers should use unless they have a
/// reason not to: 64 KiB keeps a random read's overhead (one segment plus its
/// tag of 16 or 32 bytes) small while the tags add at most 0.05% to the file.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// The largest segment size, 16 MiB: a reader holds a whole segment to
/// verify it before returning any of it.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// The longest wrapped key a header holds. KMS ciphertext blobs of a 32-byte
/// data key are far shorter; the bound keeps a corrupt length from asking a
/// reader for megabytes.
pub const MAX_WRAPPED_KEY_LEN: usize = 4096;
/// Bytes of a version-2 or -3 header before the wrapped key: enough to learn the
/// header's full length (of any version).
pub const FIXED_HEADER_LEN: usize = 58;
/// The longest possible header (wrapped key of [`MAX_WRAPPED_KEY_LEN`] bytes).
pub const MAX_HEADER_LEN: usize = FIXED_HEADER_LEN + MAX_WRAPPED_KEY_LEN + MAC_LEN;

/// The magic without its version byte: what every version shares.
const MAGIC_FAMILY: &[u8] = b"SHSEG\0\0";
/// Bytes before the wrapped key in a version-1 header.
const FIXED_HEADER_LEN_V1: usize = 34;

/// Whether `prefix` (the first bytes of a file, at least 7) starts like a
/// segmented file of any format version.
///
/// Meant for telling segmented files from Parquet (`PAR1`, `PARE`) and other
/// files; a future version is recognised here so that
/// [`SegmentedHeader::parse`] can say it needs a newer build.
pub fn is_segmented(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC_FAMILY)
}

/// Where a file belongs: the table it was written for and the id it was
/// committed under. Version-2 headers carry it under their MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// The table's id (never reused).
    pub table_id: i64,
    /// The file's id: the 16 bytes of the UUID in its name.
    pub file_id: [u8; 16],
}

impl FileIdentity {
    /// The identity of table `table_id`'s file named by `file_id`, the
    /// 32 hexadecimal digits of a data file's name. `None` if it is not such
    /// a name.
    pub fn new(table_id: i64, file_id: &str) -> Option<Self> {
        if file_id.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(file_id.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self {
            table_id,
            file_id: bytes,
        })
    }

    /// The identity a data file at `path` must carry: its table from the
    /// directory (`tables/<table id>/`), its id from its name
    /// (`<file id>.parquet`).
    pub fn of_path(path: &Path) -> Option<Self> {
        let file_id = crate::file_id_of(path)?;
        let table_id = path.parent()?.file_name()?.to_str()?.parse().ok()?;
        Self::new(table_id, file_id)
    }
}

impl std::fmt::Display for FileIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "file ")?;
        for b in self.file_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, " of table {}", self.table_id)
    }
}

/// A segmented file's header, parsed but not yet authenticated.
///
/// Nothing in it is secret: the wrapped key is the KMS's ciphertext. Its
/// fields are trustworthy only once [`super::SegmentedReader::new`] has
/// verified the header MAC under the data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentedHeader {
    version: u8,
    cipher: SegmentCipher,
    segment_size: u32,
    file_nonce: [u8; NONCE_LEN],
    /// `None` in version-1 headers.
    identity: Option<FileIdentity>,
    wrapped_key: Vec<u8>,
    mac: Mac,
}

impl SegmentedHeader {
    /// Parses the header at the start of `prefix`; bytes after it are
    /// ignored.
    ///
    /// A prefix that ends too early gives
    /// [`SegmentedError::IncompleteHeader`] with the number of bytes to fetch
    /// ([`FIXED_HEADER_LEN`] until the wrapped key's length is known, then
    /// the exact header length). Any other error means the file is not a
    /// readable segmented file.
    pub fn parse(prefix: &[u8]) -> Result<Self, SegmentedError> {
        let incomplete = |needed| SegmentedError::IncompleteHeader {
            needed,
            have: prefix.len(),
        };
        let family = prefix.len().min(MAGIC_FAMILY.len());
        if prefix[..family] != MAGIC_FAMILY[..family] {
            return Err(SegmentedError::NotSegmented);
        }
        let Some(&version) = prefix.get(7) else {
            return Err(incomplete(FIXED_HEADER_LEN));
        };
        let fixed_len = match version {
            1 => FIXED_HEADER_LEN_V1,
            2 | FORMAT_VERSION => FIXED_HEADER_LEN,
            other => return Err(SegmentedError::UnsupportedVersion(other)),
        };
        let Some(fixed) = prefix.get(..fixed_len) else {
            return Err(incomplete(fixed_len));
        };
        let cipher = SegmentCipher::from_id(fixed[8])?;
        if fixed[9..12] != [0, 0, 0] {
            return Err(SegmentedError::ReservedNotZero);
        }
        let segment_size = u32::from_be_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
        check_segment_size(segment_size)?;
        let mut file_nonce = [0u8; NONCE_LEN];
        file_nonce.copy_from_slice(&fixed[16..32]);
        let identity = (version >= 2).then(|| {
            let mut table_id = [0u8; 8];
            table_id.copy_from_slice(&fixed[32..40]);
            let mut file_id = [0u8; 16];
            file_id.copy_from_slice(&fixed[40..56]);
            FileIdentity {
                table_id: i64::from_be_bytes(table_id),
                file_id,
            }
        });
        let wrapped_len = usize::from(u16::from_be_bytes([
            fixed[fixed_len - 2],
            fixed[fixed_len - 1],
        ]));
        check_wrapped_key_len(wrapped_len)?;

        let header_len = fixed_len + wrapped_len + MAC_LEN;
        let Some(rest) = prefix.get(fixed_len..header_len) else {
            return Err(incomplete(header_len));
        };
        let (wrapped_key, mac) = rest.split_at(wrapped_len);
        Ok(Self {
            version,
            cipher,
            segment_size,
            file_nonce,
            identity,
            wrapped_key: wrapped_key.to_vec(),
            mac: mac.try_into().expect("MAC_LEN bytes by the slice bounds"),
        })
    }

    /// How many bytes from the file's start [`Self::parse`] needs, judging by
    /// `prefix`: [`FIXED_HEADER_LEN`] while `prefix` is shorter than the
    /// fixed part, then the exact header length. Errors as `parse` does for a
    /// prefix that is not a readable header.
    pub fn required_len(prefix: &[u8]) -> Result<usize, SegmentedError> {
        match Self::parse(prefix) {
            Ok(header) => Ok(header.header_len()),
            Err(SegmentedError::IncompleteHeader { needed, .. }) => Ok(needed),
            Err(e) => Err(e),
        }
    }

    /// The format version (1 to 3).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The cipher of the file's segments.
    pub fn cipher(&self) -> SegmentCipher {
        self.cipher
    }

    /// Bytes of tag after each segment's ciphertext: 16 for AES-256-GCM
    /// (version 3 AESCTR), 32 for HMAC-SHA256.
    pub fn tag_len(&self) -> usize {
        keys::tag_len(self.version, self.cipher)
    }

    /// Plaintext bytes per segment (the last segment may hold fewer).
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// Where the file says it belongs (`None` for version 1, which does not
    /// say). Trustworthy once the header is authenticated.
    pub fn identity(&self) -> Option<&FileIdentity> {
        self.identity.as_ref()
    }

    /// Fails with [`SegmentedError::WrongPlace`] if the header names
    /// another place than `expected`: a file copied over another. Version-1
    /// headers name none; the catalog's pinned header digest guards them.
    /// Meaningful once the header is authenticated.
    pub fn check_identity(&self, expected: &FileIdentity) -> Result<(), SegmentedError> {
        match &self.identity {
            Some(found) if found != expected => Err(SegmentedError::WrongPlace {
                expected: *expected,
                found: *found,
            }),
            _ => Ok(()),
        }
    }

    /// The SHA-256 of the header as stored: what the catalog pins for a
    /// segmented file at commit. (Parsing accepts one encoding only, so the
    /// re-encoding hashed here equals the bytes read.)
    pub fn sha256(&self) -> [u8; 32] {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.to_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The wrapped data key: hand it to KMS Decrypt to get the data key.
    pub fn wrapped_key(&self) -> &[u8] {
        &self.wrapped_key
    }

    /// The header's length in bytes; the first segment starts here.
    pub fn header_len(&self) -> usize {
        self.fixed_len() + self.wrapped_key.len() + MAC_LEN
    }

    fn fixed_len(&self) -> usize {
        if self.identity.is_some() {
            FIXED_HEADER_LEN
        } else {
            FIXED_HEADER_LEN_V1
        }
    }

    /// The file's nonce (HKDF salt).
    pub(crate) fn file_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.file_nonce
    }

    /// The header MAC, which every segment tag includes.
    pub(crate) fn mac(&self) -> &Mac {
        &self.mac
    }

    /// A header of format `version` (2 or 3) for a new file of `identity`,
    /// its MAC made with `keys`.
    pub(crate) fn seal(
        version: u8,
        cipher: SegmentCipher,
        segment_size: u32,
        file_nonce: [u8; NONCE_LEN],
        identity: FileIdentity,
        wrapped_key: &[u8],
        keys: &SegmentKeys,
    ) -> Result<Self, SegmentedError> {
        check_segment_size(segment_size)?;
        check_wrapped_key_len(wrapped_key.len())?;
        if !(2..=FORMAT_VERSION).contains(&version) {
            return Err(SegmentedError::UnsupportedVersion(version));
        }
        let mut header = Self {
            version,
            cipher,
            segment_size,
            file_nonce,
            identity: Some(identity),
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
        bytes.extend_from_slice(MAGIC_FAMILY);
        bytes.push(self.version);
        bytes.push(self.cipher.id());
        bytes.extend_from_slice(&[0, 0, 0]);
        bytes.extend_from_slice(&self.segment_size.to_be_bytes());
        bytes.extend_from_slice(&self.file_nonce);
        if let Some(identity) = &self.identity {
            bytes.extend_from_slice(&identity.table_id.to_be_bytes());
            bytes.extend_from_slice(&identity.file_id);
        }
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
#[path = "format_tests.rs"]
mod tests;
