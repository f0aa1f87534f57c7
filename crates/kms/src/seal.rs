//! Sealing of stored secrets under keys derived from the root key.
//!
//! Every secret the KMS stores — each key version's 32-byte AES key, imported
//! (BYOK) material, the RSA private key of a set of import parameters — is
//! kept only as `0x01 || IV (12) || AES-256-GCM ciphertext || tag (16)`. The
//! associated data binds the purpose and the row the value belongs to (key id
//! and version id, or import token and key id), so a sealed value copied into
//! another row does not unseal. The root key itself is never stored; the
//! database holds only a check value that tells a wrong root key apart from a
//! damaged database.
//!
//! [`RootKeySealer`] is the same construction for the identity store's
//! access-key secrets, under its own derived key.

use std::fmt;

use ring::hmac;
use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use sealhouse_iam::{SealError, SecretSealer};

use crate::error::KmsError;
use crate::root_key::RootKey;

/// Format byte of sealed values.
const SEALED_V1: u8 = 0x01;

/// What a sealed value is; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A key version's AES key; context = key id, version id.
    KeyVersion,
    /// The PKCS#8 RSA private key of import parameters; context = token, key id.
    ImportPrivateKey,
    /// The root key check value; no context.
    RootCheck,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::KeyVersion => b"key-version",
            Self::ImportPrivateKey => b"import-private-key",
            Self::RootCheck => b"root-check",
        }
    }
}

/// Seals and unseals the KMS's stored secrets.
pub(crate) struct Sealer {
    cipher: AesGcm256,
    fingerprint: hmac::Key,
}

impl Sealer {
    pub(crate) fn new(root: &RootKey) -> Self {
        let fingerprint_key = root.derive(b"sealhouse-kms material fingerprint v1");
        Self {
            cipher: cipher_for(root, b"sealhouse-kms stored secrets v1"),
            fingerprint: hmac::Key::new(hmac::HMAC_SHA256, fingerprint_key.expose()),
        }
    }

    /// Seals `secret` for the row named by `context`.
    pub(crate) fn seal(&self, purpose: Purpose, context: &[&[u8]], secret: &[u8]) -> Vec<u8> {
        let aad = associated_data(b"sealhouse-kms/v1/", purpose.label(), context);
        let mut out = Vec::with_capacity(1 + secret.len() + AesGcm256::OVERHEAD);
        out.push(SEALED_V1);
        self.cipher.seal_append(&aad, secret, &mut out);
        out
    }

    /// Unseals a value sealed for the same purpose and context. A failure
    /// means a damaged database or a value moved between rows: an internal
    /// failure, never the caller's.
    pub(crate) fn unseal(
        &self,
        purpose: Purpose,
        context: &[&[u8]],
        sealed: &[u8],
    ) -> Result<SecretBytes, KmsError> {
        let damaged = || {
            KmsError::internal(
                "a sealed value in the KMS database does not unseal under the root key: the \
                 database is damaged or a value was moved between rows",
            )
        };
        let (&version, body) = sealed.split_first().ok_or_else(damaged)?;
        if version != SEALED_V1 {
            return Err(damaged());
        }
        let aad = associated_data(b"sealhouse-kms/v1/", purpose.label(), context);
        let mut plain = Vec::with_capacity(body.len());
        self.cipher
            .open_append(&aad, body, &mut plain)
            .map_err(|_| damaged())?;
        Ok(SecretBytes::new(plain))
    }

    /// HMAC-SHA256 of imported material under a root-derived key, bound to
    /// the key id: lets a re-import be checked against the first one after
    /// the material itself was destroyed, without storing the material.
    pub(crate) fn fingerprint(&self, key_id: &str, material: &SecretBytes) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.fingerprint);
        ctx.update(&(key_id.len() as u64).to_be_bytes());
        ctx.update(key_id.as_bytes());
        ctx.update(material.expose());
        ctx.sign().as_ref().to_vec()
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(redacted)")
    }
}

/// The identity store's [`SecretSealer`], backed by the KMS root key: AES-256-
/// GCM under a key derived for this purpose alone, the access key id as
/// associated data. Sealed form: `0x01 || IV || ciphertext || tag`.
pub struct RootKeySealer {
    cipher: AesGcm256,
}

impl RootKeySealer {
    pub(crate) fn new(root: &RootKey) -> Self {
        Self {
            cipher: cipher_for(root, b"sealhouse-kms iam access-key secrets v1"),
        }
    }
}

