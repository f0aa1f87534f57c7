//! Requests and responses of bring-your-own-key import: GetParametersForImport
//! and ImportKeyMaterial.
//!
//! The steps: CreateKey with `Origin` EXTERNAL (the key is PendingImport);
//! GetParametersForImport gives an RSA-2048 public key and an import token,
//! valid 24 hours; wrap the 32-byte key with RSA-OAEP under that public key;
//! ImportKeyMaterial with the wrapped material and the token. The key becomes
//! Enabled. Each token is used once, whether the import succeeds or not.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::types::{WrappingAlgorithm, WrappingKeySpec};

/// GetParametersForImport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportRequest {
    /// `KeyId` of an EXTERNAL key.
    pub key_id: String,
    /// `WrappingAlgorithm`.
    #[serde(default = "default_wrapping_algorithm")]
    pub wrapping_algorithm: WrappingAlgorithm,
    /// `WrappingKeySpec`.
    #[serde(default = "default_wrapping_key_spec")]
    pub wrapping_key_spec: WrappingKeySpec,
}

impl GetParametersForImportRequest {
    /// Parameters for `key_id` with RSAES_OAEP_SHA_256 and RSA_2048.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            wrapping_algorithm: default_wrapping_algorithm(),
            wrapping_key_spec: default_wrapping_key_spec(),
        }
    }
}

fn default_wrapping_algorithm() -> WrappingAlgorithm {
    WrappingAlgorithm::RsaesOaepSha256
}

fn default_wrapping_key_spec() -> WrappingKeySpec {
    WrappingKeySpec::Rsa2048
}

/// GetParametersForImport's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `ImportToken`: give it to ImportKeyMaterial.
    pub import_token: String,
    /// `PublicKey`: the wrapping key, DER SubjectPublicKeyInfo (base64 at the
    /// HTTP layer, as the cloud returns it).
    #[serde(with = "super::json_form::base64")]
    pub public_key: Vec<u8>,
    /// `TokenExpireTime`: 24 hours after the call.
    #[serde(with = "super::json_form::rfc3339")]
    pub token_expire_time: OffsetDateTime,
}

/// ImportKeyMaterial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `EncryptedKeyMaterial`: the 32-byte key wrapped with the public key.
    #[serde(with = "super::json_form::base64")]
    pub encrypted_key_material: Vec<u8>,
    /// `ImportToken`.
    pub import_token: String,
    /// `KeyMaterialExpireUnix`: when the material expires (Unix seconds);
    /// `None` or 0 = never. When it passes, the material is destroyed and the
    /// key returns to PendingImport until the same material is imported again.
    #[serde(default, deserialize_with = "super::json_form::opt_i64")]
    pub key_material_expire_unix: Option<i64>,
}
