//! The embedded KMS: [`KmsService`] owns the key store, the audit log, the
//! sealer and the identity service; [`KmsHandle`] is the service seen by one
//! principal, and implements [`Kms`].
//!
//! Every operation runs the same way (`KmsHandle::run`, in `handle.rs`): a [`Call`] is
//! made (request id, time), the operation resolves its key (applying any
//! maintenance that is due, `maintenance.rs`), authorises through
//! [`Iam::authorize`], checks the key's state and does its work in a store
//! transaction; then the audit event is written, whatever the outcome. The
//! operations themselves live one group per file: `keys.rs`, `rotation.rs`,
//! `aliases.rs`, `crypto_ops.rs`, `byok.rs`, `audit.rs`.
//!
//! Files under the data directory: `kms.db` (keys, versions, aliases, import
//! parameters; secrets only sealed) and `audit.db`, each with its WAL.

use std::path::Path;
use std::sync::Arc;

use sealhouse_iam::{Clock, Iam, Principal, RequestContext};

use crate::audit::{AuditDurability, AuditLog};
use crate::error::{KmsError, OpenError};
pub use crate::handle::KmsHandle;
use crate::root_key::RootKey;
use crate::seal::{Purpose, Sealer};
use crate::store::KeyStore;

/// The region keys are created in unless configured otherwise.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// The service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsConfig {
    /// The region in key ARNs (`acs:kms:<region>:...`), such as
    /// `cn-beijing`. A store keeps the region it was created in: `None`
    /// opens it in that region ([`DEFAULT_REGION`] for a new store), and
    /// another region than the store's is refused.
    pub region: Option<String>,
    /// How durable each audit event is.
    pub audit_durability: AuditDurability,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            region: None,
            audit_durability: AuditDurability::Full,
        }
    }
}

/// The shared state of the service.
pub(crate) struct ServiceState {
    pub(crate) store: KeyStore,
    pub(crate) audit: AuditLog,
    pub(crate) iam: Arc<Iam>,
    pub(crate) sealer: Sealer,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) region: String,
}

/// The embedded key management service. Cheap to clone (shared state).
#[derive(Clone)]
pub struct KmsService {
    inner: Arc<ServiceState>,
}

impl std::fmt::Debug for KmsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsService")
            .field("region", &self.inner.region)
            .field("store", &self.inner.store.path())
            .finish_non_exhaustive()
    }
}

/// Name of the root key check value in the store's metadata.
const ROOT_CHECK: &str = "root_key_check";
const ROOT_CHECK_PLAINTEXT: &[u8] = b"sealhouse-kms root key check";
/// Name of the store's region in its metadata.
const REGION: &str = "region";

impl KmsService {
    /// Opens (creating if needed) the KMS in `data_dir`, with the default
    /// configuration (region `cn-hangzhou`, fully durable audit log).
    pub fn open(
        data_dir: &Path,
        iam: Arc<Iam>,
        root: RootKey,
        clock: impl Clock + 'static,
    ) -> Result<Self, OpenError> {
        Self::open_with(data_dir, iam, root, clock, KmsConfig::default())
    }

    /// Opens the KMS in `data_dir` with `config`. The root key must be the one
    /// the directory was created with.
    pub fn open_with(
        data_dir: &Path,
        iam: Arc<Iam>,
        root: RootKey,
        clock: impl Clock + 'static,
        config: KmsConfig,
    ) -> Result<Self, OpenError> {
        if let Some(region) = &config.region {
            check_region(region)?;
        }
        create_private_dir(data_dir)?;
        let store = KeyStore::open(&data_dir.join("kms.db"))?;
        let sealer = Sealer::new(&root);
        drop(root);
        check_root_key(&store, &sealer)?;
        let region = store_region(&store, config.region.as_deref())?;
        let audit = AuditLog::open(&data_dir.join("audit.db"), config.audit_durability)?;
        Ok(Self {
            inner: Arc::new(ServiceState {
                store,
                audit,
                iam,
                sealer,
                clock: Box::new(clock),
                region,
            }),
        })
    }

