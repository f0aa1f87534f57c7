//! Double wrapping's local step: a data key wrapped under a key-encryption
//! key with AES-GCM, as parquet-mr (`KeyToolkit.encryptKeyLocally`), Arrow
//! C++ (`KeyToolkit::EncryptKeyLocally`) and parquet-key-management
//! (`key_encryption.rs`) do it.
//!
//! `wrappedDEK` = standard base64 of `nonce (12) || ciphertext || tag (16)`,
//! AES-GCM under the KEK (AES-128 for a 16-byte KEK, AES-256 for a 32-byte
//! one), the AAD being the KEK id's raw bytes (base64-decoded
//! `keyEncryptionKeyID`), and no length prefix.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, Algorithm, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sealhouse_crypto::SecretBytes;
use zeroize::Zeroizing;

use super::error::ParquetKeyError;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Wraps `dek` under `kek`, binding it to `kek_id`.
pub(crate) fn wrap(
    dek: &SecretBytes,
    kek: &SecretBytes,
    kek_id: &[u8],
) -> Result<String, ParquetKeyError> {
    let key = cipher(kek)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| ParquetKeyError::Random("the OS random source failed".into()))?;
    // Holds the DEK until sealed in place; zeroed when dropped in case
    // sealing fails. Allocated once, so no copy is left behind by growth.
    let mut out = Zeroizing::new(Vec::with_capacity(NONCE_LEN + dek.len() + TAG_LEN));
    out.extend_from_slice(&nonce);
    out.extend_from_slice(dek.expose());
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kek_id),
            &mut out[NONCE_LEN..],
        )
        // ring refuses only inputs beyond GCM's length limit (64 GiB).
        .map_err(|_| ParquetKeyError::Unsupported("a data key too long for AES-GCM".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(STANDARD.encode(out.as_slice()))
}

/// Opens a `wrappedDEK` made by [`wrap`] (or any Parquet key tool).
pub(crate) fn unwrap(
    wrapped_dek: &str,
    kek: &SecretBytes,
    kek_id: &[u8],
) -> Result<SecretBytes, ParquetKeyError> {
    let bytes = STANDARD
        .decode(wrapped_dek.trim())
        .map_err(|e| ParquetKeyError::Damaged(format!("wrappedDEK is not base64 ({e})")))?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(ParquetKeyError::Damaged(format!(
            "wrappedDEK is {} bytes, shorter than an AES-GCM nonce and tag",
            bytes.len()
        )));
    }
    let key = cipher(kek)?;
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| ParquetKeyError::Damaged("wrappedDEK has no nonce".into()))?;
    // Decrypted in place, in a buffer zeroed when dropped (whether or not
    // the tag checks).
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let dek = key
        .open_in_place(nonce, Aad::from(kek_id), buffer.as_mut_slice())
        .map_err(|_| {
            ParquetKeyError::Damaged(
                "wrappedDEK does not open under its key-encryption key: the key material was \
                 altered"
                    .into(),
            )
        })?;
    Ok(SecretBytes::from_slice(dek))
}

/// The AES-GCM cipher of a key-encryption key.
fn cipher(kek: &SecretBytes) -> Result<LessSafeKey, ParquetKeyError> {
    let algorithm: &'static Algorithm = match kek.len() {
        16 => &AES_128_GCM,
        32 => &AES_256_GCM,
        n => {
            return Err(ParquetKeyError::Unsupported(format!(
                "a {}-bit key-encryption key (128 and 256 bits are)",
                n * 8
            )));
        }
    };
    let key = UnboundKey::new(algorithm, kek.expose()).map_err(|_| {
        ParquetKeyError::Unsupported("a key-encryption key AES-GCM does not take".into())
    })?;
    Ok(LessSafeKey::new(key))
}
