//! The keys of AES256 (Parquet modular encryption) files: Sealhouse's own
//! key management over the parquet crate's encryption API, in the standard
//! Parquet key tools' format, so that pyarrow, Spark and parquet-mr read the
//! files with a KMS client (docs/storage-encryption.md, "Formats").
//!
//! Each new file gets a fresh 256-bit data key (DEK), used as the footer key
//! for every column (uniform encryption, AES_GCM_V1, encrypted footer). The
//! DEK is wrapped with double wrapping: AES-256-GCM under a fresh 256-bit
//! key-encryption key (KEK) with a random 128-bit KEK id as AAD
//! ([`local_wrap`]), and the KEK by the KMS with the project's CMK
//! ([`kms_wrap`]). The footer key metadata is the PKMT1 key material
//! ([`material`]).
//!
//! Reading takes any internal PKMT1 material, double or single wrapped,
//! with 128- or 256-bit keys: files written before (parquet-key-management
//! 0.8, 128-bit DEKs and KEKs) keep reading. KMS answers are cached below,
//! by the account's `CachingKms`: a file's KEK is unwrapped once per opening
//! of the file (not per row group or page), and from the cache after that.
//!
//! Keys live in `SecretBytes` until handed to the parquet crate, whose API
//! takes and returns `Vec<u8>`; errors name fields, lengths and key ids,
//! never key bytes.

mod error;
mod kms_wrap;
mod local_wrap;
mod material;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::extensions_options;
use datafusion::config::EncryptionFactoryOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::parquet_encryption::EncryptionFactory;
use parquet::encryption::decrypt::{FileDecryptionProperties, KeyRetriever};
use parquet::encryption::encrypt::FileEncryptionProperties;
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::KmsData;

use crate::StorageError;
pub(crate) use error::ParquetKeyError;
use material::{KeyMaterial, Wrapping};

/// Length of the data keys of new files: AES-256.
const DATA_KEY_LEN: usize = 32;
/// Length of the key-encryption keys of new files: AES-256.
const KEK_LEN: usize = 32;
/// Length of a KEK id (random; parquet-mr and Arrow C++ use 16 bytes too).
const KEK_ID_LEN: usize = 16;

mod options {
    // The macro makes `pub` items; they are reachable only in this crate.
    #![allow(unreachable_pub)]

    use super::extensions_options;

    extensions_options! {
        /// What [`super::ParquetKeyFactory`] needs to know of a project,
        /// passed by DataFusion with each read or write.
        pub struct ParquetKeyOptions {
            /// The project the files belong to (named in errors).
            pub project: String, default = String::new()
            /// The master key new files' keys are wrapped with: the
            /// project's CMK ARN. Reading takes the master key the file's
            /// key material names (and the KMS checks it).
            pub master_key_id: String, default = String::new()
        }
    }
}

pub(crate) use options::ParquetKeyOptions;

impl ParquetKeyOptions {
    pub(crate) fn new(project: &str, master_key_id: &str) -> Self {
        Self {
            project: project.to_owned(),
            master_key_id: master_key_id.to_owned(),
        }
    }

    /// An error of reading or writing (`what`) the project's files: a
    /// KMS refusal keeps the KMS's code, damaged key material is a damaged
    /// file (both come out of the query typed).
    fn failure(&self, what: &str, e: &ParquetKeyError) -> Box<dyn std::error::Error + Send + Sync> {
        let message = format!(
            "cannot {what} encrypted project '{}' (AES256 with key {}): {e}",
            self.project, self.master_key_id
        );
        match e {
            ParquetKeyError::Kms(kms) => Box::new(StorageError::Kms {
                code: kms.code(),
                message,
            }),
            ParquetKeyError::Damaged(_) | ParquetKeyError::WrongMasterKey { .. } => {
                Box::new(StorageError::DamagedFile(message))
            }
            ParquetKeyError::Unsupported(_) | ParquetKeyError::Random(_) => message.into(),
        }
    }
}

/// Makes the keys of new AES256 files and recovers those of stored ones,
/// through one account's (caching) KMS. DataFusion's
/// [`EncryptionFactory`], registered per key account.
pub(crate) struct ParquetKeyFactory {
    kms: Arc<dyn KmsData>,
}

impl fmt::Debug for ParquetKeyFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetKeyFactory").finish_non_exhaustive()
    }
}

/// A new file's key and its metadata (the key material).
pub(crate) struct FileKey {
    dek: SecretBytes,
    metadata: Vec<u8>,
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("dek_len", &self.dek.len())
            .finish_non_exhaustive()
    }
}

impl FileKey {
    /// The key metadata stored in the file (PKMT1 JSON).
    #[cfg(test)]
    pub(crate) fn metadata(&self) -> &[u8] {
        &self.metadata
    }

    /// Uniform encryption under this key: every column and the footer
    /// (encrypted), AES_GCM_V1.
    pub(crate) fn into_properties(self) -> parquet::errors::Result<Arc<FileEncryptionProperties>> {
        FileEncryptionProperties::builder(self.dek.expose().to_vec())
            .with_footer_key_metadata(self.metadata)
            .build()
    }
}

