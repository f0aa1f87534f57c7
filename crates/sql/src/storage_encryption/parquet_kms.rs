//! The KMS client parquet-key-management calls to wrap and unwrap Parquet
//! key-encryption keys with a project's CMK.
//!
//! Wrap format (docs/formats.md, "AES256 storage encryption"; the Python
//! client in `python/sealhouse-kms-client` implements the same rule):
//! `wrap_key(key, master_key_id)` is KMS `Encrypt` with `KeyId` =
//! `master_key_id` (the CMK's ARN), `Plaintext` = the key, no encryption
//! context, and returns the `CiphertextBlob` as standard base64 text —
//! exactly the string the KMS HTTP API returns. `unwrap_key` is KMS
//! `Decrypt` of that blob. Any engine with a KMS client holding
//! `kms:Decrypt` on the CMK reads the files.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parquet_key_management::errors::{Error, Result};
use parquet_key_management::kms::{KmsClient, KmsClientFactory, KmsClientRef, KmsConnectionInfo};
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::Kms;
use sealhouse_kms::api::{DecryptRequest, EncryptRequest, EncryptionContext};

/// parquet-key-management's view of our KMS, acting as one principal.
pub(crate) struct WarehouseKmsClient {
    kms: Arc<dyn Kms>,
}

impl WarehouseKmsClient {
    pub(crate) fn new(kms: Arc<dyn Kms>) -> Self {
        Self { kms }
    }
}

impl KmsClient for WarehouseKmsClient {
    fn wrap_key(&self, key_bytes: &[u8], master_key_identifier: &str) -> Result<String> {
        let response = self
            .kms
            .encrypt(&EncryptRequest {
                key_id: master_key_identifier.to_owned(),
                plaintext: SecretBytes::new(key_bytes.to_vec()),
                encryption_context: EncryptionContext::new(),
            })
            .map_err(|e| Error::General(e.to_string()))?;
        Ok(STANDARD.encode(response.ciphertext_blob))
    }

    fn unwrap_key(&self, wrapped_key: &str, master_key_identifier: &str) -> Result<Vec<u8>> {
        let blob = STANDARD.decode(wrapped_key.trim()).map_err(|e| {
            Error::General(format!(
                "the wrapped Parquet key for {master_key_identifier} is not base64 ({e}): the \
                 file's key material is damaged"
            ))
        })?;
        let response = self
            .kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: blob,
                encryption_context: EncryptionContext::new(),
            })
            .map_err(|e| Error::General(e.to_string()))?;
        // The blob names its key; a file claiming another master key was
        // tampered with or copied from elsewhere.
        if !names_key(master_key_identifier, &response.key_id) {
            return Err(Error::General(format!(
                "the Parquet key material names master key {master_key_identifier} but its \
                 wrapped key was made with KMS key {}: the file does not belong here",
                response.key_id
            )));
        }
        Ok(response.plaintext.expose().to_vec())
    }
}

/// Whether a master key identifier (an ARN `...:key/<id>` or a bare id)
/// names the key `key_id`.
fn names_key(identifier: &str, key_id: &str) -> bool {
    identifier == key_id
        || identifier
            .rsplit_once(":key/")
            .is_some_and(|(_, id)| id == key_id)
}

/// Hands parquet-key-management our client; every connection gets the same
/// one (the principal is fixed per factory).
pub(crate) struct WarehouseKmsClientFactory {
    client: Arc<WarehouseKmsClient>,
}

impl WarehouseKmsClientFactory {
    pub(crate) fn new(kms: Arc<dyn Kms>) -> Self {
        Self {
            client: Arc::new(WarehouseKmsClient::new(kms)),
        }
    }
}

impl KmsClientFactory for WarehouseKmsClientFactory {
    fn create_client(&self, _info: &KmsConnectionInfo) -> Result<KmsClientRef> {
        Ok(Arc::clone(&self.client) as KmsClientRef)
    }
}

#[cfg(test)]
mod tests {
    use super::names_key;

    #[test]
    fn master_key_names_match_by_arn_or_id() {
        assert!(names_key("acs:kms:cn-hangzhou:1:key/abc", "abc"));
        assert!(names_key("abc", "abc"));
        assert!(!names_key("acs:kms:cn-hangzhou:1:key/abc", "abcd"));
        assert!(!names_key("acs:kms:cn-hangzhou:1:key/x", "abc"));
    }
}
