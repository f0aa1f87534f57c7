//! Opening sealed keysets where a plan runs (a cluster's executors): one
//! KMS Decrypt of the data key per sealing key, cached for the KMS cache's
//! TTL, then AES-GCM. The opened keyset and its ciphers are kept by the
//! seal, so each batch of a task pays one comparison.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use sealhouse_crypto::{KeysetCipher, SecretBytes};
use sealhouse_iam::Principal;
use sealhouse_kms::api::DecryptRequest;
use sealhouse_kms::{KmsData, KmsGateway};
use sealhouse_storage::PlanOpener;

use super::context;
use super::format::{self, SealedKind};
use super::sealer::service_account;

/// How many opened seals stay prepared.
const CAPACITY: usize = 16;

/// An opened sealed keyset.
#[derive(Clone)]
pub(crate) struct Unsealed {
    pub(crate) kind: SealedKind,
    /// The keyset (or raw key) itself.
    pub(crate) keyset: Arc<SecretBytes>,
    /// Its ciphers: a keyset's, not a raw key's.
    pub(crate) cipher: Option<Arc<KeysetCipher>>,
    expires: i64,
}

/// Opens sealed keysets through the KMS: as the warehouse service account,
/// or as a cluster executor's own principal.
pub struct KeysetUnsealer {
    kms: Arc<dyn KmsData>,
    opened: Mutex<Vec<(Vec<u8>, Unsealed)>>,
    /// Held while a seal is opened, so the tasks of a job starting at once
    /// make one KMS Decrypt, not one each.
    opening: Mutex<()>,
}

impl std::fmt::Debug for KeysetUnsealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysetUnsealer").finish_non_exhaustive()
    }
}

impl KeysetUnsealer {
    /// An unsealer reaching the KMS through `gateway`, whose cache keeps
    /// each data key for its TTL.
    pub fn new(gateway: &KmsGateway) -> Result<Self, String> {
        let account = service_account()?;
        Ok(Self::as_principal(
            gateway.cached("cluster-keysets", Principal::Root { account }),
        ))
    }

    /// An unsealer reaching the KMS through `kms`, one principal's
    /// connection (a cluster executor's own), which must be allowed
    /// `kms:Decrypt` on the cluster-keyset CMK.
    pub fn as_principal(kms: Arc<dyn KmsData>) -> Self {
        Self {
            kms,
            opened: Mutex::new(Vec::new()),
            opening: Mutex::new(()),
        }
    }

    /// The keyset sealed in `sealed`, if it has not expired.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Unsealed, String> {
        let now = now();
        if let Some(found) = self.opened_before(sealed, now) {
            return Ok(found);
        }
        let _opening = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        // Another task may have opened it while this one waited.
        if let Some(found) = self.opened_before(sealed, now) {
            return Ok(found);
        }
        let parsed = format::parse(sealed).map_err(|e| e.to_string())?;
        if parsed.expires < now {
            return Err(format!(
                "the query's sealed keyset expired {} seconds ago; run the statement again",
                now - parsed.expires
            ));
        }
        let data_key = self
            .kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: parsed.blob.to_vec(),
                encryption_context: context(parsed.key_expires),
            })
            .map_err(|e| format!("the KMS did not open the query's sealed keyset: {e}"))?;
        let keyset = parsed
            .open(&data_key.plaintext)
            .map_err(|e| e.to_string())?;
        let cipher = match parsed.kind {
            SealedKind::RawKey | SealedKind::TagKeys => None,
            SealedKind::Keyset | SealedKind::Reference => Some(Arc::new(
                KeysetCipher::from_keyset_bytes(keyset.expose())
                    .map_err(|e| format!("the sealed keyset does not parse: {e}"))?,
            )),
        };
        let found = Unsealed {
            kind: parsed.kind,
            keyset: Arc::new(keyset),
            cipher,
            expires: parsed.expires,
        };
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        opened.insert(0, (sealed.to_vec(), found.clone()));
        opened.truncate(CAPACITY);
        Ok(found)
    }

    /// `sealed` as opened before, most recently used first.
    fn opened_before(&self, sealed: &[u8], now: i64) -> Option<Unsealed> {
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        opened.retain(|(_, u)| u.expires >= now);
        let i = opened.iter().position(|(s, _)| s.as_slice() == sealed)?;
        let entry = opened.remove(i);
        let found = entry.1.clone();
        opened.insert(0, entry);
        Some(found)
    }
}

