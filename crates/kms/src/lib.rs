//! Sealhouse's key management service (KMS), embedded and synchronous.
//!
//! Customer master keys (CMKs) per account and region, with versions and
//! rotation, the states Enabled / Disabled / PendingDeletion / PendingImport,
//! envelope encryption (Encrypt, Decrypt, GenerateDataKey, ReEncrypt) with
//! self-describing ciphertext blobs and encryption contexts, bring-your-own-
//! key import (RSA-OAEP), aliases, and an audit log of every call. Requests,
//! responses, states and error codes follow the original cloud KMS's API.
//!
//! The pieces:
//!
//! - [`KmsData`] and [`Kms`]: the interface, one method per operation, bound
//!   to one caller: the data plane (Encrypt, Decrypt, GenerateDataKey,
//!   ReEncrypt, DescribeKey), and the whole service (administration too).
//!   The embedded [`KmsHandle`] and the HTTP client implement both;
//!   [`CachingKms`] wraps either's data plane with a Decrypt cache (24-hour
//!   TTL by default).
//! - [`KmsGateway`]: the KMS as any principal through a [`KmsConnector`], with
//!   one [`CachingKms`] per principal chain (what sessions and storage
//!   encryption call through).
//! - [`KmsService`]: the service over a data directory (`kms.db`, `audit.db`
//!   in SQLite), authorising every call through [`sealhouse_iam::Iam`].
//!   [`KmsService::as_principal`] gives a [`KmsHandle`].
//! - [`RootKey`]: the key outside the database under which all key material
//!   is sealed (a 0600 file or `SEALHOUSE_KMS_ROOT_KEY`);
//!   [`RootKey::secret_sealer`] seals the identity store's secrets too.
//! - [`api`]: the request and response types; [`KmsError`] with [`ErrorCode`].
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sealhouse_iam::{AccountId, Iam, Principal, SqliteStore, SystemClock};
//! use sealhouse_kms::api::{CreateKeyRequest, DecryptRequest, GenerateDataKeyRequest};
//! use sealhouse_kms::{Kms, KmsData, KmsService, RootKey};
//!
//! let root = RootKey::load_or_create_file("/secure/kms-root.key".as_ref())?;
//! let iam = Iam::new(SqliteStore::open("/data/iam.db".as_ref())?, root.secret_sealer());
//! let account = AccountId::new("1892732288741234")?;
//! iam.create_account(&account)?;
//! let kms = KmsService::open("/data/kms".as_ref(), Arc::new(iam), root, SystemClock)?;
//! let me = kms.as_principal(Principal::Root { account });
//! let key = me.create_key(&CreateKeyRequest::default())?.key_metadata;
//! let data_key = me.generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))?;
//! let again = me.decrypt(&DecryptRequest {
//!     ciphertext_blob: data_key.ciphertext_blob,
//!     encryption_context: Default::default(),
//! })?;
//! assert_eq!(again.plaintext, data_key.plaintext);
//! # Ok(())
//! # }
//! ```
//!
//! Formats, states, error codes and the decisions behind them are in
//! `docs/kms.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aliases;
pub mod api;
mod audit;
mod blob;
mod byok;
mod cache;
mod call;
mod crypto_ops;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gateway;
mod handle;
mod ids;
mod keys;
mod kms;
mod maintenance;
mod operations;
mod resolve;
mod root_key;
mod rotation;
mod seal;
mod service;
mod store;
pub mod wrapped_keyset;

pub use audit::AuditDurability;
pub use blob::{BLOB_FORMAT_V1, MAX_CONTEXT_BYTES};
pub use byok::IMPORT_TOKEN_LIFETIME_SECONDS;
pub use cache::{CachingKms, DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL};
pub use error::{ErrorCode, KmsError, OpenError};
pub use gateway::{KmsConnector, KmsGateway};
pub use keys::MAX_DESCRIPTION_CHARS;
pub use kms::{Kms, KmsData};
pub use maintenance::MaintenanceReport;
pub use root_key::{ROOT_KEY_ENV, ROOT_KEY_LEN, RootKey, RootKeyError, RootKeyMove};
pub use seal::RootKeySealer;
pub use service::{DEFAULT_REGION, KmsConfig, KmsHandle, KmsService};
