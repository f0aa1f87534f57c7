//! AES-256-GCM with 96-bit random IVs, on ring.

use std::fmt;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::{Algorithm, Error, SecretBytes, random};

/// AES-256-GCM under one key. Output layout: `IV (12) || ciphertext || tag (16)`.
///
/// The key schedule is set up once in [`AesGcm256::new`]; sealing and opening
/// take `&self`, so one instance serves every thread.
pub struct AesGcm256 {
    key: LessSafeKey,
}

impl AesGcm256 {
    /// Length of the raw key.
    pub const KEY_LEN: usize = 32;
    /// Length of the IV (nonce).
    pub const IV_LEN: usize = 12;
    /// Length of the authentication tag.
    pub const TAG_LEN: usize = 16;
    /// Bytes a sealed message adds to its plaintext.
    pub const OVERHEAD: usize = Self::IV_LEN + Self::TAG_LEN;

    /// Sets up the key schedule for a 32-byte key.
    pub fn new(key: &SecretBytes) -> Result<Self, Error> {
        Algorithm::AesGcm256.check_key_len(key.len())?;
        let unbound = UnboundKey::new(&aead::AES_256_GCM, key.expose()).map_err(|_| {
            Error::InvalidKeyLength {
                algorithm: Algorithm::AesGcm256,
                expected: 32,
                actual: key.len(),
            }
        })?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `plaintext` under a fresh random IV and appends
    /// `IV || ciphertext || tag` to `out`.
    pub fn seal_append(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        let mut iv = [0u8; Self::IV_LEN];
        random::fill_iv(&mut iv);
        self.seal_append_with_iv(iv, aad, plaintext, out);
    }

    /// Sealing with a caller-chosen IV: only for known-answer tests, since a
    /// repeated IV under one key destroys GCM's security.
    pub(crate) fn seal_append_with_iv(
        &self,
        iv: [u8; Self::IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.reserve(plaintext.len() + Self::OVERHEAD);
        out.extend_from_slice(&iv);
        let start = out.len();
        out.extend_from_slice(plaintext);
        // ring fails only for messages over GCM's 64 GiB limit, which a value
        // held in memory here cannot reach.
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                &mut out[start..],
            )
            .expect("plaintext within GCM's 64 GiB limit");
        out.extend_from_slice(tag.as_ref());
    }

    /// Decrypts `IV || ciphertext || tag` and appends the plaintext to `out`.
    /// On failure `out` is left as it was.
    pub fn open_append(&self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if sealed.len() < Self::OVERHEAD {
            return Err(Error::DecryptionFailed);
        }
        let (iv, rest) = sealed.split_at(Self::IV_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - Self::TAG_LEN);
        let iv: [u8; Self::IV_LEN] = iv.try_into().map_err(|_| Error::DecryptionFailed)?;
        let tag: [u8; Self::TAG_LEN] = tag.try_into().map_err(|_| Error::DecryptionFailed)?;
        let start = out.len();
        out.extend_from_slice(ciphertext);
        let opened = self.key.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad),
            aead::Tag::from(tag),
            &mut out[start..],
            0..,
        );
        if opened.is_err() {
            // Never leave unauthenticated plaintext behind.
            out.truncate(start);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }
}

impl fmt::Debug for AesGcm256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesGcm256 { key: <redacted> }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AesGcm256 {
        AesGcm256::new(&SecretBytes::from_slice(&[7; 32])).expect("32-byte key")
    }

    #[test]
    fn round_trip_and_layout() {
        let gcm = key();
        let mut sealed = Vec::new();
        gcm.seal_append(b"aad", b"hello", &mut sealed);
        assert_eq!(sealed.len(), 5 + AesGcm256::OVERHEAD);
        let mut plain = b"prefix".to_vec();
        gcm.open_append(b"aad", &sealed, &mut plain).expect("opens");
        assert_eq!(plain, b"prefixhello");
    }

    #[test]
    fn failed_open_leaves_output_untouched() {
        let gcm = key();
        let mut sealed = Vec::new();
        gcm.seal_append(b"", b"hello", &mut sealed);
        let mut out = b"kept".to_vec();
        assert_eq!(
            gcm.open_append(b"other", &sealed, &mut out),
            Err(Error::DecryptionFailed)
        );
        assert_eq!(out, b"kept");
        assert_eq!(
            gcm.open_append(b"", &sealed[..27], &mut out),
            Err(Error::DecryptionFailed)
        );
    }

    #[test]
    fn wrong_key_length_is_refused() {
        let err = AesGcm256::new(&SecretBytes::from_slice(&[0; 16])).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidKeyLength {
                expected: 32,
                actual: 16,
                ..
            }
        ));
    }
}
