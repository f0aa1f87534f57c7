//! Requests and responses of key management: CreateKey, DescribeKey, ListKeys,
//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.
//!
//! Field names are the cloud API's in snake case (`KeyId` is `key_id`); dates
//! are UTC, printed by the HTTP layer as the cloud prints them
//! (`2024-05-20T06:34:21Z`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::types::{
    AutomaticRotation, KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel, RotationInterval,
};

/// CreateKey: a new customer master key in the caller's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyRequest {
    /// `KeySpec`; only `Aliyun_AES_256`.
    pub key_spec: KeySpec,
    /// `KeyUsage`; only `ENCRYPT/DECRYPT`.
    pub key_usage: KeyUsage,
    /// `Origin`: `Aliyun_KMS` (material generated here) or `EXTERNAL` (BYOK:
    /// the key starts PendingImport).
    pub origin: Origin,
    /// `Description`, up to 8192 characters.
    pub description: String,
    /// `EnableAutomaticRotation`; not for EXTERNAL keys.
    #[serde(deserialize_with = "super::json_form::bool")]
    pub enable_automatic_rotation: bool,
    /// `RotationInterval`; required when automatic rotation is enabled.
    pub rotation_interval: Option<RotationInterval>,
    /// Another account that may DescribeKey the key, never use it (not a
    /// parameter of the HTTP API): the warehouse creates a project's
    /// default key in its service account, viewable by the project's owner.
    #[serde(skip)]
    pub viewer_account: Option<sealhouse_iam::AccountId>,
}

impl Default for CreateKeyRequest {
    fn default() -> Self {
        Self {
            key_spec: KeySpec::Aes256,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AliyunKms,
            description: String::new(),
            enable_automatic_rotation: false,
            rotation_interval: None,
            viewer_account: None,
        }
    }
}

/// CreateKey's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyMetadata` of the new key.
    pub key_metadata: KeyMetadata,
}

/// `KeyMetadata`: what DescribeKey and CreateKey return about a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// `KeyId`, such as `key-hzz6a2bc41e8fk2ap1x9b`.
    pub key_id: String,
    /// `Arn`: `acs:kms:<region>:<account uid>:key/<key id>`.
    pub arn: String,
    /// `KeyState`.
    pub key_state: KeyState,
    /// `KeySpec`.
    pub key_spec: KeySpec,
    /// `KeyUsage`.
    pub key_usage: KeyUsage,
    /// `Origin`.
    pub origin: Origin,
    /// `Description`.
    #[serde(default)]
    pub description: String,
    /// `Creator`: the uid of the account that created the key.
    pub creator: String,
    /// `CreationDate`.
    #[serde(with = "super::json_form::rfc3339")]
    pub creation_date: OffsetDateTime,
    /// `DeleteDate`: set while the key is PendingDeletion.
    #[serde(default, with = "super::json_form::opt_rfc3339")]
    pub delete_date: Option<OffsetDateTime>,
    /// `PrimaryKeyVersion`: the version Encrypt uses; none before a BYOK
    /// key's material is imported.
    pub primary_key_version: Option<String>,
    /// `LastRotationDate`: when the primary version was made.
    #[serde(default, with = "super::json_form::opt_rfc3339")]
    pub last_rotation_date: Option<OffsetDateTime>,
    /// `AutomaticRotation`.
    pub automatic_rotation: AutomaticRotation,
    /// `RotationInterval`, when automatic rotation is enabled.
    pub rotation_interval: Option<RotationInterval>,
    /// `NextRotationDate`, when automatic rotation is enabled.
    #[serde(default, with = "super::json_form::opt_rfc3339")]
    pub next_rotation_date: Option<OffsetDateTime>,
    /// `MaterialExpireTime`: when imported material expires (BYOK), if ever.
    #[serde(default, with = "super::json_form::opt_rfc3339")]
    pub material_expire_time: Option<OffsetDateTime>,
    /// `ProtectionLevel`.
    pub protection_level: ProtectionLevel,
}

/// A request naming one key: `KeyId` is a key id, a key ARN, an alias name
/// (`alias/...`) or an alias ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRequest {
    /// `KeyId`.
    pub key_id: String,
}

impl KeyRequest {
    /// A request for `key_id`.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
        }
    }
}

/// DescribeKey: a key's metadata.
pub type DescribeKeyRequest = KeyRequest;
/// EnableKey: Disabled → Enabled.
pub type EnableKeyRequest = KeyRequest;
/// DeleteKeyMaterial: the key named.
pub type DeleteKeyMaterialRequest = KeyRequest;
/// DisableKey: Enabled → Disabled.
pub type DisableKeyRequest = KeyRequest;
/// CancelKeyDeletion: PendingDeletion → Enabled (PendingImport for a BYOK key
/// that has no material).
pub type CancelKeyDeletionRequest = KeyRequest;

/// DescribeKey's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyMetadata`.
    pub key_metadata: KeyMetadata,
}

/// An answer that carries only the request id (EnableKey, DisableKey, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmptyResponse {
    /// `RequestId`.
    pub request_id: String,
}

/// ListKeys: the caller's keys in this region, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeysRequest {
    /// `PageNumber`, from 1.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`, 1 to 100.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}

impl Default for ListKeysRequest {
    fn default() -> Self {
        Self {
            page_number: 1,
            page_size: 10,
        }
    }
}

/// One key of ListKeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyArn`.
    pub key_arn: String,
}

/// ListKeys' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `Keys`.
    #[serde(default, with = "super::json_form::keys")]
    pub keys: Vec<KeyListEntry>,
    /// `TotalCount`: keys on all pages.
    #[serde(deserialize_with = "super::json_form::u64")]
    pub total_count: u64,
    /// `PageNumber`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}

/// ScheduleKeyDeletion: the key becomes PendingDeletion and is deleted, with
/// all its material, after the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PendingWindowInDays`: 7 to 30.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub pending_window_in_days: u32,
}

/// ScheduleKeyDeletion's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `DeleteDate`: when the key and its material are destroyed.
    #[serde(with = "super::json_form::rfc3339")]
    pub delete_date: OffsetDateTime,
}

/// CancelKeyDeletion's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelKeyDeletionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyState` after the cancellation.
    pub key_state: KeyState,
}
