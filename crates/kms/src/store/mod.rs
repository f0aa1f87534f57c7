//! What the KMS stores, and where: the records (this file) and the SQLite key
//! store (`sqlite.rs` opens it and runs transactions, `queries.rs` and
//! `alias_rows.rs` read and write rows). The audit log is a database of its own (`audit.rs`).
//!
//! Times are Unix seconds, as the API's dates have seconds precision. Secrets
//! are only ever in `sealed_*` fields, sealed by `seal.rs`.

mod alias_rows;
mod queries;
mod sqlite;

pub(crate) use sqlite::{KeyStore, Tx};

use sealhouse_iam::{AccountId, Arn};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{
    AutomaticRotation, KeyMetadata, KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel,
    RotationInterval,
};

/// A key, as stored. A deleted key stays as a tombstone (`deleted_at` set, no
/// versions) so that later calls can say it was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub(crate) key_id: String,
    pub(crate) account: AccountId,
    pub(crate) region: String,
    pub(crate) description: String,
    pub(crate) origin: Origin,
    pub(crate) state: KeyState,
    pub(crate) created_at: i64,
    pub(crate) delete_date: Option<i64>,
    pub(crate) deleted_at: Option<i64>,
    pub(crate) rotation_interval: Option<RotationInterval>,
    pub(crate) last_rotation_date: Option<i64>,
    pub(crate) next_rotation_date: Option<i64>,
    pub(crate) material_expire_time: Option<i64>,
    pub(crate) material_fingerprint: Option<Vec<u8>>,
    pub(crate) primary_version: Option<Uuid>,
}

impl KeyRecord {
    /// `acs:kms:<region>:<account>:key/<key id>`.
    pub(crate) fn arn(&self) -> Arn {
        Arn::kms_key(&self.region, &self.account, &self.key_id)
    }

    /// The ARN as text.
    pub(crate) fn arn_text(&self) -> String {
        self.arn().to_string()
    }

    /// What DescribeKey shows.
    pub(crate) fn metadata(&self) -> KeyMetadata {
        let rotating = self.rotation_interval.is_some();
        KeyMetadata {
            key_id: self.key_id.clone(),
            arn: self.arn_text(),
            key_state: self.state,
            key_spec: KeySpec::Aes256,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: self.origin,
            description: self.description.clone(),
            creator: self.account.to_string(),
            creation_date: to_time(self.created_at),
            delete_date: self.delete_date.map(to_time),
            primary_key_version: self.primary_version.map(|v| v.to_string()),
            last_rotation_date: self.last_rotation_date.map(to_time),
            automatic_rotation: if rotating {
                AutomaticRotation::Enabled
            } else {
                AutomaticRotation::Disabled
            },
            rotation_interval: self.rotation_interval,
            next_rotation_date: self.next_rotation_date.filter(|_| rotating).map(to_time),
            material_expire_time: self.material_expire_time.map(to_time),
            protection_level: ProtectionLevel::Software,
        }
    }
}

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionRecord {
    pub(crate) key_id: String,
    pub(crate) version_id: Uuid,
    /// 1 for the first version, then 2, 3, ...
    pub(crate) seq: i64,
    pub(crate) created_at: i64,
    /// The sealed 32-byte AES key; `None` once destroyed.
    pub(crate) sealed_material: Option<Vec<u8>>,
}

/// An alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AliasRecord {
    pub(crate) account: AccountId,
    pub(crate) region: String,
    pub(crate) alias_name: String,
    pub(crate) key_id: String,
}

impl AliasRecord {
    /// `acs:kms:<region>:<account>:alias/<name>`.
    pub(crate) fn arn_text(&self) -> String {
        alias_arn(&self.region, &self.account, &self.alias_name)
    }
}

/// The ARN text of alias `alias_name` (which starts with `alias/`).
pub(crate) fn alias_arn(region: &str, account: &AccountId, alias_name: &str) -> String {
    format!("acs:kms:{region}:{account}:{alias_name}")
}

/// A set of import parameters (GetParametersForImport), usable once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportParamsRecord {
    pub(crate) token: String,
    pub(crate) key_id: String,
    pub(crate) wrapping_algorithm: String,
    pub(crate) sealed_private_key: Vec<u8>,
    pub(crate) expires_at: i64,
}

/// A stored time as a date. Every stored time was written from a valid date;
/// an out-of-range one (a damaged row) shows as the Unix epoch.
pub(crate) fn to_time(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
