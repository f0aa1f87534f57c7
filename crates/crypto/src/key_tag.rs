//! The 32-byte key tag that starts every column ciphertext.
//!
//! The original service writes 32 bytes before the IV whose derivation is not
//! public, and does not authenticate them. Ours is a documented function of the
//! key:
//!
//! ```text
//! key_tag = HMAC-SHA256(key = key material, message = "sealhouse/key-tag/v1" || 0x00 || algorithm name)
//! ```
//!
//! It is computed once when a keyset is prepared for use, so decryption finds
//! the key by a map lookup instead of trying each key. Being a PRF output under
//! the key it reveals nothing about the key, and it does not depend on the key
//! id, so the same material imported into two keysets gets the same tag.

use ring::hmac;

use crate::{Algorithm, SecretBytes};

/// Length of the key tag.
pub(crate) const KEY_TAG_LEN: usize = 32;

/// A key tag.
pub(crate) type KeyTag = [u8; KEY_TAG_LEN];

const DOMAIN: &[u8] = b"sealhouse/key-tag/v1\0";

/// Derives the tag of `material` used with `algorithm`.
pub(crate) fn derive(algorithm: Algorithm, material: &SecretBytes) -> KeyTag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, material.expose());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(DOMAIN);
    ctx.update(algorithm.name().as_bytes());
    let mut tag = [0u8; KEY_TAG_LEN];
    tag.copy_from_slice(ctx.sign().as_ref());
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_pinned_by_a_known_answer() {
        // Fixes the documented derivation: changing it would orphan every
        // ciphertext already written (they would still decrypt, by trying
        // each key, but slowly). Computed independently with Python's hmac.
        let material = SecretBytes::from_slice(&[0x11; 32]);
        let tag = derive(Algorithm::AesGcm256, &material);
        assert_eq!(
            hex::encode(tag),
            "8ab3eaf33e804200295bfe3ae53f51ea56102d0ecc522c0df642567231a0a63d"
        );
    }

    #[test]
    fn tag_depends_on_algorithm_and_material() {
        let a = SecretBytes::from_slice(&[0x11; 32]);
        let b = SecretBytes::from_slice(&[0x12; 32]);
        assert_ne!(
            derive(Algorithm::AesGcm256, &a),
            derive(Algorithm::AesSivCmac128, &a)
        );
        assert_ne!(
            derive(Algorithm::AesGcm256, &a),
            derive(Algorithm::AesGcm256, &b)
        );
    }
}
