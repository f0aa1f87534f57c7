//! The nonce cache that refuses replays.
//!
//! A verified request's (access key id, `x-acs-signature-nonce`) is
//! remembered until its `x-acs-date` plus the window: after that the date
//! check refuses the request anyway, so the entry can go. The cache is
//! in memory and bounded. When it is full of unexpired entries, new requests
//! are refused ([`super::SignatureError::ReplayCacheFull`]) rather than
//! admitted unchecked or made room for by forgetting a nonce that could still
//! be replayed.
//!
//! [`ReplayCache`] protects one process: another process, or the same one
//! after a restart, would accept a request replayed to it. Servers use a
//! [`NonceLedger`] every process on the data directory shares and that
//! outlives them (the identity store's `signature_nonces` table, see
//! [`crate::Iam`]); the in-memory cache is for tests and one-off tools.
//!
//! Entries are 16-byte digests of (id, nonce) with their expiry, about 60
//! bytes each with the map and the heap; the default capacity of one million
//! is some 60 MB at most, about 1,100 requests a second sustained over a
//! 15-minute window.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use ring::digest::{Context, SHA256};

/// Default number of nonces remembered at once.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

/// The 16-byte digest of (access key id, nonce) a ledger remembers.
pub type NonceDigest = [u8; 16];
type Key = NonceDigest;

/// Where verified nonces are remembered until their request's date leaves
/// the window.
pub trait NonceLedger: Send + Sync + fmt::Debug {
    /// Records `digest` until `expires_at` (Unix seconds), unless it is
    /// held and not expired at `now`.
    fn record(&self, digest: &NonceDigest, expires_at: i64, now: i64) -> Result<(), Refusal>;
}

impl<T: NonceLedger + ?Sized> NonceLedger for Arc<T> {
    fn record(&self, digest: &NonceDigest, expires_at: i64, now: i64) -> Result<(), Refusal> {
        (**self).record(digest, expires_at, now)
    }
}

/// A bounded, expiring set of (access key id, nonce) pairs.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<Key, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, Key)>>,
}

/// Why a [`NonceLedger`] refused to record a nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Seen before and not yet expired.
    Replayed,
    /// No room.
    Full,
    /// The ledger could not be read or written (its message; no secret).
    Unavailable(String),
}

/// The digest of (access key id, nonce).
pub(crate) fn digest(access_key_id: &str, nonce: &str) -> Key {
    let mut ctx = Context::new(&SHA256);
    // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
    ctx.update(
        &u64::try_from(access_key_id.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    ctx.update(access_key_id.as_bytes());
    ctx.update(nonce.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&ctx.finish().as_ref()[..16]);
    out
}

impl ReplayCache {
    /// A cache holding at most `capacity` unexpired nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The most nonces held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many nonces are held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records (id, nonce) until `expires_at`, unless it is already held.
    /// Entries whose expiry is at or before `now` are dropped first.
    #[cfg(test)]
    pub(crate) fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<(), Refusal> {
        self.record(
            &digest(access_key_id, nonce),
            expires_at.unix_timestamp(),
            now.unix_timestamp(),
        )
    }
}

impl NonceLedger for ReplayCache {
    fn record(&self, k: &NonceDigest, expires_at: i64, now: i64) -> Result<(), Refusal> {
        let k = *k;
        let mut inner = self.lock();
        while let Some(Reverse((at, old))) = inner.by_expiry.peek().copied() {
            if at > now {
                break;
            }
            inner.by_expiry.pop();
            inner.seen.remove(&old);
        }
        if inner.seen.contains_key(&k) {
            return Err(Refusal::Replayed);
        }
        if inner.seen.len() >= self.capacity {
            return Err(Refusal::Full);
        }
        inner.seen.insert(k, expires_at);
        inner.by_expiry.push(Reverse((expires_at, k)));
        Ok(())
    }
}

/// The identity store's nonces: shared by every process on the data
/// directory, and kept across restarts.
impl NonceLedger for crate::Iam {
    fn record(&self, digest: &NonceDigest, expires_at: i64, now: i64) -> Result<(), Refusal> {
        match self.store().record_nonce(digest, expires_at, now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::Replayed),
            Err(e) => Err(Refusal::Unavailable(e.to_string())),
        }
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn refuses_a_nonce_until_it_expires() {
        let c = ReplayCache::new(10);
        assert_eq!(c.check_and_insert("k", "n1", t(900), t(0)), Ok(()));
        assert_eq!(
            c.check_and_insert("k", "n1", t(900), t(899)),
            Err(Refusal::Replayed)
        );
        // Same nonce, another key: a different pair.
        assert_eq!(c.check_and_insert("k2", "n1", t(900), t(1)), Ok(()));
        // The pair split differently is another pair too.
        assert_eq!(c.check_and_insert("k2n", "1", t(900), t(1)), Ok(()));
        assert_eq!(c.len(), 3);
        // At the expiry the entries go.
        assert_eq!(c.check_and_insert("k", "n1", t(1800), t(900)), Ok(()));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_instead_of_forgetting() {
        let c = ReplayCache::new(2);
        assert_eq!(c.capacity(), 2);
        c.check_and_insert("k", "a", t(100), t(0)).unwrap();
        c.check_and_insert("k", "b", t(50), t(0)).unwrap();
        assert_eq!(
            c.check_and_insert("k", "c", t(100), t(10)),
            Err(Refusal::Full)
        );
        // The replay is still caught while full.
        assert_eq!(
            c.check_and_insert("k", "a", t(100), t(10)),
            Err(Refusal::Replayed)
        );
        // Once "b" expires there is room again.
        assert_eq!(c.check_and_insert("k", "c", t(100), t(50)), Ok(()));
        assert_eq!(
            c.check_and_insert("k", "a", t(100), t(60)),
            Err(Refusal::Replayed)
        );
        assert!(!c.is_empty());
        assert_eq!(ReplayCache::new(0).capacity(), 1);
        assert_eq!(ReplayCache::default().capacity(), DEFAULT_REPLAY_CAPACITY);
    }
}