impl fmt::Debug for RootKeySealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKeySealer(redacted)")
    }
}

impl SecretSealer for RootKeySealer {
    fn seal(&self, secret: &SecretBytes, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let aad = associated_data(b"sealhouse-kms/v1/", b"iam-secret", &[context]);
        let mut out = Vec::with_capacity(1 + secret.len() + AesGcm256::OVERHEAD);
        out.push(SEALED_V1);
        self.cipher.seal_append(&aad, secret.expose(), &mut out);
        Ok(out)
    }

    fn unseal(&self, sealed: &[u8], context: &[u8]) -> Result<SecretBytes, SealError> {
        let damaged = || {
            SealError(
                "the sealed secret does not unseal under the KMS root key (wrong root key, \
                 damaged value, or a value moved to another access key)"
                    .into(),
            )
        };
        let (&version, body) = sealed.split_first().ok_or_else(damaged)?;
        if version != SEALED_V1 {
            return Err(damaged());
        }
        let aad = associated_data(b"sealhouse-kms/v1/", b"iam-secret", &[context]);
        let mut plain = Vec::with_capacity(body.len());
        self.cipher
            .open_append(&aad, body, &mut plain)
            .map_err(|_| damaged())?;
        Ok(SecretBytes::new(plain))
    }
}

fn cipher_for(root: &RootKey, purpose: &[u8]) -> AesGcm256 {
    let key = root.derive(purpose);
    // Invariant: derive returns exactly 32 bytes, the only length AesGcm256 checks.
    AesGcm256::new(&key).expect("a derived key is 32 bytes")
}

/// `domain || label || (u32 length || part)*`: unambiguous for any parts.
fn associated_data(domain: &[u8], label: &[u8], context: &[&[u8]]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(domain);
    aad.extend_from_slice(label);
    for part in context {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(byte: u8) -> RootKey {
        RootKey::from_secret(SecretBytes::from_slice(&[byte; 32])).unwrap()
    }

    #[test]
    fn sealed_values_unseal_only_in_their_own_row_and_purpose() {
        let s = Sealer::new(&root(1));
        let sealed = s.seal(Purpose::KeyVersion, &[b"key-a", b"v1"], &[9; 32]);
        assert_eq!(sealed.len(), 1 + 12 + 32 + 16);
        assert!(!sealed.windows(32).any(|w| w == [9; 32]));
        let back = s
            .unseal(Purpose::KeyVersion, &[b"key-a", b"v1"], &sealed)
            .unwrap();
        assert_eq!(back.expose(), &[9; 32]);
        for (purpose, ctx) in [
            (Purpose::KeyVersion, [&b"key-b"[..], b"v1"]),
            (Purpose::KeyVersion, [&b"key-a"[..], b"v2"]),
            (Purpose::KeyVersion, [&b"key-av"[..], b"1"]),
            (Purpose::ImportPrivateKey, [&b"key-a"[..], b"v1"]),
        ] {
            let err = s.unseal(purpose, &ctx, &sealed).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InternalFailure);
        }
        let other_root = Sealer::new(&root(2));
        assert!(
            other_root
                .unseal(Purpose::KeyVersion, &[b"key-a", b"v1"], &sealed)
                .is_err()
        );
    }

    #[test]
    fn iam_sealer_binds_the_access_key_id() {
        let sealer = root(1).secret_sealer();
        let secret = SecretBytes::from_slice(b"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY");
        let sealed = sealer.seal(&secret, b"LTAI0001").unwrap();
        assert!(!sealed.windows(10).any(|w| w == &secret.expose()[..10]));
        assert_eq!(sealer.unseal(&sealed, b"LTAI0001").unwrap(), secret);
        assert!(sealer.unseal(&sealed, b"LTAI0002").is_err());
        assert!(
            root(2)
                .secret_sealer()
                .unseal(&sealed, b"LTAI0001")
                .is_err()
        );
        assert!(sealer.unseal(&[], b"LTAI0001").is_err());
    }

    #[test]
    fn fingerprints_depend_on_key_id_and_material() {
        let s = Sealer::new(&root(1));
        let m = SecretBytes::from_slice(&[5; 32]);
        assert_eq!(s.fingerprint("k1", &m), s.fingerprint("k1", &m));
        assert_ne!(s.fingerprint("k1", &m), s.fingerprint("k2", &m));
        let m2 = SecretBytes::from_slice(&[6; 32]);
        assert_ne!(s.fingerprint("k1", &m), s.fingerprint("k1", &m2));
    }
}
