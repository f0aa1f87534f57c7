//! Sealing keysets for a cluster, on the coordinator: one data key from the
//! KMS under the warehouse's cluster-keyset CMK (created in the service
//! account on first use) seals the keyset constants of every statement for
//! a few hours, so a repeated query makes no KMS call; each seal names its
//! own, shorter expiry.

use std::sync::{Mutex, PoisonError};

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{AccountId, Iam, Principal};
use sealhouse_kms::api::{
    CreateAliasRequest, CreateKeyRequest, GenerateDataKeyRequest, KeyRequest,
};
use sealhouse_kms::{ErrorCode, Kms, KmsGateway};
use sealhouse_storage::PlanSealer;
use sealhouse_storage::encryption::SERVICE_ACCOUNT;

use super::format::{self, SealedKind};
use super::{SEAL_LIFETIME_SECS, context};

/// The alias of the cluster-keyset CMK in the service account.
pub(crate) const KEY_ALIAS: &str = "alias/sealhouse/cluster-keysets";

/// How long a data key may be named in seals: a seal made with it must
/// expire before it does.
const DATA_KEY_LIFETIME_SECS: i64 = 2 * SEAL_LIFETIME_SECS;

/// Seals keysets with data keys of the cluster-keyset CMK.
pub struct KeysetSealer {
    iam: std::sync::Arc<Iam>,
    kms: Box<dyn Kms>,
    current: Mutex<Option<DataKey>>,
}

struct DataKey {
    plaintext: SecretBytes,
    blob: Vec<u8>,
    expires: i64,
}

impl std::fmt::Debug for KeysetSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysetSealer").finish_non_exhaustive()
    }
}

impl KeysetSealer {
    /// A sealer reaching the KMS through `gateway` as the warehouse
    /// service account (made in `iam` when first needed).
    pub(crate) fn new(iam: std::sync::Arc<Iam>, gateway: &KmsGateway) -> Result<Self, String> {
        let account = service_account()?;
        Ok(Self {
            iam,
            kms: gateway.connect(Principal::Root { account }),
            current: Mutex::new(None),
        })
    }

    /// `keyset` sealed at `now` (Unix seconds), opening until
    /// [`SEAL_LIFETIME_SECS`] later.
    pub(crate) fn seal(
        &self,
        kind: SealedKind,
        keyset: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, String> {
        let expires = now + SEAL_LIFETIME_SECS;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_none_or(|k| k.expires < expires) {
            *current = Some(self.new_data_key(now + DATA_KEY_LIFETIME_SECS)?);
        }
        let Some(key) = current.as_ref() else {
            unreachable!("set just above")
        };
        format::seal(
            kind,
            expires,
            key.expires,
            &key.blob,
            &key.plaintext,
            keyset,
        )
        .map_err(|e| e.to_string())
    }

    fn new_data_key(&self, expires: i64) -> Result<DataKey, String> {
        let key_id = self.cmk()?;
        let made = self
            .kms
            .generate_data_key(&GenerateDataKeyRequest {
                key_id,
                key_spec: None,
                number_of_bytes: Some(32),
                encryption_context: context(expires),
            })
            .map_err(|e| format!("the KMS made no data key to seal the query's keysets: {e}"))?;
        Ok(DataKey {
            plaintext: made.plaintext,
            blob: made.ciphertext_blob,
            expires,
        })
    }

    /// The cluster-keyset CMK's id, created with its alias on first use. Two
    /// processes creating it at once agree on the one the alias names.
    fn cmk(&self) -> Result<String, String> {
        // The account exists once a project used a default storage key;
        // before, it is made here.
        self.iam
            .ensure_service_account(&service_account()?)
            .map_err(|e| format!("cannot set up the warehouse service account: {e}"))?;
        match self.kms.describe_key(&KeyRequest::new(KEY_ALIAS)) {
            Ok(found) => return Ok(found.key_metadata.key_id),
            Err(e) if matches!(e.code(), ErrorCode::AliasNotFound | ErrorCode::KeyNotFound) => {}
            Err(e) => return Err(format!("cannot find the cluster-keyset key: {e}")),
        }
        let created = self
            .kms
            .create_key(&CreateKeyRequest {
                description: "Sealhouse cluster keysets: seals the keyset constants of queries \
                              sent to a cluster; owned by the warehouse service, not grantable"
                    .to_owned(),
                ..CreateKeyRequest::default()
            })
            .map_err(|e| format!("cannot create the cluster-keyset key: {e}"))?;
        let created = created.key_metadata.key_id;
        match self.kms.create_alias(&CreateAliasRequest {
            alias_name: KEY_ALIAS.to_owned(),
            key_id: created.clone(),
        }) {
            Ok(_) => Ok(created),
            Err(e) if e.code() == ErrorCode::AliasAlreadyExists => self
                .kms
                .describe_key(&KeyRequest::new(KEY_ALIAS))
                .map(|found| found.key_metadata.key_id)
                .map_err(|e| format!("cannot find the cluster-keyset key: {e}")),
            Err(e) => Err(format!("cannot name the cluster-keyset key: {e}")),
        }
    }
}

/// A scan's block-tag keys travel sealed as keysets do.
impl PlanSealer for KeysetSealer {
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, String> {
        KeysetSealer::seal(self, SealedKind::TagKeys, secret, super::now())
    }
}

/// The warehouse service account, whose keys no customer can use.
pub(crate) fn service_account() -> Result<AccountId, String> {
    AccountId::new(SERVICE_ACCOUNT).map_err(|e| format!("the service account id is invalid: {e}"))
}
