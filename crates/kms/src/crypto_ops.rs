//! The cryptographic operations: Encrypt, Decrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext and ReEncrypt.
//!
//! Order of checks, the same in each: request values; the key (its id, ARN or
//! alias; for Decrypt the one the blob names), with due maintenance applied;
//! authorisation of `kms:<Operation>` on the key's ARN (so a caller without
//! permission learns nothing of the key's state); the key's state (only
//! Enabled keys encrypt or decrypt: `Rejected.Disabled`,
//! `Rejected.PendingDeletion`, `Rejected.PendingImport` otherwise); then the
//! work. A blob that names no key that ever existed, a version the key does
//! not have, a wrong encryption context or any modification all give the one
//! `InvalidCiphertext`.

use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use uuid::Uuid;

use crate::api::{
    DataKeySpec, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse,
    GenerateDataKeyRequest, GenerateDataKeyResponse, GenerateDataKeyWithoutPlaintextResponse,
    MAX_DATA_KEY_BYTES, MAX_PLAINTEXT_BYTES, ReEncryptRequest, ReEncryptResponse,
};
use crate::blob::{self, BlobHeader};
use crate::call::Call;
use crate::error::KmsError;
use crate::ids;
use crate::resolve::{live_key, require_enabled};
use crate::service::ServiceState;
use crate::store::{KeyRecord, to_time};

impl ServiceState {
    /// Encrypt.
    pub(crate) fn encrypt(
        &self,
        call: &mut Call<'_>,
        request: &EncryptRequest,
    ) -> Result<EncryptResponse, KmsError> {
        let len = request.plaintext.len();
        if !(1..=MAX_PLAINTEXT_BYTES).contains(&len) {
            return Err(KmsError::invalid(format!(
                "Plaintext is {len} bytes; Encrypt takes 1 to {MAX_PLAINTEXT_BYTES} bytes. \
                 Encrypt larger data locally under a data key from GenerateDataKey"
            )));
        }
        let context = blob::canonical_context(&request.encryption_context)?;
        let key = self.resolve_key(call, &request.key_id)?;
        let (key_id, version, blob) =
            self.seal_under_primary(&key, call.operation(), &context, &request.plaintext)?;
        Ok(EncryptResponse {
            request_id: call.request_id(),
            key_id,
            key_version_id: version.to_string(),
            ciphertext_blob: blob,
        })
    }

    /// Decrypt.
    pub(crate) fn decrypt(
        &self,
        call: &mut Call<'_>,
        request: &DecryptRequest,
    ) -> Result<DecryptResponse, KmsError> {
        let header = blob::parse_header(&request.ciphertext_blob)?;
        let context = blob::canonical_context(&request.encryption_context)?;
        let action = call.action();
        let key = self.key_for_blob(call, &header, &action)?;
        let plaintext =
            self.open_blob(&key, &header, &request.ciphertext_blob, &context, "Decrypt")?;
        Ok(DecryptResponse {
            request_id: call.request_id(),
            key_id: key.key_id,
            key_version_id: header.version_id.to_string(),
            plaintext,
        })
    }

    /// GenerateDataKey.
    pub(crate) fn generate_data_key(
        &self,
        call: &mut Call<'_>,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        let (key_id, version, plaintext, ciphertext_blob) = self.new_data_key(call, request)?;
        Ok(GenerateDataKeyResponse {
            request_id: call.request_id(),
            key_id,
            key_version_id: version.to_string(),
            plaintext,
            ciphertext_blob,
        })
    }

    /// GenerateDataKeyWithoutPlaintext.
    pub(crate) fn generate_data_key_without_plaintext(
        &self,
        call: &mut Call<'_>,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        let (key_id, version, plaintext, ciphertext_blob) = self.new_data_key(call, request)?;
        drop(plaintext);
        Ok(GenerateDataKeyWithoutPlaintextResponse {
            request_id: call.request_id(),
            key_id,
            key_version_id: version.to_string(),
            ciphertext_blob,
        })
    }

