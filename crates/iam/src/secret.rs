//! Credential secrets: their type, how they are generated, and the seam where
//! they are sealed before storage.
//!
//! An access key secret must be recoverable by the server: request signatures
//! are HMACs keyed by it, so the server recomputes them and needs the key
//! itself, not a hash. It is therefore stored *sealed*: the store receives
//! only what a [`SecretSealer`] returns. The KMS provides the real sealer
//! (AEAD under a root key kept outside the database); [`NoSealing`] stores
//! secrets as they are and exists for tests and for tools that have no root
//! key. Each secret is sealed with its access key id as context, so a sealer
//! that authenticates its context detects a sealed secret moved to another
//! key's row.
//!
//! STS security tokens are only compared with what a request presents, so only
//! their SHA-256 is stored (see `model::StsSessionRecord`).

use std::fmt;

use sealhouse_crypto::SecretBytes;
use zeroize::Zeroizing;

/// Sealing or unsealing a secret failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealing of a stored secret failed: {0}")]
pub struct SealError(pub String);

/// Seals secrets before they are stored and unseals them when needed.
///
/// `context` is the access key id the secret belongs to; implementations
/// should bind it (as AEAD associated data) so that unsealing with another
/// context fails. A sealed value should carry its own format tag so that a
/// future sealer recognises values of older ones.
pub trait SecretSealer: Send + Sync {
    /// Seals `secret` for storage.
    fn seal(&self, secret: &SecretBytes, context: &[u8]) -> Result<Vec<u8>, SealError>;
    /// Recovers a secret sealed by [`SecretSealer::seal`] with the same context.
    fn unseal(&self, sealed: &[u8], context: &[u8]) -> Result<SecretBytes, SealError>;
}

/// Stores secrets unsealed. For tests, and for tools without a root key; a
/// server must use a real sealer so that the database holds no usable secret.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSealing;

impl SecretSealer for NoSealing {
    fn seal(&self, secret: &SecretBytes, _context: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(secret.expose().to_vec())
    }

    fn unseal(&self, sealed: &[u8], _context: &[u8]) -> Result<SecretBytes, SealError> {
        Ok(SecretBytes::from_slice(sealed))
    }
}

/// A secret made of printable ASCII: an access key secret or a security token.
///
/// Like [`SecretBytes`], which holds it: no `Clone`, no `Display`, a `Debug`
/// that shows only the length, zeroed on drop.
pub struct SecretText(SecretBytes);

impl SecretText {
    /// Wraps bytes, which must be printable ASCII.
    pub(crate) fn from_secret(bytes: SecretBytes) -> Result<Self, SealError> {
        if bytes.expose().iter().all(u8::is_ascii_graphic) {
            Ok(Self(bytes))
        } else {
            Err(SealError(
                "an unsealed secret is not printable text; the stored value is damaged".into(),
            ))
        }
    }

    /// `len` random characters from `[A-Za-z0-9]`, from the OS generator.
    pub(crate) fn random(len: usize) -> Result<Self, crate::Error> {
        let chars = Zeroizing::new(random_base62(len)?);
        Ok(Self(SecretBytes::from_slice(chars.as_bytes())))
    }

    /// The secret text. Do not copy it anywhere that outlives the request.
    pub fn expose(&self) -> &str {
        // Invariant: every constructor checks or produces printable ASCII, so
        // the bytes are valid UTF-8.
        std::str::from_utf8(self.0.expose()).unwrap_or_default()
    }

    /// The secret bytes (for HMAC keys).
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.expose()
    }

    pub(crate) fn as_secret(&self) -> &SecretBytes {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText({} characters, redacted)", self.0.len())
    }
}

impl PartialEq for SecretText {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 // constant time (SecretBytes)
    }
}

/// `len` random characters from `[A-Za-z0-9]`, uniformly (rejection sampling).
pub(crate) fn random_base62(len: usize) -> Result<String, crate::Error> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut pool = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::fill(pool.as_mut()).map_err(|_| crate::Error::RandomUnavailable)?;
        for &b in pool.iter() {
            // 248 = 4 × 62: bytes at or above it would bias the low characters.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_is_base62_of_the_length_asked() {
        let a = random_base62(30).unwrap();
        assert_eq!(a.len(), 30);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_base62(30).unwrap());
    }

    #[test]
    fn secret_text_is_never_printed() {
        let s = SecretText::random(30).unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains(s.expose()), "{shown}");
        assert!(shown.contains("30 characters"));
    }

    #[test]
    fn no_sealing_round_trips_and_checks_text() {
        let s = SecretText::random(30).unwrap();
        let sealed = NoSealing.seal(s.as_secret(), b"LTAI1").unwrap();
        let back = SecretText::from_secret(NoSealing.unseal(&sealed, b"LTAI1").unwrap()).unwrap();
        assert_eq!(back, s);
        let err = SecretText::from_secret(SecretBytes::from_slice(&[0, 1])).unwrap_err();
        assert!(err.to_string().contains("damaged"));
    }
}
