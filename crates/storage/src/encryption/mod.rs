//! Project storage encryption at rest (DESIGN.md "Storage encryption at
//! rest"): every file an encrypted project stores is encrypted with its
//! CMK, and reads and writes stay transparent to SQL.
//!
//! - [`setting`]: a project's setting (algorithm, key) and how each file is
//!   encrypted; fixed once enabled.
//! - [`setup`]: turning `ENCRYPTION ALGORITHM ... KEY ...` into that
//!   setting (the default key is made, a BYOK key checked).
//! - [`keys`]: the keys at run time. [`StorageKeys`] reaches each key
//!   account's KMS through the process's `KmsGateway`; [`ProjectKeys`] is
//!   one project's, and [`ProjectKeys::file_encryption`] is the one place
//!   that decides how a new file is encrypted.
//! - AES256 files are standard encrypted Parquet (AES_GCM_V1 modular
//!   encryption, footer encrypted, 256-bit keys) in the standard Parquet
//!   key material format, written and read through our DataFusion
//!   encryption factory (`parquet_keys`).
//! - AESCTR and RC4 files are whole Parquet files in Sealhouse's segmented
//!   format ([`crate::segmented`]), read through an object store that
//!   decrypts only the segments a range read touches (`segmented_store`).
//!
//! Who calls the KMS: storage encryption is the warehouse acting for the
//! project, not for the session's user (who was already authorised to read
//! or write the table). A BYOK key is used as its own account's root — the
//! account that brought the key and authorised its use when encryption was
//! enabled ([`setup`]); a default key lives in the warehouse service's own
//! account ([`SERVICE_ACCOUNT`]), so no customer principal can ever be
//! granted it. KMS answers are cached for the configured TTL, so disabling
//! a key stops reads once the TTL has passed, as the spec says.

pub mod keys;
mod parquet_keys;
mod segmented_store;
pub mod setting;
pub mod setup;

pub use keys::{FileEncryption, OtherAccounts, ProjectKeys, StorageKeys};
pub(crate) use segmented_store::segmented_plaintext_len;
pub use setting::{KeySource, ProjectEncryption, StorageAlgorithm};

/// The account that owns the warehouse's default storage keys. Account ids
/// handed out to users are random and never start with 0, so this one is
/// nobody's: no RAM user, role or policy can exist in it.
pub const SERVICE_ACCOUNT: &str = "0000000000000000";
