//! What Sealhouse derives from a keyset key, once, when the keyset is
//! prepared for use: the key tag and the column key.
//!
//! **Key tag.** The original service writes 32 bytes before the IV whose
//! derivation is not public, and does not authenticate them. Ours is a
//! documented function of the key, so decryption finds the key by a map lookup
//! instead of trying each key:
//!
//! ```text
//! key_tag = HMAC-SHA256(key = key material, message = "sealhouse/key-tag/v1" || 0x00 || algorithm name)
//! ```
//!
//! Being a PRF output under the key it reveals nothing about the key, and it
//! does not depend on the key id, so the same material imported into two
//! keysets gets the same tag.
//!
//! **Column key.** Ciphertexts made here are encrypted under a key derived
//! from the keyset key, not under the keyset key itself:
//!
//! ```text
//! column_key = HKDF-SHA256(IKM = key material, salt = none,
//!                          info = "sealhouse/column-key/v1" || 0x00 || algorithm name,
//!                          length = the algorithm's key length)
//! ```
//!
//! Ciphertexts of the original service are under the keyset key itself and are
//! found by trying each key when their tag is unknown. Keeping the two apart
//! means a ciphertext made here whose tag was altered cannot be opened by that
//! fallback: every altered bit is rejected, at no cost per value (binding the
//! tag as associated data instead cost two GHASH blocks, +25 ns per 11-byte
//! value).

use ring::{hkdf, hmac};

use crate::{Algorithm, SecretBytes};

/// Length of the key tag.
pub(crate) const KEY_TAG_LEN: usize = 32;

/// A key tag.
pub(crate) type KeyTag = [u8; KEY_TAG_LEN];

const DOMAIN: &[u8] = b"sealhouse/key-tag/v1\0";

/// Derives the tag of `material` used with `algorithm`.
pub(crate) fn key_tag(algorithm: Algorithm, material: &SecretBytes) -> KeyTag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, material.expose());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(DOMAIN);
    ctx.update(algorithm.name().as_bytes());
    let mut tag = [0u8; KEY_TAG_LEN];
    tag.copy_from_slice(ctx.sign().as_ref());
    tag
}

/// Derives the key our ciphertexts under `material` are made with.
pub(crate) fn column_key(algorithm: Algorithm, material: &SecretBytes) -> SecretBytes {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let info = [COLUMN_KEY_DOMAIN, algorithm.name().as_bytes()];
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(material.expose());
    let mut key = vec![0u8; algorithm.key_len()];
    // Fails only for lengths over 255 * 32 bytes; ours are 32 or 64.
    prk.expand(&info, Len(key.len()))
        .and_then(|okm| okm.fill(&mut key))
        .expect("HKDF-SHA256 output of at most 8160 bytes");
    SecretBytes::new(key)
}

const COLUMN_KEY_DOMAIN: &[u8] = b"sealhouse/column-key/v1\0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_pinned_by_a_known_answer() {
        // Fixes the documented derivation: changing it would orphan every
        // ciphertext already written (they would still decrypt, by trying
        // each key, but slowly). Computed independently with Python's hmac.
        let material = SecretBytes::from_slice(&[0x11; 32]);
        let tag = key_tag(Algorithm::AesGcm256, &material);
        assert_eq!(
            hex::encode(tag),
            "8ab3eaf33e804200295bfe3ae53f51ea56102d0ecc522c0df642567231a0a63d"
        );
    }

    #[test]
    fn column_key_is_pinned_by_known_answers() {
        // Computed independently with Python's hmac (RFC 5869 HKDF).
        let gcm = column_key(Algorithm::AesGcm256, &SecretBytes::from_slice(&[0x11; 32]));
        assert_eq!(
            hex::encode(gcm.expose()),
            "45f662ab2c16d2a36173b246edba14d9ee2afb877ee905adbc6a890cb2fc1161"
        );
        let siv = column_key(
            Algorithm::AesSivCmac256,
            &SecretBytes::from_slice(&[0x11; 64]),
        );
        assert_eq!(
            hex::encode(siv.expose()),
            "9077946dd363102207b909ba6bbd014ef363dba256c328683c51bea7fcd332a8\
             4d1a40d79470c7e8f7969bd7e5c33b84129b0937dfb2eb7041a16db01cbae608"
        );
    }

    #[test]
    fn tag_depends_on_algorithm_and_material() {
        let a = SecretBytes::from_slice(&[0x11; 32]);
        let b = SecretBytes::from_slice(&[0x12; 32]);
        assert_ne!(
            key_tag(Algorithm::AesGcm256, &a),
            key_tag(Algorithm::AesSivCmac128, &a)
        );
        assert_ne!(
            key_tag(Algorithm::AesGcm256, &a),
            key_tag(Algorithm::AesGcm256, &b)
        );
    }
}
