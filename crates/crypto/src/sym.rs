//! `SYM_ENCRYPT` / `SYM_DECRYPT`: AES-256-GCM under one raw 32-byte key, with
//! the layout `IV (12) || ciphertext || tag (16)` and an optional AAD (empty
//! is the same as none).
//!
//! Prepare a [`SymCipher`] once per key and reuse it for every value; the free
//! functions prepare one per call.

use crate::primitive::AesGcm256;
use crate::{Error, SecretBytes};

/// Length of the raw key.
pub const KEY_LEN: usize = AesGcm256::KEY_LEN;

/// A single-key cipher in the `SYM_ENCRYPT` format.
#[derive(Debug)]
pub struct SymCipher {
    gcm: AesGcm256,
}

impl SymCipher {
    /// Sets up the cipher for a raw 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        if key.len() != KEY_LEN {
            return Err(Error::InvalidRawKeyLength {
                function: "SYM_ENCRYPT",
                expected: KEY_LEN,
                actual: key.len(),
            });
        }
        Ok(Self {
            gcm: AesGcm256::new(&SecretBytes::from_slice(key))?,
        })
    }

    /// Encrypts under a fresh random IV.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + AesGcm256::OVERHEAD);
        self.gcm.seal_append(aad, plaintext, &mut out);
        out
    }

    /// Decrypts; a ciphertext shorter than IV and tag is reported as truncated.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        if ciphertext.len() < AesGcm256::OVERHEAD {
            return Err(Error::TruncatedCiphertext {
                actual: ciphertext.len(),
                minimum: AesGcm256::OVERHEAD,
            });
        }
        let mut out = Vec::with_capacity(ciphertext.len() - AesGcm256::OVERHEAD);
        self.gcm.open_append(aad, ciphertext, &mut out)?;
        Ok(out)
    }
}

/// `SYM_ENCRYPT(plaintext, key [, aad])`.
pub fn encrypt(key: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(SymCipher::new(key)?.encrypt(plaintext, aad))
}

/// `SYM_DECRYPT(ciphertext, key [, aad])`.
pub fn decrypt(key: &[u8], ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
    SymCipher::new(key)?.decrypt(ciphertext, aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_aad() {
        let key = [5u8; 32];
        let ct = encrypt(&key, b"0001", b"").expect("encrypts");
        assert_eq!(ct.len(), 4 + 28);
        assert_eq!(decrypt(&key, &ct, b"").expect("decrypts"), b"0001");
        let ct = encrypt(&key, b"0001", b"test").expect("encrypts");
        assert_eq!(decrypt(&key, &ct, b"test").expect("decrypts"), b"0001");
        assert_eq!(decrypt(&key, &ct, b""), Err(Error::DecryptionFailed));
    }

    #[test]
    fn key_length_and_truncation_are_named() {
        let msg = encrypt(&[0; 16], b"x", b"").unwrap_err().to_string();
        assert!(
            msg.contains("32-byte key") && msg.contains("16 bytes"),
            "{msg}"
        );
        assert_eq!(
            decrypt(&[0; 32], &[0; 27], b""),
            Err(Error::TruncatedCiphertext {
                actual: 27,
                minimum: 28
            })
        );
    }
}
