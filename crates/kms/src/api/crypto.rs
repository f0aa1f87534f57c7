//! Requests and responses of the cryptographic operations: Encrypt, Decrypt,
//! GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt.
//!
//! Plaintexts and data keys are [`SecretBytes`] (never printed, zeroed on
//! drop); ciphertext blobs are plain bytes (base64 at the HTTP layer). The
//! blob format is in `blob.rs` and `docs/kms.md`.

use sealhouse_crypto::SecretBytes;
use serde::{Deserialize, Serialize};

use super::types::{DataKeySpec, EncryptionContext};

/// The largest plaintext Encrypt takes: 6 KiB, as in the cloud. Larger data
/// is encrypted locally under a data key (envelope encryption).
pub const MAX_PLAINTEXT_BYTES: usize = 6144;
/// The largest data key GenerateDataKey makes (`NumberOfBytes`).
pub const MAX_DATA_KEY_BYTES: u32 = 1024;

/// Encrypt: `plaintext` under the key's primary version.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptRequest {
    /// `KeyId`: key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// `Plaintext`: 1 to 6144 bytes.
    #[serde(with = "super::json_form::secret_base64")]
    pub plaintext: SecretBytes,
    /// `EncryptionContext`: Decrypt must present the same.
    #[serde(
        default,
        with = "super::json_form::context",
        skip_serializing_if = "EncryptionContext::is_empty"
    )]
    pub encryption_context: EncryptionContext,
}

/// Encrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId` of the key used.
    pub key_id: String,
    /// `KeyVersionId` of the version used (the primary).
    pub key_version_id: String,
    /// `CiphertextBlob`.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
}

/// Decrypt: no key is named; the blob names its key and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptRequest {
    /// `CiphertextBlob`.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
    /// `EncryptionContext`: exactly the one given when encrypting.
    #[serde(
        default,
        with = "super::json_form::context",
        skip_serializing_if = "EncryptionContext::is_empty"
    )]
    pub encryption_context: EncryptionContext,
}

/// Decrypt's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId` of the key that encrypted.
    pub key_id: String,
    /// `KeyVersionId` of the version that encrypted.
    pub key_version_id: String,
    /// `Plaintext`.
    #[serde(with = "super::json_form::secret_base64")]
    pub plaintext: SecretBytes,
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext: a fresh random data
/// key, returned encrypted under the key's primary version (and in the clear,
/// for GenerateDataKey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `KeySpec`: `AES_256` (32 bytes, the default) or `AES_128`.
    pub key_spec: Option<DataKeySpec>,
    /// `NumberOfBytes`: 1 to 1024; takes precedence over `key_spec`.
    #[serde(default, deserialize_with = "super::json_form::opt_u32")]
    pub number_of_bytes: Option<u32>,
    /// `EncryptionContext`.
    #[serde(
        default,
        with = "super::json_form::context",
        skip_serializing_if = "EncryptionContext::is_empty"
    )]
    pub encryption_context: EncryptionContext,
}

impl GenerateDataKeyRequest {
    /// A 32-byte data key under `key_id`, without context.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            key_spec: None,
            number_of_bytes: None,
            encryption_context: EncryptionContext::new(),
        }
    }
}

/// GenerateDataKey's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `KeyVersionId`.
    pub key_version_id: String,
    /// `Plaintext`: the data key.
    #[serde(with = "super::json_form::secret_base64")]
    pub plaintext: SecretBytes,
    /// `CiphertextBlob`: the data key encrypted; Decrypt recovers it.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
}

/// GenerateDataKeyWithoutPlaintext's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `KeyVersionId`.
    pub key_version_id: String,
    /// `CiphertextBlob`.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
}

/// ReEncrypt: decrypts inside the KMS and encrypts under another key (or
/// another context) without the plaintext leaving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptRequest {
    /// `CiphertextBlob`.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
    /// `SourceEncryptionContext`.
    #[serde(
        default,
        with = "super::json_form::context",
        skip_serializing_if = "EncryptionContext::is_empty"
    )]
    pub source_encryption_context: EncryptionContext,
    /// `DestinationKeyId`.
    pub destination_key_id: String,
    /// `DestinationEncryptionContext`.
    #[serde(
        default,
        with = "super::json_form::context",
        skip_serializing_if = "EncryptionContext::is_empty"
    )]
    pub destination_encryption_context: EncryptionContext,
}

/// ReEncrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `KeyId`: the destination key.
    pub key_id: String,
    /// `KeyVersionId`: the destination version.
    pub key_version_id: String,
    /// `SourceKeyId`.
    pub source_key_id: String,
    /// `SourceKeyVersionId`.
    pub source_key_version_id: String,
    /// `CiphertextBlob`: under the destination key.
    #[serde(with = "super::json_form::base64")]
    pub ciphertext_blob: Vec<u8>,
}
