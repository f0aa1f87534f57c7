//! What happens to keys with the passing of time, checked lazily whenever a
//! call touches a key and for all keys by [`KmsService::tick`]:
//!
//! - **Deletion.** Once a PendingDeletion key's `DeleteDate` has passed, all
//!   its versions are deleted with their sealed material (overwritten in the
//!   database file: `secure_delete`; and the WAL is checkpointed and
//!   truncated), its aliases and import parameters too. The key row stays as
//!   a tombstone so that later calls answer "deleted" rather than "never
//!   existed". Ciphertexts under it can never be decrypted again — by design.
//! - **Automatic rotation.** An Enabled key whose `NextRotationDate` has passed
//!   gets a new primary version (one, however many intervals were missed);
//!   `LastRotationDate` becomes now and `NextRotationDate` now + interval. A
//!   Disabled key is rotated when it is next used after being enabled.
//! - **Expiry of imported material.** When a BYOK key's `MaterialExpireTime`
//!   passes, its material is destroyed and the key returns to PendingImport
//!   until the same material is imported again.
//!
//! Each of these is recorded in the audit log as a call by principal `kms`
//! (actions `DeleteKey`, `RotateKey`, `ExpireKeyMaterial`).

use crate::api::{KeyState, Origin};
use crate::audit::NewEvent;
use crate::error::KmsError;
use crate::ids;
use crate::service::{KmsService, ServiceState};
use crate::store::{KeyRecord, Tx};

/// What [`KmsService::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Keys whose deletion date passed: deleted with their material.
    pub keys_deleted: usize,
    /// Keys rotated automatically.
    pub keys_rotated: usize,
    /// BYOK keys whose imported material expired and was destroyed.
    pub materials_expired: usize,
    /// Expired or orphaned import parameters removed.
    pub import_parameters_purged: usize,
}

/// One thing maintenance did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    Deleted,
    Rotated,
    MaterialExpired,
}

impl Done {
    fn action(self) -> &'static str {
        match self {
            Self::Deleted => "DeleteKey",
            Self::Rotated => "RotateKey",
            Self::MaterialExpired => "ExpireKeyMaterial",
        }
    }
}

impl KmsService {
    /// Applies everything that is due now to every key: deletions whose
    /// window has passed, automatic rotations, expiry of imported material;
    /// and removes expired import parameters. Calls apply the same to the
    /// keys they touch, so `tick` is needed only to make destruction happen
    /// on time for keys nobody uses (run it periodically, say every minute).
    pub fn tick(&self) -> Result<MaintenanceReport, KmsError> {
        let inner = self.inner();
        let now = inner.clock.now().unix_timestamp();
        let due = inner.store.read(|tx| tx.keys_due(now))?;
        let mut report = MaintenanceReport::default();
        for key_id in due {
            let (_, done) = inner.maintain_key_reporting(&key_id, now)?;
            for d in done {
                match d {
                    Done::Deleted => report.keys_deleted += 1,
                    Done::Rotated => report.keys_rotated += 1,
                    Done::MaterialExpired => report.materials_expired += 1,
                }
            }
        }
        report.import_parameters_purged =
            inner.store.write(|tx| tx.purge_import_params(now, None))?;
        Ok(report)
    }
}

impl ServiceState {
    /// The key `key_id` after applying what is due at `now` (committed and
    /// audited); a tombstone if it was deleted; `None` if it never existed.
    pub(crate) fn maintain_key(
        &self,
        key_id: &str,
        now: i64,
    ) -> Result<Option<KeyRecord>, KmsError> {
        self.maintain_key_reporting(key_id, now).map(|(key, _)| key)
    }

    fn maintain_key_reporting(
        &self,
        key_id: &str,
        now: i64,
    ) -> Result<(Option<KeyRecord>, Vec<Done>), KmsError> {
        let loaded = self.store.read(|tx| tx.key(key_id))?;
        let Some(key) = loaded else {
            return Ok((None, Vec::new()));
        };
        if due(&key, now).is_none() {
            return Ok((Some(key), Vec::new()));
        }
        let (key, done) = self.store.write(|tx| {
            let Some(mut key) = tx.key(key_id)? else {
                return Ok((None, Vec::new()));
            };
            let done = self.apply_due(tx, &mut key, now)?;
            Ok((Some(key), done))
        })?;
        if done.contains(&Done::Deleted) || done.contains(&Done::MaterialExpired) {
            self.store.checkpoint()?;
        }
        if let Some(key) = &key {
            for d in &done {
                self.audit.record(&system_event(key, d.action(), now))?;
            }
        }
        Ok((key, done))
    }

    /// Applies what is due to `key` inside `tx`.
    fn apply_due(&self, tx: &Tx<'_>, key: &mut KeyRecord, now: i64) -> Result<Vec<Done>, KmsError> {
        let mut done = Vec::new();
        match due(key, now) {
            None => {}
            Some(Done::Deleted) => {
                tx.delete_versions(&key.key_id)?;
                tx.delete_aliases_of_key(&key.key_id)?;
                tx.purge_import_params(now, Some(&key.key_id))?;
                key.deleted_at = Some(now);
                key.primary_version = None;
                key.material_fingerprint = None;
                key.material_expire_time = None;
                key.rotation_interval = None;
                key.next_rotation_date = None;
                tx.update_key(key)?;
                done.push(Done::Deleted);
            }
            Some(Done::MaterialExpired) => {
                for v in tx.versions(&key.key_id)? {
                    tx.set_version_material(&key.key_id, v.version_id, None)?;
                }
                key.state = KeyState::PendingImport;
                key.material_expire_time = None;
                tx.update_key(key)?;
                done.push(Done::MaterialExpired);
            }
            Some(Done::Rotated) => {
                self.add_version(tx, key, now)?;
                done.push(Done::Rotated);
            }
        }
        Ok(done)
    }
}

/// What is due on `key` at `now`, if anything.
fn due(key: &KeyRecord, now: i64) -> Option<Done> {
    if key.deleted_at.is_some() {
        return None;
    }
    if key.state == KeyState::PendingDeletion {
        return key.delete_date.filter(|d| *d <= now).map(|_| Done::Deleted);
    }
    if key.origin == Origin::External && key.material_expire_time.is_some_and(|t| t <= now) {
        return Some(Done::MaterialExpired);
    }
    let rotation_due = key.rotation_interval.is_some()
        && key.state == KeyState::Enabled
        && key.next_rotation_date.is_some_and(|t| t <= now);
    rotation_due.then_some(Done::Rotated)
}

fn system_event(key: &KeyRecord, action: &str, now: i64) -> NewEvent {
    NewEvent {
        time: crate::store::to_time(now),
        request_id: ids::new_request_id(),
        principal: "kms".to_owned(),
        principal_account: None,
        action: action.to_owned(),
        key_arn: Some(key.arn_text()),
        key_id: Some(key.key_id.clone()),
        key_account: Some(key.account.to_string()),
        other_key_arn: None,
        other_key_id: None,
        other_key_account: None,
        outcome: "ok".to_owned(),
        source_ip: None,
    }
}