/// Opens a scan's sealed block-tag keys, and nothing else.
impl PlanOpener for KeysetUnsealer {
    fn open(&self, sealed: &[u8]) -> Result<SecretBytes, String> {
        let opened = KeysetUnsealer::open(self, sealed)?;
        if opened.kind != SealedKind::TagKeys {
            return Err("the sealed value is not a scan's block-tag keys".to_owned());
        }
        Ok(opened.keyset.duplicate())
    }
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sealhouse_crypto::{Algorithm, Keyset};
    use sealhouse_iam::{AccountId, Iam, NoSealing, SqliteStore, SystemClock};
    use sealhouse_kms::{KmsService, RootKey};
    use sealhouse_storage::PlanSealer;

    use super::*;
    use crate::IdentityServices;
    use crate::functions::keyset_cache::KeysetCache;
    use crate::sealed_keysets::KeysetSealer;

    /// A seal of one kind never serves as another: a scan's tag keys are no
    /// keyset and no raw key to the functions, and a keyset is no scan's
    /// tag keys to a scan (what a plan forged from seals of other plans
    /// would try).
    #[test]
    fn a_seal_serves_only_as_its_own_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let iam = Arc::new(Iam::new(
            SqliteStore::open_in_memory().expect("iam"),
            NoSealing,
        ));
        let local = AccountId::new("1892732288741234").expect("account");
        iam.create_account(&local).expect("account");
        let kms = KmsService::open(
            &dir.path().join("kms"),
            Arc::clone(&iam),
            RootKey::generate().expect("root key"),
            SystemClock,
        )
        .expect("kms");
        let services = IdentityServices::new(
            Arc::clone(&iam),
            Arc::new(kms),
            Duration::from_secs(60),
            local,
        );
        let sealer = KeysetSealer::new(iam, services.gateway()).expect("sealer");
        let unsealer = Arc::new(KeysetUnsealer::new(services.gateway()).expect("unsealer"));
        let keyset = Keyset::new(Algorithm::AesGcm256, "k")
            .expect("keyset")
            .to_bytes();

        let tag_keys = PlanSealer::seal(&sealer, b"the scan's tag keys").expect("sealed");
        let keyset_seal = sealer
            .seal(SealedKind::Keyset, keyset.expose(), now())
            .expect("sealed");
        let raw_seal = sealer
            .seal(SealedKind::RawKey, &[7; 32], now())
            .expect("sealed");

        assert_eq!(
            PlanOpener::open(unsealer.as_ref(), &tag_keys)
                .expect("tag keys open as tag keys")
                .expose(),
            b"the scan's tag keys"
        );
        for other in [&keyset_seal, &raw_seal] {
            let e = PlanOpener::open(unsealer.as_ref(), other).expect_err("not tag keys");
            assert!(e.contains("not a scan's block-tag keys"), "{e}");
        }
        let cache = KeysetCache::new(Some(Arc::clone(&unsealer)));
        let e = cache
            .lookup(&tag_keys, true)
            .err()
            .expect("tag keys are no keyset")
            .to_string();
        assert!(e.contains("not a keyset"), "{e}");
        let e = cache
            .raw_key(&tag_keys, true)
            .expect_err("tag keys are no raw key")
            .to_string();
        assert!(e.contains("not a raw key"), "{e}");
        assert!(cache.lookup(&keyset_seal, true).is_ok());
        assert!(cache.raw_key(&raw_seal, true).expect("opens").is_some());
    }
}
