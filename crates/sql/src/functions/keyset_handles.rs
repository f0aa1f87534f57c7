//! Keyset references: what `USE_WRAPPED_KEYSET` returns instead of the
//! plaintext keyset.
//!
//! A wrapped keyset exists so that key material never reaches tables, result
//! sets or clients. `USE_WRAPPED_KEYSET` therefore returns a reference —
//! [`PREFIX`] followed by 16 random bytes — to the unwrapped keyset, held in
//! this session's memory for the current statement only. The ciphers accept
//! a reference wherever they accept a keyset; `KEYSET_TO_JSON` shows its
//! metadata with the key material masked; the functions that would return
//! a changed plaintext keyset refuse it. A reference that outlives its
//! statement (stored in a table, say) names nothing and is refused with a
//! message saying so; one from another session can never be resolved.

use std::sync::{Arc, Mutex, PoisonError};

use sealhouse_crypto::{KeysetCipher, SecretBytes};

/// How every keyset reference starts.
pub(crate) const PREFIX: &[u8] = b"sealhouse:keyset-ref:v1:";
const ID_LEN: usize = 16;

/// An unwrapped keyset and its prepared ciphers.
#[derive(Clone)]
pub(crate) struct Referenced {
    pub(crate) keyset: Arc<SecretBytes>,
    pub(crate) cipher: Arc<KeysetCipher>,
}

/// The statement's keyset references.
#[derive(Default)]
pub(crate) struct KeysetHandles {
    entries: Mutex<Vec<([u8; ID_LEN], Referenced)>>,
}

/// Whether `bytes` is a keyset reference (live or not).
pub(crate) fn is_reference(bytes: &[u8]) -> bool {
    bytes.len() == PREFIX.len() + ID_LEN && bytes.starts_with(PREFIX)
}

/// The error for a reference this session does not hold.
pub(crate) const STALE: &str = "this keyset reference (from USE_WRAPPED_KEYSET) is no longer valid: a reference lives only for the statement that made it; call USE_WRAPPED_KEYSET in the statement that uses the keyset, and store wrapped keysets, not references";

/// What keyset bytes given to a function are.
pub(crate) enum Resolved {
    /// A keyset itself (or bytes to parse as one).
    NotAReference,
    /// A reference this statement made: its keyset.
    Live(Referenced),
    /// A reference this session no longer holds (made by another
    /// statement): refused with [`STALE`].
    Stale,
}

impl KeysetHandles {
    /// A reference to `keyset` (the same one for the same keyset within a
    /// statement, so that rows compare equal).
    pub(crate) fn register(
        &self,
        keyset: Arc<SecretBytes>,
    ) -> Result<Vec<u8>, sealhouse_crypto::Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let id = match entries.iter().find(|(_, r)| *r.keyset == *keyset) {
            Some((id, _)) => *id,
            None => {
                let cipher = Arc::new(KeysetCipher::from_keyset_bytes(keyset.expose())?);
                let mut id = [0u8; ID_LEN];
                id.copy_from_slice(SecretBytes::random(ID_LEN)?.expose());
                entries.push((id, Referenced { keyset, cipher }));
                id
            }
        };
        let mut reference = PREFIX.to_vec();
        reference.extend_from_slice(&id);
        Ok(reference)
    }

    /// What `bytes` are: a keyset itself, or a reference, live or stale.
    pub(crate) fn resolve(&self, bytes: &[u8]) -> Resolved {
        if !is_reference(bytes) {
            return Resolved::NotAReference;
        }
        let id = &bytes[PREFIX.len()..];
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(known, _)| known.as_slice() == id)
            .map_or(Resolved::Stale, |(_, r)| Resolved::Live(r.clone()))
    }

    /// Forgets every reference (the statement ended).
    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealhouse_crypto::{Algorithm, Keyset};

    #[test]
    fn references_resolve_until_cleared_and_repeat_for_one_keyset() {
        let handles = KeysetHandles::default();
        let keyset = Arc::new(
            Keyset::new(Algorithm::AesGcm256, "k")
                .expect("new")
                .to_bytes(),
        );
        let a = handles.register(Arc::clone(&keyset)).expect("register");
        let again = handles.register(Arc::clone(&keyset)).expect("register");
        assert_eq!(a, again);
        assert!(is_reference(&a));
        let Resolved::Live(found) = handles.resolve(&a) else {
            panic!("a live reference")
        };
        assert_eq!(found.keyset.expose(), keyset.expose());
        assert!(
            matches!(handles.resolve(keyset.expose()), Resolved::NotAReference),
            "a keyset is not a reference"
        );
        handles.clear();
        assert!(
            matches!(handles.resolve(&a), Resolved::Stale),
            "stale after the statement"
        );
        assert!(
            handles
                .register(Arc::new(SecretBytes::from_slice(b"junk")))
                .is_err()
        );
    }
}
