//! The keys of encrypted projects at run time: the KMS each project's CMK is
//! reached through, the Parquet encryption factory over it, data keys for
//! segmented files, and [`FileEncryption::for_new_file`], the one decision
//! of how a new file is encrypted.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::config::{EncryptionFactoryOptions, ExtensionOptions, TableParquetOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::parquet_encryption::EncryptionFactory;
use datafusion::execution::runtime_env::RuntimeEnv;
use parquet::encryption::encrypt::FileEncryptionProperties;
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{AccountId, Arn, Principal};
use sealhouse_kms::api::{DataKeySpec, DecryptRequest, EncryptionContext, GenerateDataKeyRequest};
use sealhouse_kms::{KmsData, KmsError, KmsGateway};

use super::parquet_keys::{ParquetKeyFactory, ParquetKeyOptions};
use super::segmented_store::SegmentedStore;
use super::{ProjectEncryption, StorageAlgorithm};
use crate::StorageError;
use crate::segmented::SegmentCipher;

/// The encryption context of every segmented file's data key: a data key
/// blob cannot be passed off as anything else, nor anything else as one.
const DATA_KEY_PURPOSE: (&str, &str) = ("sealhouse:purpose", "storage-data-key");

/// One account's way to its keys: a caching KMS acting as the account, the
/// Parquet encryption factory and the segmented-file store over it.
struct AccountKeys {
    kms: Arc<dyn KmsData>,
    parquet: Arc<ParquetKeyFactory>,
    segmented: Arc<SegmentedStore>,
}

/// Keys of encrypted projects, shared by every session of a process.
pub struct StorageKeys {
    access: KeyAccess,
    /// Where table files are read from (the segmented stores read through it).
    files: Arc<dyn object_store::ObjectStore>,
    accounts: Mutex<HashMap<String, Arc<AccountKeys>>>,
}

impl fmt::Debug for StorageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageKeys").finish_non_exhaustive()
    }
}

/// How a process reaches projects' CMKs.
enum KeyAccess {
    /// The warehouse's own processes: each key as its account's root,
    /// through the embedded KMS.
    AccountRoots(Arc<KmsGateway>),
    /// A process that is a principal of its own (a cluster's executor) in
    /// the account named: its own account's keys through its KMS
    /// connection, as far as its permissions reach; another account's
    /// through the connection `others` makes for that account (a role
    /// of it the principal assumes), if any.
    Principal {
        kms: Arc<dyn KmsData>,
        account: AccountId,
        others: Option<OtherAccounts>,
    },
}

/// The KMS connection a principal of its own uses for another account's
/// keys: acting as a role of that account, say.
pub type OtherAccounts = Arc<dyn Fn(&AccountId) -> Arc<dyn KmsData> + Send + Sync>;

impl StorageKeys {
    /// Keys reached through `gateway` (whose TTL their KMS answers are
    /// cached for), for the table files of `files`.
    pub fn new(gateway: Arc<KmsGateway>, files: &crate::FileStore) -> Self {
        Self::with_access(KeyAccess::AccountRoots(gateway), files)
    }

    /// Keys reached through `kms`, one principal's connection (caching as
    /// it was set up to) in `account`, for the table files of `files`: a
    /// project whose key that principal may not use fails with the KMS's
    /// refusal, and one whose key is another account's (BYOK), which no
    /// principal of `account` can ever use, fails saying so.
    pub fn as_principal(
        kms: Arc<dyn KmsData>,
        account: AccountId,
        files: &crate::FileStore,
    ) -> Self {
        Self::with_access(
            KeyAccess::Principal {
                kms,
                account,
                others: None,
            },
            files,
        )
    }

    /// [`StorageKeys::as_principal`], reaching another account's keys
    /// through the connection `others` makes for it.
    #[must_use]
    pub fn reaching_other_accounts(mut self, others: OtherAccounts) -> Self {
        if let KeyAccess::Principal { others: slot, .. } = &mut self.access {
            *slot = Some(others);
        }
        self
    }

