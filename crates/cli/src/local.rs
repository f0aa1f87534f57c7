//! The embedded installation: the identity store and the KMS of one data
//! directory, opened in one place.
//!
//! Layout under the data directory:
//!
//! - `iam/iam.db`: accounts, users, access keys (secrets sealed under the
//!   root key), roles, policies, STS sessions;
//! - `iam/local-account`: the uid of the local account, created on first use,
//!   whose root is the identity of a command run without credentials;
//! - `kms/kms.db`, `kms/audit.db`: keys (material sealed) and the audit log;
//! - `kms/installation-id`: a random id that names this directory's root key
//!   file;
//! - `open.lock`: held while a process opens the directory (see [`Local::open`]).
//!
//! The root key is not in the data directory (`root_key_source.rs`): a copy
//! of the directory alone decrypts nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use sealhouse_crypto::{SecretBytes, private_fs};
use sealhouse_iam::{AccountId, Iam, Principal, SqliteStore, SystemClock};
use sealhouse_kms::{KmsConfig, KmsService};
use sealhouse_sql::IdentityServices;
use sealhouse_storage::{Catalog, CatalogKey, StorageLocation, StorageOptions};

use crate::root_key_source::{self, RootKeySource};

/// Set to `1`, lets a command seal a catalog made before integrity
/// protection as it finds it (vouching that nobody tampered with it).
pub(crate) const SEAL_LEGACY_CATALOG_ENV: &str = "SEALHOUSE_SEAL_LEGACY_CATALOG";

/// Number of digits of a generated local account uid (as the cloud's uids).
const LOCAL_UID_DIGITS: usize = 16;

/// The identity service and KMS of one data directory, and its local account.
pub(crate) struct Local {
    pub(crate) dir: PathBuf,
    pub(crate) iam: Arc<Iam>,
    pub(crate) kms: KmsService,
    pub(crate) default_account: AccountId,
    /// Where the root key came from, for `kms config`.
    pub(crate) root_key_source: RootKeySource,
    /// The id that names the default root key file, for `kms config`.
    pub(crate) installation_id: String,
    /// The warehouse catalog's integrity key, derived from the root key.
    catalog_key: SecretBytes,
    /// Whether this open may seal a catalog made before integrity
    /// protection: it just moved the data directory's legacy root key out
    /// (so the data directory is one an earlier version wrote), or
    /// `$SEALHOUSE_SEAL_LEGACY_CATALOG` vouches for it.
    seal_legacy_catalog: bool,
}

/// The region asked for on the command line or in `$SEALHOUSE_REGION`,
/// set once before any command runs.
static REGION: OnceLock<Option<String>> = OnceLock::new();

/// Records the region the command was run for (`None`: the data
/// directory's own).
pub(crate) fn choose_region(region: Option<String>) {
    let _ = REGION.set(region.filter(|r| !r.trim().is_empty()));
}

/// The bucket asked for with `--storage-url` or `$SEALHOUSE_STORAGE_URL`,
/// set once before any command runs.
static STORAGE_URL: OnceLock<Option<String>> = OnceLock::new();

/// Records where the command was asked to keep table files (`None`: where
/// the data directory keeps them).
pub(crate) fn choose_storage_url(url: Option<String>) {
    let _ = STORAGE_URL.set(url.filter(|u| !u.trim().is_empty()));
}

