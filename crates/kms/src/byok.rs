//! Bring your own key: GetParametersForImport, ImportKeyMaterial and
//! DeleteKeyMaterial.
//!
//! GetParametersForImport makes a fresh RSA-2048 key pair for each call and
//! returns its public key (DER SubjectPublicKeyInfo) and an import token,
//! valid 24 hours; the private key is stored sealed under the root key, bound
//! to the token and the key id. ImportKeyMaterial unwraps the material with
//! RSA-OAEP (SHA-256, or SHA-1 when the parameters asked for it) and stores it
//! sealed as the key's one version.
//!
//! Decisions (also in `docs/kms.md`):
//!
//! - **A token is used once**, whether the import succeeds or not: it is
//!   deleted before the RSA decryption is attempted. A wrapping key therefore
//!   decrypts at most one caller-chosen ciphertext, which leaves no padding or
//!   timing oracle to query (the RSA arithmetic is crypto-bigint's constant-
//!   time code as well). A failed import needs new parameters.
//! - **Material never changes.** The first import records an HMAC
//!   fingerprint of the material (under a root-derived key); a later import —
//!   to extend the expiry, or after the material expired — must bring the same
//!   material, otherwise `InvalidKeyMaterial`. New material needs a new key.
//! - **Expiry destroys.** `KeyMaterialExpireUnix` in the past is refused;
//!   when it passes, the material is destroyed and the key returns to
//!   PendingImport (`maintenance.rs`).
//! - Keys with Origin EXTERNAL do not rotate (`Unsupported.Origin`).

use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::sha2::Sha256;
use sealhouse_crypto::SecretBytes;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::api::{
    EmptyResponse, GetParametersForImportRequest, GetParametersForImportResponse,
    ImportKeyMaterialRequest, KeyRequest, KeyState, Origin, WrappingAlgorithm,
};
use crate::call::Call;
use crate::error::{ErrorCode, KmsError};
use crate::ids;
use crate::resolve::live_key;
use crate::seal::Purpose;
use crate::service::ServiceState;
use crate::store::{ImportParamsRecord, KeyRecord, to_time};

/// How long import parameters are valid, in seconds (24 hours, as in the cloud).
pub const IMPORT_TOKEN_LIFETIME_SECONDS: i64 = 86_400;
/// Size of the wrapping RSA key.
const RSA_BITS: usize = 2048;
/// Length of imported material: an AES-256 key.
const MATERIAL_LEN: usize = 32;