    fn with_access(access: KeyAccess, files: &crate::FileStore) -> Self {
        Self {
            access,
            files: Arc::clone(files.object_store()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// The keys of `project`, encrypted as `setting`.
    pub fn project(&self, project: &str, setting: &ProjectEncryption) -> Result<ProjectKeys> {
        let account = key_account(&setting.key_arn)?;
        if let KeyAccess::Principal {
            account: own,
            others: None,
            ..
        } = &self.access
            && *own != account
        {
            return Err(DataFusionError::Execution(format!(
                "cannot read encrypted project '{project}' ({} with key {}): this process reads \
                 as its own principal of account {own}, and a KMS key serves only principals of \
                 its own account ({account}); read the project where the warehouse itself runs \
                 (without --cluster, or on executors started with --data-dir)",
                setting.algorithm, setting.key_arn
            )));
        }
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = accounts
            .entry(account.as_str().to_owned())
            .or_insert_with(|| {
                // One cache per account: a cached answer is only ever served
                // to the principal it was given to. It remembers the keys it
                // wraps, so reading back a file this process wrote (a merge
                // of small files) unwraps its key without a KMS call.
                let kms = match &self.access {
                    KeyAccess::AccountRoots(gateway) => gateway.cached_remembering(
                        &format!("storage-encryption:{account}"),
                        Principal::Root {
                            account: account.clone(),
                        },
                    ),
                    KeyAccess::Principal {
                        kms,
                        account: own,
                        others,
                    } => match others {
                        Some(connect) if *own != account => connect(&account),
                        _ => Arc::clone(kms),
                    },
                };
                // The Parquet keys keep no cache of their own: unwrapped
                // KEKs are the KMS cache's Decrypt answers, whose TTL is the
                // one the KMS issue configures.
                Arc::new(AccountKeys {
                    segmented: Arc::new(SegmentedStore::new(
                        Arc::clone(&kms),
                        Arc::clone(&self.files),
                    )),
                    parquet: Arc::new(ParquetKeyFactory::new(Arc::clone(&kms))),
                    kms,
                })
            });
        Ok(ProjectKeys {
            project: project.to_owned(),
            setting: setting.clone(),
            account: account.as_str().to_owned(),
            keys: Arc::clone(keys),
        })
    }
}

/// The account a CMK ARN belongs to.
fn key_account(arn: &str) -> Result<AccountId> {
    Arn::parse(arn)
        .ok()
        .and_then(|a| a.account().cloned())
        .ok_or_else(|| {
            DataFusionError::Execution(format!(
                "the project's storage key '{arn}' is not a KMS key ARN; the catalog is damaged"
            ))
        })
}

/// One encrypted project's keys.
pub struct ProjectKeys {
    project: String,
    setting: ProjectEncryption,
    account: String,
    keys: Arc<AccountKeys>,
}

impl fmt::Debug for ProjectKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectKeys")
            .field("project", &self.project)
            .field("algorithm", &self.setting.algorithm)
            .field("key_arn", &self.setting.key_arn)
            .finish_non_exhaustive()
    }
}

impl ProjectKeys {
    /// How new files are encrypted.
    pub fn algorithm(&self) -> StorageAlgorithm {
        self.setting.algorithm
    }

    /// The project's setting (appends encrypted alike share a file).
    pub fn setting(&self) -> &ProjectEncryption {
        &self.setting
    }

    /// The id the Parquet encryption factory is registered under.
    fn factory_id(&self) -> String {
        format!("sealhouse-storage-{}", self.account)
    }

    /// Where segmented files are read from: local paths through the
    /// decrypting store.
    pub fn segmented_url(&self) -> Result<ObjectStoreUrl> {
        ObjectStoreUrl::parse(format!("sealhouse-segmented://a{}", self.account))
    }

    /// Makes the project's encryption factory and segmented store known to
    /// `runtime` (idempotent; the same objects every time, so their caches
    /// survive between statements).
    pub fn register(&self, runtime: &RuntimeEnv) -> Result<()> {
        runtime.register_parquet_encryption_factory(
            &self.factory_id(),
            Arc::clone(&self.keys.parquet) as Arc<dyn EncryptionFactory>,
        );
        let url = self.segmented_url()?;
        runtime.register_object_store(
            url.as_ref(),
            Arc::clone(&self.keys.segmented) as Arc<dyn object_store::ObjectStore>,
        );
        Ok(())
    }

