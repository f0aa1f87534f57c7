//! `CachingKms`: a [`Kms`] in front of another that remembers Decrypt results
//! for a time to live, so that unwrapping the same data key or wrapped keyset
//! again costs no KMS call.
//!
//! Semantics (documented in `docs/kms.md`):
//!
//! - **What is cached:** successful Decrypt results (the plaintext, its key id
//!   and version id, and the request id of the call that produced it), keyed
//!   by a SHA-256 of the ciphertext blob and the canonical encryption context.
//!   Errors are never cached; every other operation goes straight through.
//! - **For how long:** the TTL, 24 hours by default as in the spec.
//!   `Duration::ZERO` disables caching: every Decrypt reaches the KMS, so
//!   disabling or deleting a key takes effect at once. Expired entries are
//!   dropped when met and whenever an entry is added.
//! - **Revocation is delayed by design.** A key disabled, scheduled for
//!   deletion or deleted in the KMS keeps decrypting, from the cache, what
//!   was decrypted before, until the entry expires: this is the spec's
//!   documented behaviour ("changes in KMS may take up to 24 hours to take
//!   effect"). Choose the TTL for the revocation delay you accept.
//! - **Bounded:** at most `max_entries` entries (10,000 by default); when full,
//!   the oldest entry goes.
//! - **One caller.** A `CachingKms` wraps a handle bound to one principal. Do
//!   not share one cache between principals: a hit is not authorised again.
//! - Cached plaintexts are [`SecretBytes`]: never printed, zeroed when dropped.
//!   Cache hits are not audited by the KMS (no call reaches it).
//! - **Own ciphertexts, when asked** ([`CachingKms::remembering_encryptions`]):
//!   the ciphertexts this cache's Encrypt and GenerateDataKey calls return
//!   are remembered as if decrypted, with the plaintext the caller gave or
//!   got, for the same TTL. Storage encryption uses it: a file's key wrapped
//!   by the KMS is unwrapped from the cache when the same process reads the
//!   file back within the TTL (the automatic merge of small files just
//!   written), instead of one audited Decrypt per file. It answers only
//!   what the caller already held.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{Clock, SystemClock};
use time::OffsetDateTime;

use crate::api::{
    DecryptRequest, DecryptResponse, DescribeKeyRequest, DescribeKeyResponse, EncryptRequest,
    EncryptResponse, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextResponse, ReEncryptRequest, ReEncryptResponse,
};
use crate::blob::canonical_context;
use crate::error::KmsError;
use crate::kms::KmsData;

/// The default time to live: 24 hours, as in the spec.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The default bound on entries.
pub const DEFAULT_CACHE_ENTRIES: usize = 10_000;

type CacheKey = [u8; 32];

struct Entry {
    seq: u64,
    /// `None`: a TTL too long to represent, so never.
    expires_at: Option<OffsetDateTime>,
    request_id: String,
    key_id: String,
    key_version_id: String,
    plaintext: SecretBytes,
}

impl Entry {
    fn live_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<CacheKey, Entry>,
    /// Insertion order (and, the TTL being the same for all, expiry order).
    order: BTreeMap<u64, CacheKey>,
    next_seq: u64,
}

impl State {
    fn remove(&mut self, key: &CacheKey) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.seq);
        }
    }

    /// Drops expired entries from the old end.
    fn purge(&mut self, now: OffsetDateTime) {
        while let Some((&seq, key)) = self.order.first_key_value() {
            match self.entries.get(key) {
                Some(e) if e.live_at(now) => break,
                _ => {
                    let key = *key;
                    self.order.remove(&seq);
                    self.entries.remove(&key);
                }
            }
        }
    }
}

/// A [`Kms`] that caches Decrypt results of the `K` it wraps.
pub struct CachingKms<K> {
    inner: K,
    ttl: Duration,
    /// Whether Encrypt and GenerateDataKey answers fill the Decrypt cache.
    remember_encryptions: bool,
    max_entries: usize,
    clock: Box<dyn Clock>,
    state: Mutex<State>,
}

