//! Requests and responses of bring-your-own-key import: GetParametersForImport
//! and ImportKeyMaterial.
//!
//! The steps: CreateKey with `Origin` EXTERNAL (the key is PendingImport);
//! GetParametersForImport gives an RSA-2048 public key and an import token,
//! valid 24 hours; wrap the 32-byte key with RSA-OAEP under that public key;
//! ImportKeyMaterial with the wrapped material and the token. The key becomes
//! Enabled. Each token is used once, whether the import succeeds or not.

use time::OffsetDateTime;

use super::types::{WrappingAlgorithm, WrappingKeySpec};

/// GetParametersForImport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetParametersForImportRequest {
    /// `KeyId` of an EXTERNAL key.
    pub key_id: String,
    /// `WrappingAlgorithm`.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// `WrappingKeySpec`.
    pub wrapping_key_spec: WrappingKeySpec,
}

impl GetParametersForImportRequest {
    /// Parameters for `key_id` with RSAES_OAEP_SHA_256 and RSA_2048.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            wrapping_key_spec: WrappingKeySpec::Rsa2048,
        }
    }
}

/// GetParametersForImport's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetParametersForImportResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `ImportToken`: give it to ImportKeyMaterial.
    pub import_token: String,
    /// `PublicKey`: the wrapping key, DER SubjectPublicKeyInfo (base64 at the
    /// HTTP layer, as the cloud returns it).
    pub public_key: Vec<u8>,
    /// `TokenExpireTime`: 24 hours after the call.
    pub token_expire_time: OffsetDateTime,
}

/// ImportKeyMaterial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportKeyMaterialRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `EncryptedKeyMaterial`: the 32-byte key wrapped with the public key.
    pub encrypted_key_material: Vec<u8>,
    /// `ImportToken`.
    pub import_token: String,
    /// `KeyMaterialExpireUnix`: when the material expires (Unix seconds);
    /// `None` or 0 = never. When it passes, the material is destroyed and the
    /// key returns to PendingImport until the same material is imported again.
    pub key_material_expire_unix: Option<i64>,
}
