//! The type that holds key material.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes: key material.
///
/// It implements neither `Clone` nor `Display`, and its `Debug` shows only the
/// length, so a secret cannot be copied or printed by accident; copying one is
/// an explicit [`SecretBytes::duplicate`]. The bytes are zeroed when dropped.
/// Equality is constant-time.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Box<[u8]>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the vector's buffer becomes the secret's.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes.into_boxed_slice())
    }

    /// Copies `bytes` into a new secret. The caller remains responsible for
    /// its own copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    /// Fresh random bytes from the operating system's generator: the source
    /// for long-lived keys (IVs come from a userspace generator instead, see
    /// `random.rs`).
    pub fn random(len: usize) -> Result<Self, crate::Error> {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes).map_err(|_| crate::Error::RandomUnavailable)?;
        Ok(Self::new(bytes))
    }

    /// The secret bytes. Callers must not copy them into a longer-lived place
    /// that is not itself zeroed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A deliberate copy (a keyset handed to another owner, say).
    pub fn duplicate(&self) -> Self {
        Self::from_slice(&self.0)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_length_only() {
        let s = SecretBytes::from_slice(&[0xAB; 32]);
        let shown = format!("{s:?} {s:#?}");
        assert!(shown.contains("32 bytes"));
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn random_secrets_differ_and_have_the_length_asked() {
        let a = SecretBytes::random(32).expect("os rng");
        let b = SecretBytes::random(32).expect("os rng");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(a, a.duplicate());
    }
}
