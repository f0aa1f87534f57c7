//! Why a Parquet key could not be made or recovered.
//!
//! Messages name fields, lengths and KMS key ids, never key bytes (plain or
//! wrapped) nor the material's text.

use sealhouse_kms::KmsError;

/// Why making or recovering a Parquet data key failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParquetKeyError {
    /// The key metadata is not PKMT1 key material, or a field is missing,
    /// of the wrong type or does not decode, or a wrapped key does not open
    /// under its key: the file was damaged or altered.
    #[error("the file's Parquet key material is damaged: {0}")]
    Damaged(String),
    /// Well-formed key material this reader does not implement (external
    /// key material, a key length AES-GCM has no cipher for here).
    #[error("the file's Parquet key material is not supported: {0}")]
    Unsupported(String),
    /// The KMS refused to wrap or unwrap a key (its message names the key,
    /// its state or the missing permission).
    #[error("{0}")]
    Kms(#[from] KmsError),
    /// A wrapped key opened, but under another KMS key than the one the key
    /// material names.
    #[error(
        "the Parquet key material names master key {named} but its wrapped key was made with \
         KMS key {actual}: the file does not belong here"
    )]
    WrongMasterKey {
        /// The master key identifier in the material.
        named: String,
        /// The key the KMS says it decrypted under.
        actual: String,
    },
    /// The operating system gave no randomness for a new key.
    #[error("no randomness for a new Parquet key: {0}")]
    Random(String),
}
