//! Key management: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
//! ScheduleKeyDeletion and CancelKeyDeletion.
//!
//! State transitions (the cloud's; `docs/kms.md` has the table):
//!
//! | from \ op        | EnableKey | DisableKey | ScheduleKeyDeletion | CancelKeyDeletion |
//! |------------------|-----------|------------|---------------------|-------------------|
//! | Enabled          | Enabled   | Disabled   | PendingDeletion     | refused           |
//! | Disabled         | Enabled   | Disabled   | PendingDeletion     | refused           |
//! | PendingDeletion  | refused   | refused    | refused             | Enabled¹          |
//! | PendingImport    | refused   | refused    | PendingDeletion     | refused           |
//!
//! ¹ PendingImport for a BYOK key that has no material. "Refused" is
//! `Rejected.StateModifiedFailed` with a message saying what to do instead.

use crate::api::{
    CancelKeyDeletionRequest, CancelKeyDeletionResponse, CreateKeyRequest, CreateKeyResponse,
    DescribeKeyRequest, DescribeKeyResponse, DisableKeyRequest, EmptyResponse, EnableKeyRequest,
    KeyListEntry, KeyState, ListKeysRequest, ListKeysResponse, Origin, ScheduleKeyDeletionRequest,
    ScheduleKeyDeletionResponse, page_offset,
};
use crate::call::Call;
use crate::error::{ErrorCode, KmsError, date};
use crate::ids;
use crate::resolve::live_key;
use crate::service::ServiceState;
use crate::store::{KeyRecord, to_time};

/// The longest description accepted, in characters (the cloud's limit).
pub const MAX_DESCRIPTION_CHARS: usize = 8192;