impl ServiceState {
    /// GetParametersForImport.
    pub(crate) fn get_parameters_for_import(
        &self,
        call: &mut Call<'_>,
        request: &GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        require_external(&key)?;
        // Slow (tens to hundreds of milliseconds): done outside any transaction.
        let private = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
            .map_err(|e| KmsError::internal(format!("RSA key generation failed: {e}")))?;
        let public_key = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KmsError::internal(format!("encoding the RSA public key failed: {e}")))?
            .as_bytes()
            .to_vec();
        let private_der = private
            .to_pkcs8_der()
            .map_err(|e| KmsError::internal(format!("encoding the RSA private key failed: {e}")))?;
        let token = ids::new_import_token()?;
        let expires_at = call.now_unix() + IMPORT_TOKEN_LIFETIME_SECONDS;
        let params = ImportParamsRecord {
            sealed_private_key: self.sealer.seal(
                Purpose::ImportPrivateKey,
                &[token.as_bytes(), key.key_id.as_bytes()],
                private_der.as_bytes(),
            ),
            token: token.clone(),
            key_id: key.key_id.clone(),
            wrapping_algorithm: request.wrapping_algorithm.as_str().to_owned(),
            expires_at,
        };
        self.store.write(|tx| {
            live_key(tx, &key)?;
            tx.insert_import_params(&params)
        })?;
        Ok(GetParametersForImportResponse {
            request_id: call.request_id(),
            key_id: key.key_id,
            import_token: token,
            public_key,
            token_expire_time: to_time(expires_at),
        })
    }

    /// ImportKeyMaterial.
    pub(crate) fn import_key_material(
        &self,
        call: &mut Call<'_>,
        request: &ImportKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError> {
        let now = call.now_unix();
        let expires = match request.key_material_expire_unix {
            None | Some(0) => None,
            Some(t) if t > now => Some(t),
            Some(t) => {
                return Err(KmsError::invalid(format!(
                    "KeyMaterialExpireUnix {t} is not in the future (now is {now}); give a later \
                     time, or 0 for material that does not expire"
                )));
            }
        };
        let key = self.resolve_key(call, &request.key_id)?;
        require_external(&key)?;
        // Take the token in its own transaction, committed even when the
        // import then fails: each token gets one attempt.
        let params = self
            .store
            .write(|tx| {
                let key = live_key(tx, &key)?;
                refuse_pending_deletion(&key)?;
                take_token(tx, &key, &request.import_token, now)
            })?
            .into_result()?;
        let material = self.unwrap_material(&key, &params, &request.encrypted_key_material)?;
        let fingerprint = self.sealer.fingerprint(&key.key_id, &material);
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            refuse_pending_deletion(&key)?;
            if let Some(earlier) = &key.material_fingerprint
                && !bool::from(earlier.as_slice().ct_eq(&fingerprint))
            {
                return Err(KmsError::new(
                    ErrorCode::InvalidKeyMaterial,
                    format!(
                        "the material differs from the material imported into key {} \
                         before; a key's material never changes: import the same material, \
                         or create a new key for new material",
                        key.arn_text()
                    ),
                ));
            }
            match tx.versions(&key.key_id)?.first() {
                None => {
                    self.add_version_with(tx, &mut key, now, &material)?;
                }
                Some(v) if v.sealed_material.is_none() => {
                    let sealed = self.seal_version(&key.key_id, v.version_id, &material);
                    tx.set_version_material(&key.key_id, v.version_id, Some(&sealed))?;
                }
                Some(_) => {}
            }
            key.material_fingerprint = Some(fingerprint.clone());
            key.material_expire_time = expires;
            if key.state == KeyState::PendingImport {
                key.state = KeyState::Enabled;
            }
            tx.update_key(&key)
        })?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// DeleteKeyMaterial: the material of every version is destroyed (rows
    /// overwritten, the WAL checkpointed) and the key returns to
    /// PendingImport; its fingerprint stays, so only the same material can
    /// be imported again, and what the key encrypted decrypts again then.
    pub(crate) fn delete_key_material(
        &self,
        call: &mut Call<'_>,
        request: &KeyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        let key = self.resolve_key(call, &request.key_id)?;
        require_external(&key)?;
        self.store.write(|tx| {
            let mut key = live_key(tx, &key)?;
            match key.state {
                KeyState::Enabled | KeyState::Disabled => {}
                state => {
                    return Err(KmsError::state_conflict(
                        &key.arn_text(),
                        state,
                        "delete the material of",
                        if state == KeyState::PendingImport {
                            "it holds no material; import material first"
                        } else {
                            "cancel its deletion first"
                        },
                    ));
                }
            }
            for v in tx.versions(&key.key_id)? {
                tx.set_version_material(&key.key_id, v.version_id, None)?;
            }
            key.state = KeyState::PendingImport;
            key.material_expire_time = None;
            tx.update_key(&key)
        })?;
        self.store.checkpoint()?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// Unwraps imported material with the parameters' private key.
    fn unwrap_material(
        &self,
        key: &KeyRecord,
        params: &ImportParamsRecord,
        wrapped: &[u8],
    ) -> Result<SecretBytes, KmsError> {
        let algorithm = WrappingAlgorithm::parse(&params.wrapping_algorithm)
            .map_err(|_| KmsError::internal("stored import parameters are damaged"))?;
        let private_der = self.sealer.unseal(
            Purpose::ImportPrivateKey,
            &[params.token.as_bytes(), key.key_id.as_bytes()],
            &params.sealed_private_key,
        )?;
        let private = rsa::PrivateKey::from_pkcs8_der(private_der.expose())
            .map_err(|_| KmsError::internal("a stored import private key does not parse"))?;
        let unwrapped = match algorithm {
            WrappingAlgorithm::RsaesOaepSha256 => private.oaep_decrypt::<Sha256>(wrapped),
            WrappingAlgorithm::RsaesOaepSha1 => private.oaep_decrypt::<sha1::Sha1>(wrapped),
        }
        .map(Zeroizing::new)
        .map_err(|_| {
            KmsError::new(
                ErrorCode::InvalidKeyMaterial,
                format!(
                    "EncryptedKeyMaterial does not unwrap with {algorithm} under the public key of \
                     these import parameters; wrap the 32-byte key with that PublicKey and \
                     WrappingAlgorithm, and get new parameters (each token is good for one \
                     attempt)"
                ),
            )
        })?;
        if unwrapped.len() != MATERIAL_LEN {
            return Err(KmsError::new(
                ErrorCode::InvalidKeyMaterial,
                format!(
                    "the unwrapped material is {} bytes; a key of spec Aliyun_AES_256 takes \
                     exactly {MATERIAL_LEN} bytes",
                    unwrapped.len()
                ),
            ));
        }
        Ok(SecretBytes::from_slice(&unwrapped))
    }
}

