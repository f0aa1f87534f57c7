//! Key versions and rotation: CreateKeyVersion (manual rotation),
//! ListKeyVersions, UpdateRotationPolicy, and the making and opening of
//! version material that every other part uses.
//!
//! As in Vault's transit keys: every version is kept and decrypts what it
//! encrypted; Encrypt and GenerateDataKey use the primary, which is always the
//! newest version. Each version's 32-byte AES key comes from the operating
//! system's generator and is stored only sealed, bound to its key id and
//! version id.

use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use uuid::Uuid;

use crate::api::{
    CreateKeyVersionRequest, CreateKeyVersionResponse, EmptyResponse, KeyState, KeyVersion,
    ListKeyVersionsRequest, ListKeyVersionsResponse, Origin, UpdateRotationPolicyRequest,
    page_offset,
};
use crate::call::Call;
use crate::error::{ErrorCode, KmsError};
use crate::ids;
use crate::resolve::{live_key, require_enabled};
use crate::seal::Purpose;
use crate::service::ServiceState;
use crate::store::{KeyRecord, Tx, VersionRecord, to_time};

/// Length of a key version's AES key.
const VERSION_KEY_LEN: usize = 32;

impl ServiceState {
    /// Makes a new primary version of `key` from fresh random material and
    /// writes the key's rotation dates.
    pub(crate) fn add_version(
        &self,
        tx: &Tx<'_>,
        key: &mut KeyRecord,
        now: i64,
    ) -> Result<VersionRecord, KmsError> {
        let material = SecretBytes::random(VERSION_KEY_LEN).map_err(|_| ids::random_failed())?;
        self.add_version_with(tx, key, now, &material)
    }

    /// Makes a new primary version of `key` holding `material`.
    pub(crate) fn add_version_with(
        &self,
        tx: &Tx<'_>,
        key: &mut KeyRecord,
        now: i64,
        material: &SecretBytes,
    ) -> Result<VersionRecord, KmsError> {
        let version_id = ids::new_version_id();
        let seq = tx.versions(&key.key_id)?.last().map_or(1, |v| v.seq + 1);
        let version = VersionRecord {
            key_id: key.key_id.clone(),
            version_id,
            seq,
            created_at: now,
            sealed_material: Some(self.seal_version(&key.key_id, version_id, material)),
        };
        tx.insert_version(&version)?;
        key.primary_version = Some(version_id);
        key.last_rotation_date = Some(now);
        key.next_rotation_date = key.rotation_interval.map(|i| now + i.seconds());
        tx.update_key(key)?;
        Ok(version)
    }

    /// Seals a version's material, bound to its key id and version id.
    pub(crate) fn seal_version(
        &self,
        key_id: &str,
        version_id: Uuid,
        material: &SecretBytes,
    ) -> Vec<u8> {
        let version = version_id.to_string();
        self.sealer.seal(
            Purpose::KeyVersion,
            &[key_id.as_bytes(), version.as_bytes()],
            material.expose(),
        )
    }

    /// The cipher of one version of `key`. Material destroyed (expired BYOK)
    /// refuses as PendingImport.
    pub(crate) fn version_cipher(
        &self,
        key: &KeyRecord,
        version: &VersionRecord,
        operation: &str,
    ) -> Result<AesGcm256, KmsError> {
        let Some(sealed) = &version.sealed_material else {
            return Err(KmsError::unusable(
                &key.arn_text(),
                KeyState::PendingImport,
                operation,
                None,
            ));
        };
        let id = version.version_id.to_string();
        let material = self.sealer.unseal(
            Purpose::KeyVersion,
            &[key.key_id.as_bytes(), id.as_bytes()],
            sealed,
        )?;
        AesGcm256::new(&material)
            .map_err(|_| KmsError::internal("a stored key version is not a 32-byte key"))
    }