impl ServiceState {
    /// CreateKey.
    pub(crate) fn create_key(
        &self,
        call: &mut Call<'_>,
        request: &CreateKeyRequest,
    ) -> Result<CreateKeyResponse, KmsError> {
        let account = call.caller_account()?;
        call.authorize_text(
            &call.action(),
            &format!("acs:kms:{}:{account}:key", self.region),
        )?;
        if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(KmsError::invalid(format!(
                "Description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let rotation_interval = match (request.enable_automatic_rotation, request.origin) {
            (false, _) => None,
            (true, Origin::External) => {
                return Err(KmsError::new(
                    ErrorCode::UnsupportedOrigin,
                    "automatic rotation is not available for keys with Origin EXTERNAL: the KMS \
                     cannot make new versions of imported material; create the key without \
                     EnableAutomaticRotation",
                ));
            }
            (true, Origin::AliyunKms) => Some(request.rotation_interval.ok_or_else(|| {
                KmsError::invalid(
                    "EnableAutomaticRotation is true but RotationInterval is missing; give an \
                     interval of 7 to 365 days, such as 365d",
                )
            })?),
        };
        let now = call.now_unix();
        let mut key = KeyRecord {
            key_id: ids::new_key_id()?,
            account,
            region: self.region.clone(),
            description: request.description.clone(),
            origin: request.origin,
            state: match request.origin {
                Origin::AliyunKms => KeyState::Enabled,
                Origin::External => KeyState::PendingImport,
            },
            created_at: now,
            delete_date: None,
            deleted_at: None,
            rotation_interval,
            last_rotation_date: None,
            next_rotation_date: None,
            material_expire_time: None,
            material_fingerprint: None,
            primary_version: None,
        };
        call.note_key(&key);
        self.store.write(|tx| {
            tx.insert_key(&key)?;
            if let Some(viewer) = &request.viewer_account {
                tx.insert_viewer(&key.key_id, viewer)?;
            }
            if key.origin == Origin::AliyunKms {
                self.add_version(tx, &mut key, now)?;
            }
            Ok(())
        })?;
        Ok(CreateKeyResponse {
            request_id: call.request_id(),
            key_metadata: key.metadata(),
        })
    }

    /// DescribeKey.
    pub(crate) fn describe_key(
        &self,
        call: &mut Call<'_>,
        request: &DescribeKeyRequest,
    ) -> Result<DescribeKeyResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        Ok(DescribeKeyResponse {
            request_id: call.request_id(),
            key_metadata: key.metadata(),
        })
    }

    /// ListKeys: authorised as `kms:ListKeys` on `acs:kms:<region>:<account>:key`.
    pub(crate) fn list_keys(
        &self,
        call: &mut Call<'_>,
        request: &ListKeysRequest,
    ) -> Result<ListKeysResponse, KmsError> {
        let account = call.caller_account()?;
        call.authorize_text(
            &call.action(),
            &format!("acs:kms:{}:{account}:key", self.region),
        )?;
        let offset = page_offset(request.page_number, request.page_size, 100)?;
        let (keys, total_count) = self
            .store
            .read(|tx| tx.keys_page(&account, &self.region, offset, request.page_size))?;
        Ok(ListKeysResponse {
            request_id: call.request_id(),
            keys: keys
                .iter()
                .map(|k| KeyListEntry {
                    key_id: k.key_id.clone(),
                    key_arn: k.arn_text(),
                })
                .collect(),
            total_count,
            page_number: request.page_number,
            page_size: request.page_size,
        })
    }

    /// EnableKey.
    pub(crate) fn enable_key(
        &self,
        call: &mut Call<'_>,
        request: &EnableKeyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            match key.state {
                KeyState::Enabled => return Ok(()),
                KeyState::Disabled => key.state = KeyState::Enabled,
                KeyState::PendingDeletion => {
                    return Err(conflict(&key, "enable", "cancel its deletion first"));
                }
                KeyState::PendingImport => {
                    return Err(conflict(
                        &key,
                        "enable",
                        "import its key material (GetParametersForImport, \
                         ImportKeyMaterial), which enables it",
                    ));
                }
            }
            tx.update_key(&key)
        })?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// DisableKey.
    pub(crate) fn disable_key(
        &self,
        call: &mut Call<'_>,
        request: &DisableKeyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            match key.state {
                KeyState::Disabled => return Ok(()),
                KeyState::Enabled => key.state = KeyState::Disabled,
                KeyState::PendingDeletion => {
                    return Err(conflict(&key, "disable", "it is already unusable"));
                }
                KeyState::PendingImport => {
                    return Err(conflict(
                        &key,
                        "disable",
                        "it has no key material to use yet",
                    ));
                }
            }
            tx.update_key(&key)
        })?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// ScheduleKeyDeletion.
    pub(crate) fn schedule_key_deletion(
        &self,
        call: &mut Call<'_>,
        request: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        let days = request.pending_window_in_days;
        if !(7..=30).contains(&days) {
            return Err(KmsError::invalid(format!(
                "PendingWindowInDays {days} is out of range; use 7 to 30 days"
            )));
        }
        let key = self.resolve_key(call, &request.key_id)?;
        let delete_date = call.now_unix() + i64::from(days) * 86_400;
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            if key.state == KeyState::PendingDeletion {
                let when = key
                    .delete_date
                    .map(|d| date(to_time(d)))
                    .unwrap_or_default();
                return Err(conflict(
                    &key,
                    "schedule the deletion of",
                    &format!(
                        "its deletion is already scheduled for {when}; CancelKeyDeletion cancels it"
                    ),
                ));
            }
            key.state = KeyState::PendingDeletion;
            key.delete_date = Some(delete_date);
            tx.update_key(&key)
        })?;
        Ok(ScheduleKeyDeletionResponse {
            request_id: call.request_id(),
            key_id: key.key_id,
            delete_date: to_time(delete_date),
        })
    }

    /// CancelKeyDeletion.
    pub(crate) fn cancel_key_deletion(
        &self,
        call: &mut Call<'_>,
        request: &CancelKeyDeletionRequest,
    ) -> Result<CancelKeyDeletionResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        let state = self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            if key.state != KeyState::PendingDeletion {
                return Err(conflict(
                    &key,
                    "cancel the deletion of",
                    "only a key that is PendingDeletion has a deletion to cancel",
                ));
            }
            let has_material = match key.primary_version {
                Some(v) => tx
                    .version(&key.key_id, v)?
                    .is_some_and(|v| v.sealed_material.is_some()),
                None => false,
            };
            key.state = if has_material {
                KeyState::Enabled
            } else {
                KeyState::PendingImport
            };
            key.delete_date = None;
            tx.update_key(&key)?;
            Ok(key.state)
        })?;
        Ok(CancelKeyDeletionResponse {
            request_id: call.request_id(),
            key_state: state,
        })
    }
}

fn conflict(key: &KeyRecord, operation: &str, fix: &str) -> KmsError {
    KmsError::state_conflict(&key.arn_text(), key.state, operation, fix)
}
