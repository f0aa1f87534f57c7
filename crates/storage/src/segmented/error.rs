//! What reading or writing a segmented file can fail with.
//!
//! Three kinds, kept apart so a caller can react to each:
//!
//! - **bad input from outside** (the file's bytes): not our format, a header
//!   field out of range, a length no writer produces, a failed
//!   authentication. A file that fails here is corrupt, truncated, tampered
//!   with, or read with the wrong key.
//! - **the caller's misuse**: a data key of the wrong length, a wrapped key
//!   or segment size out of range, a plaintext range past the end, fetched
//!   bytes that are not the range asked for.
//! - **the environment**: no randomness for the file nonce.
//!
//! No message contains key material. Authentication failures say which
//! segment failed (its index is public: it follows from the byte offsets the
//! caller fetched) and never why, so they are no oracle.

use super::format::{MAX_SEGMENT_SIZE, MAX_WRAPPED_KEY_LEN};

/// Everything the segmented format can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentedError {
    /// The bytes do not start with the segmented magic `SHSEG\0\0`.
    #[error("not a Sealhouse segmented file: the magic bytes SHSEG are missing")]
    NotSegmented,
    /// A segmented file of a format version this build does not read.
    #[error(
        "segmented file format version {0} is not supported: this build reads versions 1 to 3; upgrade Sealhouse to read it"
    )]
    UnsupportedVersion(u8),
    /// A cipher id other than 1 (AESCTR) or 2 (RC4) in a header.
    #[error("segmented file header names cipher id {0}, which is unknown: 1 is AESCTR, 2 is RC4")]
    UnknownCipherId(u8),
    /// A cipher name other than AESCTR or RC4.
    #[error("'{0}' is not a segmented file cipher: use AESCTR or RC4")]
    UnknownCipherName(String),
    /// The three reserved header bytes are not zero.
    #[error("segmented file header is malformed: its reserved bytes are not zero")]
    ReservedNotZero,
    /// A segment size of 0 or over 16 MiB (in a header, or asked of a writer).
    #[error("segment size {0} is out of range: it must be 1 to {max} bytes", max = MAX_SEGMENT_SIZE)]
    InvalidSegmentSize(u32),
    /// A wrapped key of 0 or more than 4096 bytes (in a header, or given to
    /// a writer).
    #[error(
        "wrapped data key of {0} bytes is out of range: it must be 1 to {max} bytes",
        max = MAX_WRAPPED_KEY_LEN
    )]
    InvalidWrappedKeyLen(usize),
    /// The prefix handed to the header parser ends before the header does.
    /// Not a corrupt file: fetch `needed` bytes from the start and parse again.
    #[error(
        "segmented file header incomplete: {have} bytes given, {needed} needed; read at least {needed} bytes from the start of the file"
    )]
    IncompleteHeader {
        /// Bytes the header needs (at least; exact once the wrapped key's
        /// length is among the bytes given).
        needed: usize,
        /// Bytes that were given.
        have: usize,
    },
    /// A data key that is not 32 bytes.
    #[error(
        "the data key is {0} bytes; segmented files need a 32-byte data key (KMS GenerateDataKey with KeySpec AES_256)"
    )]
    InvalidDataKeyLen(usize),
    /// An authenticated header names another place than the one it was read
    /// from: a file copied over another.
    #[error(
        "the file was written as {found}, but it was read as {expected}: another file was put in its place"
    )]
    WrongPlace {
        /// Where it was read from.
        expected: super::format::FileIdentity,
        /// Where its header says it belongs.
        found: super::format::FileIdentity,
    },
    /// The header's MAC does not verify under the data key.
    #[error(
        "header authentication failed: wrong data key or modified header (was the wrapped key decrypted with the right CMK?)"
    )]
    HeaderAuthentication,
    /// A segment's tag does not verify.
    #[error(
        "segment {index} failed authentication: the file was modified, truncated or its segments reordered"
    )]
    SegmentAuthentication {
        /// The segment's index (0-based).
        index: u64,
    },
    /// A total file length that no writer produces with this header: a
    /// partial tag at the end, or a last segment that cannot be the final one.
    #[error(
        "a segmented file of {file_len} bytes cannot exist with a {header_len}-byte header and {segment_size}-byte segments: the file was truncated or extended"
    )]
    InvalidFileLength {
        /// The total file length given.
        file_len: u64,
        /// The header's length.
        header_len: usize,
        /// The header's segment size.
        segment_size: u32,
    },
    /// A plaintext range that is reversed or ends past the plaintext.
    #[error("plaintext range {start}..{end} is outside the file's {plaintext_len} bytes")]
    RangeOutOfBounds {
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// The file's plaintext length.
        plaintext_len: u64,
    },
    /// Bytes handed to a decrypting call that are not the ciphertext range
    /// it needs (for example, not what `ciphertext_range_for` named).
    #[error(
        "{got} ciphertext bytes were given where {expected} were needed: fetch exactly the range ciphertext_range_for returns"
    )]
    FetchedLenMismatch {
        /// Bytes needed.
        expected: u64,
        /// Bytes given.
        got: u64,
    },
    /// Segments asked for that the file does not have.
    #[error("segment {index} does not exist: the file has {count} segments")]
    NoSuchSegment {
        /// The index asked for.
        index: u64,
        /// How many the file has.
        count: u64,
    },
    /// The operating system's random generator failed (file nonce).
    #[error("the operating system's random number generator is unavailable")]
    RandomUnavailable,
}
