//! The KMS wrap format: how a Parquet key-encryption key (or, in single
//! wrapping, a data key) is wrapped and unwrapped with a project's CMK.
//!
//! Wrap format (docs/formats.md, "AES256 storage encryption"; the Python
//! client in `python/sealhouse-kms-client` implements the same rule, and it
//! is what parquet-mr's, Arrow C++'s and pyarrow's `KmsClient` interface
//! asks of a KMS client): `wrap(key, master_key_id)` is KMS `Encrypt` with
//! `KeyId` = `master_key_id` (the CMK's ARN), `Plaintext` = the key, no
//! encryption context, and returns the `CiphertextBlob` as standard base64
//! text — exactly the string the KMS HTTP API returns. `unwrap` is KMS
//! `Decrypt` of that blob, checking that the blob was made with the key the
//! material names. Any engine with a KMS client holding `kms:Decrypt` on the
//! CMK reads the files.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::KmsData;
use sealhouse_kms::api::{DecryptRequest, EncryptRequest, EncryptionContext};

use super::error::ParquetKeyError;

/// Wraps `key` with the KMS key `master_key_id`: the base64 ciphertext blob.
pub(crate) fn wrap(
    kms: &dyn KmsData,
    key: &SecretBytes,
    master_key_id: &str,
) -> Result<String, ParquetKeyError> {
    let response = kms.encrypt(&EncryptRequest {
        key_id: master_key_id.to_owned(),
        plaintext: key.duplicate(),
        encryption_context: EncryptionContext::new(),
    })?;
    Ok(STANDARD.encode(response.ciphertext_blob))
}

/// Unwraps `wrapped` (a base64 ciphertext blob), which the key material says
/// was wrapped with `master_key_id`.
pub(crate) fn unwrap(
    kms: &dyn KmsData,
    wrapped: &str,
    master_key_id: &str,
) -> Result<SecretBytes, ParquetKeyError> {
    let blob = STANDARD.decode(wrapped.trim()).map_err(|e| {
        ParquetKeyError::Damaged(format!(
            "the key wrapped with master key {master_key_id} is not base64 ({e})"
        ))
    })?;
    let response = kms.decrypt(&DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: EncryptionContext::new(),
    })?;
    // The blob names its key; a file claiming another master key was
    // tampered with or copied from elsewhere.
    if !names_key(master_key_id, &response.key_id) {
        return Err(ParquetKeyError::WrongMasterKey {
            named: master_key_id.to_owned(),
            actual: response.key_id,
        });
    }
    Ok(response.plaintext)
}

/// Whether a master key identifier (an ARN `...:key/<id>` or a bare id)
/// names the key `key_id`.
fn names_key(identifier: &str, key_id: &str) -> bool {
    identifier == key_id
        || identifier
            .rsplit_once(":key/")
            .is_some_and(|(_, id)| id == key_id)
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
