//! Project storage encryption at rest (DESIGN.md "Storage encryption at
//! rest"): every file an encrypted project stores is encrypted with its
//! CMK, and reads and writes stay transparent to SQL.
//!
//! - AES256 files are standard encrypted Parquet (AES_GCM_V1 modular
//!   encryption, footer encrypted, 256-bit keys) in the standard Parquet
//!   key material format, written and read through our DataFusion
//!   encryption factory ([`parquet_keys`]).
//! - AESCTR and RC4 files are whole Parquet files in Sealhouse's segmented
//!   format (`sealhouse_storage::segmented`), read through an object store
//!   that decrypts only the segments a range read touches
//!   ([`segmented_store`]).
//!
//! Who calls the KMS: storage encryption is the warehouse acting for the
//! project, not for the session's user (who was already authorised to read
//! or write the table). A BYOK key is used as its own account's root — the
//! account that brought the key and authorised its use when encryption was
//! enabled ([`setup`]); a default key lives in the warehouse service's own
//! account ([`SERVICE_ACCOUNT`]), so no customer principal can ever be
//! granted it. KMS answers are cached for the configured TTL, so disabling
//! a key stops reads once the TTL has passed, as the spec says.

mod file_writer;
mod parquet_keys;
mod project_keys;
mod segmented_store;
pub(crate) mod setup;

pub(crate) use file_writer::FileWriter;
pub(crate) use project_keys::{ProjectKeys, StorageKeys};
pub(crate) use segmented_store::segmented_plaintext_len;

/// The account that owns the warehouse's default storage keys. Account ids
/// handed out to users are random and never start with 0, so this one is
/// nobody's: no RAM user, role or policy can exist in it.
pub(crate) const SERVICE_ACCOUNT: &str = "0000000000000000";