    /// The service as seen by `principal` (as the HTTP client is bound to
    /// its credentials). Every call through the handle is authorised for,
    /// and audited as, this principal.
    pub fn as_principal(&self, principal: Principal) -> KmsHandle {
        self.as_principal_with_context(principal, RequestContext::new())
    }

    /// Like [`KmsService::as_principal`], with request context keys for policy
    /// conditions (`acs:SourceIp`, `acs:SecureTransport`, set by the HTTP
    /// layer; `acs:SourceIp` is also recorded in the audit log).
    pub fn as_principal_with_context(
        &self,
        principal: Principal,
        context: RequestContext,
    ) -> KmsHandle {
        KmsHandle::new(Arc::clone(&self.inner), principal, context)
    }

    /// The region of this service's key ARNs.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub(crate) fn inner(&self) -> &ServiceState {
        &self.inner
    }
}

fn check_region(region: &str) -> Result<(), OpenError> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(OpenError::Config(format!(
            "region {} is not a region name; use lower-case letters, digits and hyphens, such \
             as cn-hangzhou",
            crate::error::printable(region)
        )))
    }
}

/// Creates `dir` (owner-only) if it does not exist.
fn create_private_dir(dir: &Path) -> Result<(), OpenError> {
    sealhouse_crypto::private_fs::create_dir(dir).map_err(|source| OpenError::DataDir {
        path: dir.to_owned(),
        source,
    })
}

/// The region of the store's keys: recorded when the store is first opened
/// (`requested`, or [`DEFAULT_REGION`]); a store made before regions were
/// recorded is in its keys' region. Another region asked for is refused:
/// keys, and the data they protect, live in one region.
fn store_region(store: &KeyStore, requested: Option<&str>) -> Result<String, OpenError> {
    let failed = |e: KmsError| OpenError::Database {
        path: store.path().to_owned(),
        detail: e.message().to_owned(),
    };
    let region = store
        .write(|tx| {
            if let Some(stored) = tx.meta(REGION)? {
                return Ok(String::from_utf8_lossy(&stored).into_owned());
            }
            let region = match tx.any_key_region()? {
                Some(of_keys) => of_keys,
                None => requested.unwrap_or(DEFAULT_REGION).to_owned(),
            };
            tx.set_meta(REGION, region.as_bytes())?;
            Ok(region)
        })
        .map_err(failed)?;
    match requested {
        Some(asked) if asked != region => Err(OpenError::Config(format!(
            "this KMS holds its keys in region {region}, not {}: keys stay in the region they              were made in; run with --region {region} (or $SEALHOUSE_REGION={region}), or use              another data directory for region {}",
            crate::error::printable(asked),
            crate::error::printable(asked)
        ))),
        _ => Ok(region),
    }
}

/// Stores a check value on first use; afterwards, refuses a root key that
/// does not unseal it.
fn check_root_key(store: &KeyStore, sealer: &Sealer) -> Result<(), OpenError> {
    let path = store.path().to_owned();
    let failed = |e: KmsError| OpenError::Database {
        path: path.clone(),
        detail: e.message().to_owned(),
    };
    let stored = store.write(|tx| {
        let found = tx.meta(ROOT_CHECK)?;
        if found.is_none() {
            let sealed = sealer.seal(Purpose::RootCheck, &[], ROOT_CHECK_PLAINTEXT);
            tx.set_meta(ROOT_CHECK, &sealed)?;
        }
        Ok(found)
    });
    let Some(sealed) = stored.map_err(failed)? else {
        return Ok(());
    };
    match sealer.unseal(Purpose::RootCheck, &[], &sealed) {
        Ok(plain) if plain.expose() == ROOT_CHECK_PLAINTEXT => Ok(()),
        _ => Err(OpenError::WrongRootKey { path }),
    }
}