fn require_external(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin == Origin::External {
        return Ok(());
    }
    Err(KmsError::new(
        ErrorCode::UnsupportedOrigin,
        format!(
            "key {} has Origin Aliyun_KMS: its material is generated by the KMS; only keys \
             created with Origin EXTERNAL take imported material",
            key.arn_text()
        ),
    ))
}

fn refuse_pending_deletion(key: &KeyRecord) -> Result<(), KmsError> {
    if key.state != KeyState::PendingDeletion {
        return Ok(());
    }
    Err(KmsError::state_conflict(
        &key.arn_text(),
        key.state,
        "import material into",
        "cancel its deletion first",
    ))
}

/// What an import token turned out to be, once its parameters are removed.
enum TokenCheck {
    /// Good: the parameters it was issued with.
    Valid(ImportParamsRecord),
    /// Unknown, used, for another key or expired: the caller's error. The
    /// removal still commits (a token is good for one try).
    Refused(KmsError),
}

impl TokenCheck {
    fn into_result(self) -> Result<ImportParamsRecord, KmsError> {
        match self {
            Self::Valid(params) => Ok(params),
            Self::Refused(e) => Err(e),
        }
    }
}

/// Removes the token's parameters and checks them; an `Err` fails the
/// transaction, a refused token does not.
fn take_token(
    tx: &crate::store::Tx<'_>,
    key: &KeyRecord,
    token: &str,
    now: i64,
) -> Result<TokenCheck, KmsError> {
    let invalid = || {
        KmsError::new(
            ErrorCode::InvalidImportToken,
            format!(
                "the import token is not one issued for key {}, or it was already used; each \
                 token is good for one ImportKeyMaterial call: get a new one with \
                 GetParametersForImport",
                key.arn_text()
            ),
        )
    };
    let well_formed = token.len() == 32
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .is_ok();
    if !well_formed {
        return Ok(TokenCheck::Refused(invalid()));
    }
    let Some(params) = tx.import_params(token)? else {
        return Ok(TokenCheck::Refused(invalid()));
    };
    if params.key_id != key.key_id {
        return Ok(TokenCheck::Refused(invalid()));
    }
    tx.delete_import_params(token)?;
    if params.expires_at <= now {
        return Ok(TokenCheck::Refused(KmsError::new(
            ErrorCode::ExpiredImportToken,
            format!(
                "the import token expired at {}; get new parameters with GetParametersForImport",
                crate::error::date(to_time(params.expires_at))
            ),
        )));
    }
    Ok(TokenCheck::Valid(params))
}