impl<K: KmsData> CachingKms<K> {
    /// Caches `inner`'s Decrypt results for `ttl` (`Duration::ZERO`: not at
    /// all), on the system clock, at most [`DEFAULT_CACHE_ENTRIES`].
    pub fn new(inner: K, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            remember_encryptions: false,
            max_entries: DEFAULT_CACHE_ENTRIES,
            clock: Box::new(SystemClock),
            state: Mutex::new(State::default()),
        }
    }

    /// The same cache reading time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The same cache, also remembering the ciphertexts its Encrypt and
    /// GenerateDataKey calls return (see the module's documentation).
    #[must_use]
    pub fn remembering_encryptions(mut self) -> Self {
        self.remember_encryptions = true;
        self
    }

    /// Remembers that `ciphertext_blob` under `context` decrypts to
    /// `plaintext`, as an Encrypt or GenerateDataKey this cache made
    /// answered (its request id, key id and key version id).
    fn remember(
        &self,
        context: &crate::api::EncryptionContext,
        ciphertext_blob: &[u8],
        [request_id, key_id, key_version_id]: [&String; 3],
        plaintext: &SecretBytes,
    ) -> Result<(), KmsError> {
        if !self.remember_encryptions || self.ttl.is_zero() {
            return Ok(());
        }
        let key = Self::cache_key(&DecryptRequest {
            ciphertext_blob: ciphertext_blob.to_vec(),
            encryption_context: context.clone(),
        })?;
        let answer = DecryptResponse {
            request_id: request_id.clone(),
            key_id: key_id.clone(),
            key_version_id: key_version_id.clone(),
            plaintext: plaintext.duplicate(),
        };
        self.insert(key, &answer, self.clock.now());
        Ok(())
    }

    /// The same cache holding at most `max_entries` (at least 1).
    #[must_use]
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The wrapped service.
    pub fn inner(&self) -> &K {
        &self.inner
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        let mut state = self.lock();
        state.purge(self.clock.now());
        state.entries.len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (their plaintexts are zeroed).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.order.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave an entry half-written: entries are
        // inserted whole. Keep serving rather than fail every call.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cache_key(request: &DecryptRequest) -> Result<CacheKey, KmsError> {
        let context = canonical_context(&request.encryption_context)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&(request.ciphertext_blob.len() as u64).to_be_bytes());
        ctx.update(&request.ciphertext_blob);
        ctx.update(&context);
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        Ok(key)
    }

    fn lookup(&self, key: &CacheKey, now: OffsetDateTime) -> Option<DecryptResponse> {
        let mut state = self.lock();
        match state.entries.get(key) {
            Some(e) if e.live_at(now) => Some(DecryptResponse {
                request_id: e.request_id.clone(),
                key_id: e.key_id.clone(),
                key_version_id: e.key_version_id.clone(),
                plaintext: e.plaintext.duplicate(),
            }),
            Some(_) => {
                state.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert(&self, key: CacheKey, response: &DecryptResponse, now: OffsetDateTime) {
        let expires_at = time::Duration::try_from(self.ttl)
            .ok()
            .and_then(|ttl| now.checked_add(ttl));
        let mut state = self.lock();
        state.remove(&key);
        state.purge(now);
        while state.entries.len() >= self.max_entries {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            state.entries.remove(&oldest);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.order.insert(seq, key);
        state.entries.insert(
            key,
            Entry {
                seq,
                expires_at,
                request_id: response.request_id.clone(),
                key_id: response.key_id.clone(),
                key_version_id: response.key_version_id.clone(),
                plaintext: response.plaintext.duplicate(),
            },
        );
    }
}

impl<K: KmsData> KmsData for CachingKms<K> {
    fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        if self.ttl.is_zero() {
            return self.inner.decrypt(request);
        }
        let key = Self::cache_key(request)?;
        if let Some(hit) = self.lookup(&key, self.clock.now()) {
            return Ok(hit);
        }
        let response = self.inner.decrypt(request)?;
        self.insert(key, &response, self.clock.now());
        Ok(response)
    }

    fn describe_key(&self, request: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        self.inner.describe_key(request)
    }

    fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        let response = self.inner.encrypt(request)?;
        self.remember(
            &request.encryption_context,
            &response.ciphertext_blob,
            [
                &response.request_id,
                &response.key_id,
                &response.key_version_id,
            ],
            &request.plaintext,
        )?;
        Ok(response)
    }

    fn generate_data_key(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        let response = self.inner.generate_data_key(request)?;
        self.remember(
            &request.encryption_context,
            &response.ciphertext_blob,
            [
                &response.request_id,
                &response.key_id,
                &response.key_version_id,
            ],
            &response.plaintext,
        )?;
        Ok(response)
    }

    fn generate_data_key_without_plaintext(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.inner.generate_data_key_without_plaintext(request)
    }

    fn re_encrypt(&self, request: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.inner.re_encrypt(request)
    }
}

impl<K> std::fmt::Debug for CachingKms<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingKms")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}
