//! Requests and responses of key versions and rotation: CreateKeyVersion,
//! ListKeyVersions, UpdateRotationPolicy.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::types::RotationInterval;

/// CreateKeyVersion (manual rotation): a new primary version. Older versions
/// keep decrypting what they encrypted.
pub type CreateKeyVersionRequest = super::keys::KeyRequest;

/// One version of a key (`KeyVersion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyVersion {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyVersionId`: a UUID.
    pub key_version_id: String,
    /// `CreationDate`.
    #[serde(with = "super::json_form::rfc3339")]
    pub creation_date: OffsetDateTime,
}

/// CreateKeyVersion's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyVersion`: the new primary version.
    pub key_version: KeyVersion,
}

/// ListKeyVersions: a key's versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyVersionsRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PageNumber`, from 1.
    #[serde(
        default = "default_page_number",
        deserialize_with = "super::json_form::u32"
    )]
    pub page_number: u32,
    /// `PageSize`, 1 to 100.
    #[serde(
        default = "default_page_size",
        deserialize_with = "super::json_form::u32"
    )]
    pub page_size: u32,
}

impl ListKeyVersionsRequest {
    /// The first page of 100 versions of `key_id`.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            page_number: default_page_number(),
            page_size: default_page_size(),
        }
    }
}

fn default_page_number() -> u32 {
    1
}

fn default_page_size() -> u32 {
    100
}

/// ListKeyVersions' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyVersionsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyVersions`.
    #[serde(default, with = "super::json_form::key_versions")]
    pub key_versions: Vec<KeyVersion>,
    /// `TotalCount`.
    #[serde(deserialize_with = "super::json_form::u64")]
    pub total_count: u64,
    /// `PageNumber`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}

/// UpdateRotationPolicy: turns automatic rotation on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRotationPolicyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `EnableAutomaticRotation`.
    #[serde(deserialize_with = "super::json_form::bool")]
    pub enable_automatic_rotation: bool,
    /// `RotationInterval`; required when enabling.
    pub rotation_interval: Option<RotationInterval>,
}
