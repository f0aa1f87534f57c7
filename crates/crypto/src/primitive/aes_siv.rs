//! AES-SIV-CMAC (RFC 5297), on RustCrypto's `aes-siv`.

use std::fmt;

use aes_siv::KeyInit;
use aes_siv::aead::generic_array::GenericArray;
use aes_siv::siv::{Aes128Siv, Aes256Siv};

use crate::{Algorithm, Error, SecretBytes};

/// AES-SIV-CMAC under one key: a 32-byte key (AES-SIV-CMAC-128) or a 64-byte
/// key (AES-SIV-CMAC-256). Output layout: `SIV (16) || ciphertext`.
///
/// S2V keeps CMAC state between blocks, so sealing and opening take `&mut self`;
/// [`crate::CipherSession`] keeps one instance per key per thread.
pub struct AesSiv {
    inner: Inner,
}

enum Inner {
    K128(Box<Aes128Siv>),
    K256(Box<Aes256Siv>),
}

impl AesSiv {
    /// Length of the synthetic IV.
    pub const SIV_LEN: usize = 16;

    /// Sets up the key schedules; `algorithm` must be one of the AES-SIV ones
    /// and `key` the right length for it.
    pub fn new(algorithm: Algorithm, key: &SecretBytes) -> Result<Self, Error> {
        algorithm.check_key_len(key.len())?;
        let inner = match algorithm {
            Algorithm::AesSivCmac128 => Inner::K128(Box::new(Aes128Siv::new(
                GenericArray::from_slice(key.expose()),
            ))),
            Algorithm::AesSivCmac256 => Inner::K256(Box::new(Aes256Siv::new(
                GenericArray::from_slice(key.expose()),
            ))),
            Algorithm::AesGcm256 => {
                return Err(Error::UnknownAlgorithm {
                    name: format!("'{algorithm}' (not an AES-SIV algorithm)"),
                });
            }
        };
        Ok(Self { inner })
    }

    /// Encrypts `plaintext` with the associated-data components `headers`
    /// (S2V's vector; at most 126) and appends `SIV || ciphertext` to `out`.
    pub fn seal_append(&mut self, headers: &[&[u8]], plaintext: &[u8], out: &mut Vec<u8>) {
        out.reserve(Self::SIV_LEN + plaintext.len());
        let siv_at = out.len();
        out.extend_from_slice(&[0u8; Self::SIV_LEN]);
        let body_at = out.len();
        out.extend_from_slice(plaintext);
        let body = &mut out[body_at..];
        // Fails only with more than 126 headers, which callers in this crate
        // never pass.
        let siv = match &mut self.inner {
            Inner::K128(s) => s.encrypt_in_place_detached(headers, body),
            Inner::K256(s) => s.encrypt_in_place_detached(headers, body),
        }
        .expect("at most 126 S2V headers");
        out[siv_at..body_at].copy_from_slice(&siv);
    }

    /// Decrypts `SIV || ciphertext` and appends the plaintext to `out`. On
    /// failure `out` is left as it was.
    pub fn open_append(
        &mut self,
        headers: &[&[u8]],
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if sealed.len() < Self::SIV_LEN {
            return Err(Error::DecryptionFailed);
        }
        let (siv, ciphertext) = sealed.split_at(Self::SIV_LEN);
        let siv = GenericArray::clone_from_slice(siv);
        let start = out.len();
        out.extend_from_slice(ciphertext);
        let body = &mut out[start..];
        let opened = match &mut self.inner {
            Inner::K128(s) => s.decrypt_in_place_detached(headers, body, &siv),
            Inner::K256(s) => s.decrypt_in_place_detached(headers, body, &siv),
        };
        if opened.is_err() {
            out.truncate(start);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }
}

impl fmt::Debug for AesSiv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.inner {
            Inner::K128(_) => 128,
            Inner::K256(_) => 256,
        };
        write!(f, "AesSiv {{ aes_bits: {bits}, key: <redacted> }}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_round_trip() {
        let key = SecretBytes::from_slice(&[3; 64]);
        let mut siv = AesSiv::new(Algorithm::AesSivCmac256, &key).expect("64-byte key");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        siv.seal_append(&[b"ad"], b"value", &mut a);
        siv.seal_append(&[b"ad"], b"value", &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16 + 5);
        let mut plain = Vec::new();
        siv.open_append(&[b"ad"], &a, &mut plain).expect("opens");
        assert_eq!(plain, b"value");
        assert!(siv.open_append(&[b"other"], &a, &mut plain).is_err());
        assert_eq!(plain, b"value");
    }

    #[test]
    fn refuses_gcm_and_wrong_lengths() {
        let key = SecretBytes::from_slice(&[3; 32]);
        assert!(AesSiv::new(Algorithm::AesGcm256, &key).is_err());
        assert!(AesSiv::new(Algorithm::AesSivCmac256, &key).is_err());
        assert!(
            format!(
                "{:?}",
                AesSiv::new(Algorithm::AesSivCmac128, &key).expect("ok")
            )
            .contains("redacted")
        );
    }
}