    /// Parquet options for reading the project's AES256 files (after
    /// [`ProjectKeys::register`]).
    pub fn parquet_read_options(&self, mut options: TableParquetOptions) -> TableParquetOptions {
        options
            .crypto
            .configure_factory(&self.factory_id(), &self.factory_options());
        options
    }

    fn factory_options(&self) -> ParquetKeyOptions {
        ParquetKeyOptions::new(&self.project, &self.setting.key_arn)
    }

    /// Encryption properties for one new AES256 file: a fresh 256-bit data
    /// key, wrapped through a fresh 256-bit key-encryption key by the
    /// project's CMK.
    async fn parquet_encryption(
        &self,
        schema: &SchemaRef,
        path: &object_store::path::Path,
    ) -> Result<Arc<FileEncryptionProperties>> {
        let mut options = EncryptionFactoryOptions::default();
        for entry in self.factory_options().entries() {
            if let Some(value) = entry.value {
                options.options.insert(entry.key, value);
            }
        }
        self.keys
            .parquet
            .get_file_encryption_properties(&options, schema, path)
            .await?
            .ok_or_else(|| {
                DataFusionError::Internal("the encryption factory gave no properties".into())
            })
    }

    /// A new data key for one segmented file: (plaintext, KMS blob).
    fn new_data_key(&self) -> Result<(SecretBytes, Vec<u8>)> {
        let mut request = GenerateDataKeyRequest::new(self.setting.key_arn.clone());
        request.key_spec = Some(DataKeySpec::Aes256);
        request.encryption_context = data_key_context();
        let response = self
            .keys
            .kms
            .generate_data_key(&request)
            .map_err(|e| self.kms_failure("write", &e))?;
        Ok((response.plaintext, response.ciphertext_blob))
    }

    /// An error for a KMS refusal while reading or writing the project.
    fn kms_failure(&self, what: &str, e: &KmsError) -> DataFusionError {
        DataFusionError::External(Box::new(StorageError::Kms {
            code: e.code(),
            message: format!(
                "cannot {what} encrypted project '{}' ({} with key {}): {e}",
                self.project, self.setting.algorithm, self.setting.key_arn,
            ),
        }))
    }
}

/// The encryption context of segmented files' data keys.
pub(crate) fn data_key_context() -> EncryptionContext {
    let mut context = EncryptionContext::new();
    context.insert(DATA_KEY_PURPOSE.0.to_owned(), DATA_KEY_PURPOSE.1.to_owned());
    context
}

/// Opens a segmented file's data key blob.
pub(crate) fn open_data_key(
    kms: &dyn KmsData,
    blob: &[u8],
) -> std::result::Result<SecretBytes, KmsError> {
    kms.decrypt(&DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: data_key_context(),
    })
    .map(|r| r.plaintext)
}

/// How one new file is encrypted. Made only by
/// [`FileEncryption::for_new_file`]; the writer and the staged file's
/// record follow it.
pub enum FileEncryption {
    /// Plain Parquet (its blocks are tagged for the catalog).
    None,
    /// AES256: Parquet modular encryption under these properties (a fresh
    /// data key, wrapped through a fresh KEK by the project's CMK).
    Parquet(Arc<FileEncryptionProperties>),
    /// AESCTR or RC4: the whole file in segments under a fresh data key.
    Segmented {
        /// The segment cipher.
        cipher: SegmentCipher,
        /// The file's data key.
        data_key: SecretBytes,
        /// The data key as the KMS wrapped it (stored in the header).
        wrapped: Vec<u8>,
    },
}

impl fmt::Debug for FileEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "FileEncryption::None",
            Self::Parquet(_) => "FileEncryption::Parquet",
            Self::Segmented { .. } => "FileEncryption::Segmented",
        })
    }
}

impl FileEncryption {
    /// The encryption of a new file of a project with `keys` (`None`: a
    /// plain project), holding `schema`, staged at `path`. Makes the file's
    /// data key (one KMS call, never cached: a disabled key stops writes).
    pub async fn for_new_file(
        keys: Option<&ProjectKeys>,
        schema: &SchemaRef,
        path: &object_store::path::Path,
    ) -> Result<Self> {
        let Some(keys) = keys else {
            return Ok(Self::None);
        };
        let cipher = match keys.algorithm() {
            StorageAlgorithm::Aes256 => {
                return Ok(Self::Parquet(keys.parquet_encryption(schema, path).await?));
            }
            StorageAlgorithm::AesCtr => SegmentCipher::AesCtr,
            StorageAlgorithm::Rc4 => SegmentCipher::Rc4,
        };
        let (data_key, wrapped) = keys.new_data_key()?;
        Ok(Self::Segmented {
            cipher,
            data_key,
            wrapped,
        })
    }

