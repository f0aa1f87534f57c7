//! The way every part of the warehouse reaches the KMS: a [`KmsConnector`]
//! gives the KMS acting as a principal (the embedded service, or an HTTP
//! client holding that principal's credentials), and a [`KmsGateway`] keeps
//! one caching KMS per principal chain over it, so a cached answer (an
//! unwrapped keyset, a storage data key) is only ever served to the chain
//! that obtained it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sealhouse_iam::{Clock, Principal, SystemClock};

use crate::{CachingKms, Kms, KmsData, KmsService};

/// A KMS as a given principal.
pub trait KmsConnector: Send + Sync {
    /// The KMS, acting as `principal`.
    fn connect(&self, principal: Principal) -> Box<dyn Kms>;
}

impl KmsConnector for KmsService {
    fn connect(&self, principal: Principal) -> Box<dyn Kms> {
        Box::new(self.as_principal(principal))
    }
}

/// A connector and the caching KMS of each principal chain reached through
/// it. Shared by every session of a process.
pub struct KmsGateway {
    connector: Arc<dyn KmsConnector>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    chains: Mutex<HashMap<String, Arc<dyn KmsData>>>,
}

impl KmsGateway {
    /// A gateway caching Decrypt answers for `ttl` (`Duration::ZERO`: every
    /// use reaches the KMS, so a disabled key stops the next statement).
    pub fn new(connector: Arc<dyn KmsConnector>, ttl: Duration) -> Self {
        Self {
            connector,
            ttl,
            clock: Arc::new(SystemClock),
            chains: Mutex::new(HashMap::new()),
        }
    }

    /// A gateway over the same connector with the same TTL, reading cache
    /// expiry from `clock` (tests); its caches start empty.
    #[must_use]
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        Self {
            connector: Arc::clone(&self.connector),
            ttl: self.ttl,
            clock,
            chains: Mutex::new(HashMap::new()),
        }
    }

    /// How long answers stay cached.
    pub fn cache_ttl(&self) -> Duration {
        self.ttl
    }

    /// The KMS acting as `principal`, without caching (one-off calls such
    /// as checking a key before storage encryption is enabled with it).
    pub fn connect(&self, principal: Principal) -> Box<dyn Kms> {
        self.connector.connect(principal)
    }

    /// The caching KMS of `chain` (a name for the caller and the roles it
    /// went through), acting as `principal` (the chain's last one). The
    /// same object every time, so its cache lives as long as the gateway.
    pub fn cached(&self, chain: &str, principal: Principal) -> Arc<dyn KmsData> {
        self.cached_with(chain, principal, false)
    }

    /// [`KmsGateway::cached`], the cache also remembering the ciphertexts
    /// its own Encrypt and GenerateDataKey calls return
    /// ([`CachingKms::remembering_encryptions`]: storage encryption, which
    /// reads back the files it writes). `chain` must name only such uses.
    pub fn cached_remembering(&self, chain: &str, principal: Principal) -> Arc<dyn KmsData> {
        self.cached_with(chain, principal, true)
    }

    fn cached_with(&self, chain: &str, principal: Principal, remember: bool) -> Arc<dyn KmsData> {
        let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        let kms = chains.entry(chain.to_owned()).or_insert_with(|| {
            let cache = CachingKms::new(self.connector.connect(principal), self.ttl)
                .with_clock(Arc::clone(&self.clock));
            Arc::new(if remember {
                cache.remembering_encryptions()
            } else {
                cache
            })
        });
        Arc::clone(kms)
    }
}

impl fmt::Debug for KmsGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsGateway")
            .field("cache_ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