    /// The primary version of an Enabled key, and its cipher.
    pub(crate) fn primary_cipher(
        &self,
        tx: &Tx<'_>,
        key: &KeyRecord,
        operation: &str,
    ) -> Result<(Uuid, AesGcm256), KmsError> {
        require_enabled(key, operation)?;
        let missing = || {
            KmsError::internal(format!(
                "key {} is Enabled but has no primary version; the KMS database needs repair",
                key.arn_text()
            ))
        };
        let primary = key.primary_version.ok_or_else(missing)?;
        let version = tx.version(&key.key_id, primary)?.ok_or_else(missing)?;
        Ok((primary, self.version_cipher(key, &version, operation)?))
    }

    /// CreateKeyVersion.
    pub(crate) fn create_key_version(
        &self,
        call: &mut Call<'_>,
        request: &CreateKeyVersionRequest,
    ) -> Result<CreateKeyVersionResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        if key.origin == Origin::External {
            return Err(external_cannot_rotate(&key));
        }
        let now = call.now_unix();
        let version = self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            require_enabled(&key, "CreateKeyVersion")?;
            self.add_version(tx, &mut key, now)
        })?;
        Ok(CreateKeyVersionResponse {
            request_id: call.request_id(),
            key_version: KeyVersion {
                key_id: version.key_id,
                key_version_id: version.version_id.to_string(),
                creation_date: to_time(version.created_at),
            },
        })
    }

    /// ListKeyVersions.
    pub(crate) fn list_key_versions(
        &self,
        call: &mut Call<'_>,
        request: &ListKeyVersionsRequest,
    ) -> Result<ListKeyVersionsResponse, KmsError> {
        let offset = page_offset(request.page_number, request.page_size, 100)?;
        let key = self.resolve_key(call, &request.key_id)?;
        let versions = self.store.read(|tx| tx.versions(&key.key_id))?;
        let total_count = versions.len() as u64;
        let key_versions = versions
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(request.page_size as usize)
            .map(|v| KeyVersion {
                key_id: v.key_id,
                key_version_id: v.version_id.to_string(),
                creation_date: to_time(v.created_at),
            })
            .collect();
        Ok(ListKeyVersionsResponse {
            request_id: call.request_id(),
            key_versions,
            total_count,
            page_number: request.page_number,
            page_size: request.page_size,
        })
    }

    /// UpdateRotationPolicy. The next rotation is the last one plus the new
    /// interval; if that is already past, the key rotates on its next use
    /// (or `tick`).
    pub(crate) fn update_rotation_policy(
        &self,
        call: &mut Call<'_>,
        request: &UpdateRotationPolicyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        let interval = match (request.enable_automatic_rotation, request.rotation_interval) {
            (false, _) => None,
            (true, Some(interval)) => Some(interval),
            (true, None) => {
                return Err(KmsError::invalid(
                    "EnableAutomaticRotation is true but RotationInterval is missing; give an \
                     interval of 7 to 365 days, such as 365d",
                ));
            }
        };
        let key = self.resolve_key(call, &request.key_id)?;
        if key.origin == Origin::External && interval.is_some() {
            return Err(external_cannot_rotate(&key));
        }
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            if key.state == KeyState::PendingDeletion {
                return Err(KmsError::state_conflict(
                    &key.arn_text(),
                    key.state,
                    "change the rotation policy of",
                    "cancel its deletion first",
                ));
            }
            key.rotation_interval = interval;
            key.next_rotation_date = match (interval, key.last_rotation_date) {
                (Some(i), Some(last)) => Some(last + i.seconds()),
                _ => None,
            };
            tx.update_key(&key)
        })?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }
}

fn external_cannot_rotate(key: &KeyRecord) -> KmsError {
    KmsError::new(
        ErrorCode::UnsupportedOrigin,
        format!(
            "key {} has Origin EXTERNAL: the KMS cannot make new versions of imported material; \
             to rotate, create a new key and import new material into it",
            key.arn_text()
        ),
    )
}