impl Local {
    /// Opens (creating on first use) the installation in `dir`.
    ///
    /// Any number of processes may open one directory at once, a fresh one
    /// too: the first to arrive creates the root key, the stores and the
    /// local account while the others wait on `open.lock`, then they find
    /// them made.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        let _opening = lock_for_opening(dir)?;
        let iam_dir = dir.join("iam");
        let kms_dir = dir.join("kms");
        create_private_dir(&iam_dir)?;
        create_private_dir(&kms_dir)?;
        let opened = root_key_source::open(dir)?;
        let root = opened.key;
        let catalog_key = root.catalog_key();
        let seal_legacy_catalog = opened.migrated_legacy_key
            || std::env::var_os(SEAL_LEGACY_CATALOG_ENV).is_some_and(|v| v == "1");
        let db = iam_dir.join("iam.db");
        let store = SqliteStore::open(&db)
            .with_context(|| format!("opening the identity store {}", db.display()))?;
        let iam = Arc::new(Iam::new(store, root.secret_sealer()));
        let config = KmsConfig {
            region: REGION.get().cloned().flatten(),
            ..KmsConfig::default()
        };
        let kms = KmsService::open_with(&kms_dir, Arc::clone(&iam), root, SystemClock, config)
            .with_context(|| format!("opening the KMS in {}", kms_dir.display()))?;
        let default_account = local_account(&iam, &iam_dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            iam,
            kms,
            default_account,
            root_key_source: opened.source,
            installation_id: opened.installation_id,
            catalog_key,
            seal_legacy_catalog,
        })
    }

    /// Opens the warehouse catalog of this data directory under its
    /// integrity key.
    pub(crate) fn catalog(&self) -> Result<Arc<Catalog>> {
        let key = CatalogKey::new(&self.catalog_key).context("deriving the catalog key")?;
        let mut options = StorageOptions::from_env();
        if let Some(url) = STORAGE_URL.get().cloned().flatten() {
            options.location = Some(StorageLocation::parse_url(&url)?);
        }
        let opened = if self.seal_legacy_catalog && options.location.is_none() {
            Catalog::open_sealing_legacy(&self.dir, key)
        } else {
            Catalog::open_with_storage(&self.dir, key, &options)
        };
        match opened {
            Ok(catalog) => Ok(catalog),
            Err(e @ sealhouse_storage::StorageError::Unsealed) => Err(anyhow::anyhow!(
                "{e}. If this data directory was last written by an earlier Sealhouse and \
                 nobody else could write it since, run the command once with \
                 {SEAL_LEGACY_CATALOG_ENV}=1 to seal its catalog as it is"
            )),
            Err(e) => {
                Err(e).with_context(|| format!("opening the data directory {}", self.dir.display()))
            }
        }
    }

    /// The identity and KMS services warehouse sessions of this directory
    /// use (wrapped keysets, storage encryption), with the KMS cache TTL of
    /// the environment.
    pub(crate) fn identity_services(&self) -> Result<Arc<IdentityServices>> {
        Ok(Arc::new(
            IdentityServices::new(
                Arc::clone(&self.iam),
                Arc::new(self.kms.clone()),
                crate::cache_ttl::cache_ttl()?,
                self.default_account.clone(),
            )
            .with_region(self.kms.region()),
        ))
    }

    /// The identity of a command run without credentials.
    pub(crate) fn default_principal(&self) -> Principal {
        Principal::Root {
            account: self.default_account.clone(),
        }
    }
}

/// Holds `open.lock` in `dir` exclusively until dropped: opening a data
/// directory creates what it lacks, and two processes creating the same
/// things at once would each make their own (two local accounts, say).
fn lock_for_opening(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("open.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

/// The local account's uid, creating the account on first use. Its root's
/// access key is not shown: the local root is used without credentials.
fn local_account(iam: &Iam, iam_dir: &Path) -> Result<AccountId> {
    let file = iam_dir.join("local-account");
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            return AccountId::new(text.trim())
                .with_context(|| format!("{} does not hold an account uid", file.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    }
    let uid = AccountId::new(&random_uid()?).context("making the local account uid")?;
    iam.create_account(&uid)
        .context("creating the local account")?;
    match private_fs::write_new(&file, format!("{uid}\n").as_bytes()) {
        Ok(()) => Ok(uid),
        // Another process created the local account first: use theirs (the
        // account made here stays, unused and without a usable key).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            AccountId::new(text.trim())
                .with_context(|| format!("{} does not hold an account uid", file.display()))
        }
        Err(e) => Err(e).with_context(|| format!("writing {}", file.display())),
    }
}

/// A random uid of [`LOCAL_UID_DIGITS`] decimal digits, not starting with 0.
pub(crate) fn random_uid() -> Result<String> {
    let mut digits = String::with_capacity(LOCAL_UID_DIGITS);
    while digits.len() < LOCAL_UID_DIGITS {
        let bytes = SecretBytes::random(32).context("the system random number generator failed")?;
        for &b in bytes.expose() {
            // Rejection sampling keeps the digits uniform.
            if b >= 250 || (digits.is_empty() && b % 10 == 0) {
                continue;
            }
            if digits.len() < LOCAL_UID_DIGITS {
                digits.push(char::from(b'0' + b % 10));
            }
        }
    }
    Ok(digits)
}

/// Creates `dir` (and parents), owner-only, if missing.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    private_fs::create_dir(dir).with_context(|| format!("creating directory {}", dir.display()))
}
