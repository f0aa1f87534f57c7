//! What a SQL session with an identity needs: the identity service (to
//! authorise statements and walk role chains), the KMS gateway (the KMS as
//! any principal, with one unwrap cache per role chain), and the local
//! account (which owns projects made before there was an owner to record,
//! such as `default`). One `IdentityServices` is shared by every session of
//! a process, so sessions acting through the same role chain share cached
//! keysets.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sealhouse_iam::{AccountId, Clock, Iam, Principal};
use sealhouse_kms::{DEFAULT_REGION, KmsConnector, KmsData, KmsGateway};
use sealhouse_storage::encryption::setup::SetupServices;

use crate::sealed_keysets::KeysetSealer;

/// The identity service, the KMS gateway and the local account.
pub struct IdentityServices {
    pub(crate) iam: Arc<Iam>,
    pub(crate) local_account: AccountId,
    pub(crate) region: String,
    gateway: Arc<KmsGateway>,
    /// Seals keyset constants of plans sent to a cluster (made when first
    /// needed, shared so its data key serves every session).
    sealer: Mutex<Option<Arc<KeysetSealer>>>,
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
            gateway: Arc::new(KmsGateway::new(kms, ttl)),
            sealer: Mutex::new(None),
        }
    }

    /// The same services with cache expiry read from `clock` (tests); the
    /// caches start empty.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.gateway = Arc::new(self.gateway.with_clock(clock));
        self.sealer = Mutex::new(None);
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
        self.gateway.cache_ttl()
    }

    /// The KMS gateway (storage encryption reaches the KMS through it).
    pub fn gateway(&self) -> &Arc<KmsGateway> {
        &self.gateway
    }

    /// The process's keyset sealer.
    pub(crate) fn keyset_sealer(&self) -> Result<Arc<KeysetSealer>, String> {
        let mut sealer = self.sealer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(made) = sealer.as_ref() {
            return Ok(Arc::clone(made));
        }
        let made = Arc::new(KeysetSealer::new(Arc::clone(&self.iam), &self.gateway)?);
        *sealer = Some(Arc::clone(&made));
        Ok(made)
    }

    /// What setting up a project's storage encryption reaches.
    pub(crate) fn setup(&self) -> SetupServices<'_> {
        SetupServices {
            iam: &self.iam,
            gateway: &self.gateway,
            region: &self.region,
        }
    }

    /// The caching KMS of a chain, acting as `session` (the chain's last role).
    pub(crate) fn kms_for(&self, chain: &str, session: Principal) -> Arc<dyn KmsData> {
        self.gateway.cached(chain, session)
    }
}

impl fmt::Debug for IdentityServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityServices")
            .field("cache_ttl", &self.cache_ttl())
            .finish_non_exhaustive()
    }
}
