//! Segmented encrypted files: the whole-file format of the AESCTR and RC4
//! project storage-encryption settings.
//!
//! The parquet crate has no `AES_GCM_CTR_V1`, so under these settings a data
//! file is encrypted whole, in independently addressable segments: a random
//! range read fetches and decrypts only the segments it touches. Each file
//! has its own data key from KMS GenerateDataKey; the header stores the
//! wrapped (KMS-encrypted) copy, and the caller supplies the plaintext copy.
//! Nothing here talks to a KMS.
//!
//! Layout (byte by byte in `docs/formats.md`, "Segmented encrypted file"):
//!
//! ```text
//! header     magic "SHSEG\0\0" 0x03 | cipher id | 3 zero bytes | segment_size u32 BE
//!            | file_nonce (16) | table_id i64 BE | file_id (16) | wrapped_key_len u16 BE
//!            | wrapped key | header_mac (32)
//! segment 0  ciphertext (segment_size bytes) | tag (16 for AESCTR, 32 for RC4)
//! ...
//! segment n  ciphertext (0..=segment_size bytes) | tag     the final segment
//! ```
//!
//! It is the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár:
//! each segment is sealed with its index and a final flag, under keys
//! derived from the data key and the file's nonce by HKDF-SHA256: AESCTR
//! segments with AES-256-GCM (AES-256-CTR and a GHASH tag; version 3), RC4
//! segments (and every segment of version 1 and 2 files, still read) with
//! the cipher then HMAC-SHA256. So flipping, swapping,
//! dropping or appending segments, truncating at a segment boundary, or
//! editing the header is detected: reads fail and never return wrong
//! plaintext.
//!
//! **RC4 is insecure.** Its keystream is biased (RFC 7465 bans it from TLS)
//! and it exists here only for compatibility with projects set to RC4; it is
//! never a default. Its HMAC, not RC4, is what makes tampering detectable, so
//! integrity is the same under both ciphers; confidentiality under RC4 is
//! weak. Choose AESCTR.
//!
//! Pieces: [`SegmentCipher`] names the cipher; [`SegmentedWriter`] encrypts a
//! stream; [`SegmentedHeader`] parses a file's header (from a prefix, for
//! range reads); [`SegmentedReader`] authenticates the header under the data
//! key and decrypts any plaintext range; [`decrypt_all`] does it all for a
//! file in memory.

mod cipher;
mod error;
mod format;
mod keys;
mod layout;
mod reader;
mod writer;

#[cfg(test)]
mod tamper_tests;
#[cfg(test)]
mod tests;

pub use cipher::SegmentCipher;
pub use error::SegmentedError;
pub use format::{
    DEFAULT_SEGMENT_SIZE, FIXED_HEADER_LEN, FORMAT_VERSION, FileIdentity, MAGIC, MAX_HEADER_LEN,
    MAX_SEGMENT_SIZE, MAX_WRAPPED_KEY_LEN, SegmentedHeader, is_segmented,
};
pub use reader::{SegmentedReader, decrypt_all};
pub use writer::SegmentedWriter;

impl SegmentedHeader {
    /// The plaintext length of a file with this header that is `file_len`
    /// bytes long: it follows from the layout, so no key is needed (readers
    /// size the object before they open its data key).
    pub fn plaintext_len(&self, file_len: u64) -> Result<u64, SegmentedError> {
        let layout = layout::Layout::new(
            self.header_len(),
            self.segment_size(),
            self.tag_len(),
            file_len,
        )?;
        Ok(layout.plaintext_len())
    }
}
