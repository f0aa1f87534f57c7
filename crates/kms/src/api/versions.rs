//! Requests and responses of key versions and rotation: CreateKeyVersion,
//! ListKeyVersions, UpdateRotationPolicy.

use time::OffsetDateTime;

use super::types::RotationInterval;

/// CreateKeyVersion (manual rotation): a new primary version. Older versions
/// keep decrypting what they encrypted.
pub type CreateKeyVersionRequest = super::keys::KeyRequest;

/// One version of a key (`KeyVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersion {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyVersionId`: a UUID.
    pub key_version_id: String,
    /// `CreationDate`.
    pub creation_date: OffsetDateTime,
}

/// CreateKeyVersion's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyVersion`: the new primary version.
    pub key_version: KeyVersion,
}

/// ListKeyVersions: a key's versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeyVersionsRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PageNumber`, from 1.
    pub page_number: u32,
    /// `PageSize`, 1 to 100.
    pub page_size: u32,
}

impl ListKeyVersionsRequest {
    /// The first page of 100 versions of `key_id`.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            page_number: 1,
            page_size: 100,
        }
    }
}

/// ListKeyVersions' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeyVersionsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyVersions`.
    pub key_versions: Vec<KeyVersion>,
    /// `TotalCount`.
    pub total_count: u64,
    /// `PageNumber`.
    pub page_number: u32,
    /// `PageSize`.
    pub page_size: u32,
}

/// UpdateRotationPolicy: turns automatic rotation on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRotationPolicyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `EnableAutomaticRotation`.
    pub enable_automatic_rotation: bool,
    /// `RotationInterval`; required when enabling.
    pub rotation_interval: Option<RotationInterval>,
}
