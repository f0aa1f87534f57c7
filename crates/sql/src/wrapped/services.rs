//! What a SQL session with an identity needs: the identity service (to
//! authorise statements and walk role chains), a KMS reachable as any
//! principal, the unwrap cache, and the local account (which owns projects
//! made before there was an owner to record, such as `default`). One
//! `IdentityServices` is shared by every session of a process, so sessions
//! acting through the same role chain share cached keysets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sealhouse_iam::{AccountId, Clock, Iam, Principal, SystemClock};
use sealhouse_kms::{CachingKms, DEFAULT_REGION, Kms, KmsService};

/// A KMS as a given principal: the embedded service, or a client holding
/// that principal's credentials.
pub trait KmsConnector: Send + Sync {
    /// The KMS, acting as `principal`.
    fn connect(&self, principal: Principal) -> Box<dyn Kms>;
}

impl KmsConnector for KmsService {
    fn connect(&self, principal: Principal) -> Box<dyn Kms> {
        Box::new(self.as_principal(principal))
    }
}

/// The identity service, the KMS, and the unwrapped-keyset cache.
pub struct IdentityServices {
    pub(crate) iam: Arc<Iam>,
    pub(crate) local_account: AccountId,
    pub(crate) region: String,
    connector: Arc<dyn KmsConnector>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    /// One caching KMS per principal chain (caller, role, role chain): a
    /// cached keyset is only ever served to the chain that unwrapped it.
    chains: Mutex<HashMap<String, Arc<dyn Kms>>>,
}

impl IdentityServices {
    /// Services over `iam` and `kms`, caching unwrapped keysets for `ttl`
    /// (`Duration::ZERO`: every use reaches the KMS, so a disabled CMK stops
    /// the next statement). `local_account` owns projects that have no
    /// recorded owner.
    pub fn new(
        iam: Arc<Iam>,
        kms: Arc<dyn KmsConnector>,
        ttl: Duration,
        local_account: AccountId,
    ) -> Self {
        Self {
            iam,
            local_account,
            region: DEFAULT_REGION.to_owned(),
            connector: kms,
            ttl,
            clock: Arc::new(SystemClock),
            chains: Mutex::new(HashMap::new()),
        }
    }

    /// The same services with cache expiry read from `clock` (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same services naming warehouse resources in `region` (the KMS's).
    #[must_use]
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = region.to_owned();
        self
    }

    /// How long unwrapped keysets stay cached.
    pub fn cache_ttl(&self) -> Duration {
        self.ttl
    }

    /// The KMS acting as `principal`, without caching (one-off calls such as
    /// checking a key when storage encryption is enabled).
    pub(crate) fn kms_as(&self, principal: Principal) -> Box<dyn Kms> {
        self.connector.connect(principal)
    }

    /// The caching KMS of a chain, acting as `session` (the chain's last role).
    pub(crate) fn kms_for(&self, chain: &str, session: Principal) -> Arc<dyn Kms> {
        let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        let kms = chains.entry(chain.to_owned()).or_insert_with(|| {
            Arc::new(
                CachingKms::new(self.connector.connect(session), self.ttl)
                    .with_clock(Arc::clone(&self.clock)),
            )
        });
        Arc::clone(kms)
    }
}

impl fmt::Debug for IdentityServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityServices")
            .field("cache_ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