impl ParquetKeyFactory {
    pub(crate) fn new(kms: Arc<dyn KmsData>) -> Self {
        Self { kms }
    }

    /// A fresh 256-bit data key for one new file, double wrapped: under a
    /// fresh 256-bit KEK, which the KMS wraps with `master_key_id`. One KMS
    /// call (Encrypt), never cached: a disabled key stops writes at once.
    pub(crate) fn new_file_key(&self, master_key_id: &str) -> Result<FileKey, ParquetKeyError> {
        let random =
            |len| SecretBytes::random(len).map_err(|e| ParquetKeyError::Random(e.to_string()));
        let dek = random(DATA_KEY_LEN)?;
        let kek = random(KEK_LEN)?;
        // Not secret, but unique: readers (pyarrow) cache KEKs by their id.
        let kek_id = random(KEK_ID_LEN)?;
        let wrapped_dek = local_wrap::wrap(&dek, &kek, kek_id.expose())?;
        let wrapped_kek = kms_wrap::wrap(self.kms.as_ref(), &kek, master_key_id)?;
        let material = KeyMaterial {
            is_footer_key: true,
            master_key_id: master_key_id.to_owned(),
            wrapping: Wrapping::Double {
                kek_id: base64_encode(kek_id.expose()),
                wrapped_kek,
                wrapped_dek,
            },
        };
        Ok(FileKey {
            dek,
            metadata: material.to_json(),
        })
    }

    /// The data key a key's metadata (PKMT1 key material) wraps.
    #[cfg(test)]
    pub(crate) fn recover_key(&self, metadata: &[u8]) -> Result<SecretBytes, ParquetKeyError> {
        recover_key(self.kms.as_ref(), metadata)
    }

    /// Decryption properties for one file: keys come from its key metadata.
    fn decryption_properties(
        &self,
        options: ParquetKeyOptions,
    ) -> parquet::errors::Result<Arc<FileDecryptionProperties>> {
        FileDecryptionProperties::with_key_retriever(Arc::new(FileKeyRetriever {
            kms: Arc::clone(&self.kms),
            options,
        }))
        .build()
    }
}

/// Unwraps a key's material to its data key.
fn recover_key(kms: &dyn KmsData, metadata: &[u8]) -> Result<SecretBytes, ParquetKeyError> {
    let material = KeyMaterial::parse(metadata)?;
    let dek = match &material.wrapping {
        Wrapping::Single { wrapped_dek } => {
            kms_wrap::unwrap(kms, wrapped_dek, &material.master_key_id)?
        }
        Wrapping::Double {
            kek_id,
            wrapped_kek,
            wrapped_dek,
        } => {
            let kek_id = base64_decode(kek_id).map_err(|e| {
                ParquetKeyError::Damaged(format!("keyEncryptionKeyID is not base64 ({e})"))
            })?;
            let kek = kms_wrap::unwrap(kms, wrapped_kek, &material.master_key_id)?;
            local_wrap::unwrap(wrapped_dek, &kek, &kek_id)?
        }
    };
    // The parquet crate's AES-GCM takes 128- and 256-bit keys.
    match dek.len() {
        16 | 32 => Ok(dek),
        n => Err(ParquetKeyError::Unsupported(format!(
            "a {}-bit data key (128 and 256 bits are)",
            n * 8
        ))),
    }
}

/// What parquet asks for each key metadata it meets in one file.
struct FileKeyRetriever {
    kms: Arc<dyn KmsData>,
    options: ParquetKeyOptions,
}

impl KeyRetriever for FileKeyRetriever {
    fn retrieve_key(&self, key_metadata: &[u8]) -> parquet::errors::Result<Vec<u8>> {
        recover_key(self.kms.as_ref(), key_metadata)
            .map(|key| key.expose().to_vec())
            .map_err(|e| parquet::errors::ParquetError::External(self.options.failure("read", &e)))
    }
}

#[async_trait]
impl EncryptionFactory for ParquetKeyFactory {
    async fn get_file_encryption_properties(
        &self,
        config: &EncryptionFactoryOptions,
        _schema: &SchemaRef,
        _file_path: &object_store::path::Path,
    ) -> Result<Option<Arc<FileEncryptionProperties>>> {
        let options: ParquetKeyOptions = config.to_extension_options()?;
        if options.master_key_id.is_empty() {
            return Err(DataFusionError::Internal(
                "the Parquet key factory was given no master key to write with".into(),
            ));
        }
        let key = self
            .new_file_key(&options.master_key_id)
            .map_err(|e| DataFusionError::External(options.failure("write", &e)))?;
        Ok(Some(key.into_properties()?))
    }

    async fn get_file_decryption_properties(
        &self,
        config: &EncryptionFactoryOptions,
        _file_path: &object_store::path::Path,
    ) -> Result<Option<Arc<FileDecryptionProperties>>> {
        let options: ParquetKeyOptions = config.to_extension_options()?;
        Ok(Some(self.decryption_properties(options)?))
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text.trim())
}