    /// The algorithm the catalog records for the file.
    pub fn algorithm(&self) -> Option<StorageAlgorithm> {
        match self {
            Self::None => None,
            Self::Parquet(_) => Some(StorageAlgorithm::Aes256),
            Self::Segmented {
                cipher: SegmentCipher::AesCtr,
                ..
            } => Some(StorageAlgorithm::AesCtr),
            Self::Segmented {
                cipher: SegmentCipher::Rc4,
                ..
            } => Some(StorageAlgorithm::Rc4),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sealhouse_iam::{Iam, NoSealing, SqliteStore, SystemClock};
    use sealhouse_kms::api::CreateKeyRequest;
    use sealhouse_kms::{Kms, KmsService, RootKey};

    use super::*;
    use crate::encryption::KeySource;
    use crate::{FileStore, S3Settings, StorageLocation};

    const A: &str = "1892732288741234";
    const B: &str = "1885386054511234";

    fn account(uid: &str) -> AccountId {
        AccountId::new(uid).expect("account id")
    }

    fn root(uid: &str) -> Principal {
        Principal::Root {
            account: account(uid),
        }
    }

    fn setting(key_arn: &str) -> ProjectEncryption {
        ProjectEncryption {
            algorithm: StorageAlgorithm::Aes256,
            key_source: KeySource::Byok,
            key_arn: key_arn.to_owned(),
            enabled_at: 0,
            enabled_by: String::new(),
        }
    }

    #[test]
    fn a_principal_of_its_own_reaches_other_accounts_keys_only_through_what_it_is_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let iam = Arc::new(Iam::new(
            SqliteStore::open_in_memory().expect("iam store"),
            NoSealing,
        ));
        for uid in [A, B] {
            iam.create_account(&account(uid)).expect("account");
        }
        let kms = KmsService::open(
            &dir.path().join("kms"),
            iam,
            RootKey::generate().expect("root key"),
            SystemClock,
        )
        .expect("kms");
        let key_of = |uid: &str| {
            kms.as_principal(root(uid))
                .create_key(&CreateKeyRequest::default())
                .expect("create key")
                .key_metadata
                .arn
        };
        let (key_a, key_b) = (key_of(A), key_of(B));
        let files = FileStore::open(
            &StorageLocation::Local(dir.path().to_owned()),
            &S3Settings::default(),
        )
        .expect("file store");
        let own: Arc<dyn KmsData> = Arc::new(kms.as_principal(root(A)));

        // Alone: its own account's keys; another's refused before any
        // KMS call, saying why and where the project can be read.
        let keys = StorageKeys::as_principal(Arc::clone(&own), account(A), &files);
        keys.project("pa", &setting(&key_a))
            .expect("its own account");
        let e = keys
            .project("pb", &setting(&key_b))
            .expect_err("another account's key")
            .to_string();
        assert!(e.contains("cannot read encrypted project 'pb'"), "{e}");
        assert!(e.contains(&key_b), "{e}");
        assert!(e.contains(&format!("own principal of account {A}")), "{e}");
        assert!(e.contains("--data-dir"), "{e}");

        // Given a connection per other account: used for it, made once.
        let made = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&made);
        let kms_b: Arc<dyn KmsData> = Arc::new(kms.as_principal(root(B)));
        let keys = StorageKeys::as_principal(own, account(A), &files).reaching_other_accounts(
            Arc::new(move |other: &AccountId| {
                assert_eq!(other.as_str(), B);
                counted.fetch_add(1, Ordering::SeqCst);
                Arc::clone(&kms_b)
            }),
        );
        for _ in 0..3 {
            keys.project("pb", &setting(&key_b)).expect("through B");
        }
        keys.project("pa", &setting(&key_a)).expect("its own");
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }
}