    /// ReEncrypt: authorised as `kms:ReEncryptFrom` on the source key and
    /// `kms:ReEncryptTo` on the destination (both in `kms:ReEncrypt*`).
    pub(crate) fn re_encrypt(
        &self,
        call: &mut Call<'_>,
        request: &ReEncryptRequest,
    ) -> Result<ReEncryptResponse, KmsError> {
        let header = blob::parse_header(&request.ciphertext_blob)?;
        let source_context = blob::canonical_context(&request.source_encryption_context)?;
        let destination_context = blob::canonical_context(&request.destination_encryption_context)?;
        let source = self.key_for_blob(call, &header, "kms:ReEncryptFrom")?;
        let destination =
            self.resolve_key_for(call, &request.destination_key_id, "kms:ReEncryptTo")?;
        let plaintext = self.open_blob(
            &source,
            &header,
            &request.ciphertext_blob,
            &source_context,
            "ReEncrypt",
        )?;
        let (key_id, version, blob) = self.seal_under_primary(
            &destination,
            call.operation(),
            &destination_context,
            &plaintext,
        )?;
        Ok(ReEncryptResponse {
            request_id: call.request_id(),
            key_id,
            key_version_id: version.to_string(),
            source_key_id: source.key_id,
            source_key_version_id: header.version_id.to_string(),
            ciphertext_blob: blob,
        })
    }

    /// The key a blob names, with due maintenance applied, noted on the call,
    /// and `action` authorised on it. A key id that never existed is the
    /// opaque `InvalidCiphertext` (the blob is forged or damaged); a deleted
    /// key says so.
    fn key_for_blob(
        &self,
        call: &mut Call<'_>,
        header: &BlobHeader,
        action: &str,
    ) -> Result<KeyRecord, KmsError> {
        let key = self
            .maintain_key(&header.key_id, call.now_unix())?
            .ok_or_else(KmsError::invalid_ciphertext)?;
        call.note_key(&key);
        call.authorize(action, &key.arn())?;
        if key.deleted_at.is_some() {
            return Err(KmsError::key_deleted(
                &key.arn_text(),
                key.deleted_at.map(to_time),
            ));
        }
        Ok(key)
    }

    /// Opens `blob` with the version of `key` its header names.
    fn open_blob(
        &self,
        key: &KeyRecord,
        header: &BlobHeader,
        blob_bytes: &[u8],
        context: &[u8],
        operation: &str,
    ) -> Result<SecretBytes, KmsError> {
        let cipher = self.store.read(|tx| {
            let key = live_key(tx, key)?;
            require_enabled(&key, operation)?;
            let version = tx
                .version(&key.key_id, header.version_id)?
                .ok_or_else(KmsError::invalid_ciphertext)?;
            self.version_cipher(&key, &version, operation)
        })?;
        blob::open(&cipher, blob_bytes, header, context)
    }

    /// Seals `plaintext` under the primary version of `key`.
    fn seal_under_primary(
        &self,
        key: &KeyRecord,
        operation: &str,
        context: &[u8],
        plaintext: &SecretBytes,
    ) -> Result<(String, Uuid, Vec<u8>), KmsError> {
        let (version, cipher): (Uuid, AesGcm256) = self.store.read(|tx| {
            let key = live_key(tx, key)?;
            self.primary_cipher(tx, &key, operation)
        })?;
        let blob = blob::seal(&cipher, &key.key_id, version, context, plaintext.expose())?;
        Ok((key.key_id.clone(), version, blob))
    }

    /// A fresh data key for GenerateDataKey(WithoutPlaintext), and its blob.
    fn new_data_key(
        &self,
        call: &mut Call<'_>,
        request: &GenerateDataKeyRequest,
    ) -> Result<(String, Uuid, SecretBytes, Vec<u8>), KmsError> {
        let len = match request.number_of_bytes {
            Some(n) if (1..=MAX_DATA_KEY_BYTES).contains(&n) => n as usize,
            Some(n) => {
                return Err(KmsError::invalid(format!(
                    "NumberOfBytes {n} is out of range; use 1 to {MAX_DATA_KEY_BYTES}"
                )));
            }
            None => request.key_spec.unwrap_or(DataKeySpec::Aes256).byte_len(),
        };
        let context = blob::canonical_context(&request.encryption_context)?;
        let key = self.resolve_key(call, &request.key_id)?;
        // A data key is long-lived: it comes from the operating system.
        let data_key = SecretBytes::random(len).map_err(|_| ids::random_failed())?;
        let (key_id, version, blob) =
            self.seal_under_primary(&key, call.operation(), &context, &data_key)?;
        Ok((key_id, version, data_key, blob))
    }
}
