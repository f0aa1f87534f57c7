//! `ENHANCED_SYM_ENCRYPT` / `ENHANCED_SYM_DECRYPT`: a keyset prepared once,
//! then used for many values.
//!
//! Column ciphertext layout (the original service's):
//!
//! ```text
//! AES-GCM-256:   key tag (32) || IV (12) || ciphertext || GCM tag (16)   = plaintext + 60
//! AES-SIV-CMAC:  key tag (32) || SIV (16) || ciphertext                  = plaintext + 48
//! ```
//!
//! The key tag ([`crate::key_tag`]) routes decryption to one key in O(1).
//! Ciphertexts made here also authenticate it: the associated data is
//! `key tag || AAD`, so a flipped bit anywhere, the tag included, is rejected.
//! Ciphertexts made by the original service carry a tag we cannot derive and
//! authenticate only the AAD; an unknown tag is therefore tried, with the AAD
//! alone, against every ENABLED key, which is how data encrypted there
//! decrypts here once its keyset is imported. An empty AAD and no AAD are the
//! same thing.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::key_tag::{self, KEY_TAG_LEN, KeyTag};
use crate::primitive::{AesGcm256, AesSiv};
use crate::{Algorithm, Error, KeyId, KeyStatus, Keyset, SecretBytes};

/// A keyset ready to encrypt and decrypt: every key's cipher set up and its
/// tag derived, once. Share it across threads; it is immutable.
///
/// AES-SIV needs per-call mutable state, which lives in a [`CipherSession`];
/// the plain [`KeysetCipher::encrypt`] / [`KeysetCipher::decrypt`] open one per
/// call, which is fine for single values and costs key setup for AES-SIV.
/// Loops over many values should hold a session.
pub struct KeysetCipher {
    entries: Vec<Entry>,
    primary: usize,
    by_tag: HashMap<KeyTag, usize, BuildHasherDefault<TagHasher>>,
    shortest_ciphertext: usize,
}

struct Entry {
    key_id: KeyId,
    algorithm: Algorithm,
    tag: KeyTag,
    enabled: bool,
    engine: Engine,
}

// Entries are few and read per value; boxing the large GCM variant would add a
// pointer chase to every encryption.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Gcm(AesGcm256),
    /// Key material for the per-session AES-SIV instances.
    Siv(SecretBytes),
}

impl KeysetCipher {
    /// Prepares `keyset`: sets up a cipher for each ENABLED and DISABLED key
    /// (a DISABLED key is kept only so that its ciphertexts are refused by tag
    /// instead of being tried against other keys). DESTROYED keys have no
    /// material and take no part.
    pub fn new(keyset: &Keyset) -> Result<Self, Error> {
        let mut entries = Vec::with_capacity(keyset.keys().len());
        let mut primary = None;
        for key in keyset.keys() {
            let Some(material) = key.material() else {
                continue;
            };
            let engine = match key.algorithm() {
                Algorithm::AesGcm256 => Engine::Gcm(AesGcm256::new(material)?),
                Algorithm::AesSivCmac128 | Algorithm::AesSivCmac256 => {
                    Engine::Siv(material.duplicate())
                }
            };
            if key.id() == keyset.primary_key_id() {
                primary = Some(entries.len());
            }
            entries.push(Entry {
                key_id: key.id().clone(),
                algorithm: key.algorithm(),
                tag: key_tag::derive(key.algorithm(), material),
                enabled: key.status() == KeyStatus::Enabled,
                engine,
            });
        }
        // The keyset's invariant guarantees an enabled primary with material.
        let primary = primary.expect("keyset invariant: the primary key has material");
        let mut by_tag = HashMap::default();
        for (i, e) in entries.iter().enumerate() {
            by_tag.entry(e.tag).or_insert(i);
        }
        let shortest_ciphertext = entries
            .iter()
            .map(|e| KEY_TAG_LEN + overhead(e.algorithm))
            .min()
            .unwrap_or(0);
        Ok(Self {
            entries,
            primary,
            by_tag,
            shortest_ciphertext,
        })
    }

    /// Parses a binary keyset and prepares it.
    pub fn from_keyset_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::new(&Keyset::from_bytes(bytes)?)
    }

    /// The algorithm new ciphertexts are made with.
    pub fn primary_algorithm(&self) -> Algorithm {
        self.entries[self.primary].algorithm
    }

    /// The id of the key new ciphertexts are made with.
    pub fn primary_key_id(&self) -> &KeyId {
        &self.entries[self.primary].key_id
    }

    /// Length of the ciphertext of a `plaintext_len`-byte value.
    pub fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        KEY_TAG_LEN + overhead(self.primary_algorithm()) + plaintext_len
    }

    /// A session for encrypting or decrypting many values on one thread.
    pub fn session(&self) -> CipherSession<'_> {
        CipherSession {
            cipher: self,
            siv: Vec::new(),
        }
    }

    /// Encrypts one value with the primary key.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ciphertext_len(plaintext.len()));
        self.session().encrypt_append(plaintext, aad, &mut out);
        out
    }

    /// Decrypts one value.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(ciphertext.len().saturating_sub(self.shortest_ciphertext));
        self.session().decrypt_append(ciphertext, aad, &mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for KeysetCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .entries
            .iter()
            .map(|e| (&e.key_id, e.algorithm, e.enabled))
            .collect();
        f.debug_struct("KeysetCipher")
            .field("primary", &self.entries[self.primary].key_id)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Per-thread state for a [`KeysetCipher`]: the AES-SIV instances, set up on
/// first use and reused for every later value.
pub struct CipherSession<'a> {
    cipher: &'a KeysetCipher,
    siv: Vec<Option<AesSiv>>,
}

impl CipherSession<'_> {
    /// Encrypts `plaintext` with the primary key and appends the ciphertext
    /// to `out`.
    pub fn encrypt_append(&mut self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) {
        let index = self.cipher.primary;
        let entry = &self.cipher.entries[index];
        out.reserve(self.cipher.ciphertext_len(plaintext.len()));
        out.extend_from_slice(&entry.tag);
        with_bound_aad(&entry.tag, aad, |bound| match &entry.engine {
            Engine::Gcm(gcm) => gcm.seal_append(bound, plaintext, out),
            Engine::Siv(_) => self.siv_for(index).seal_append(&[bound], plaintext, out),
        });
    }

    /// Decrypts `ciphertext` and appends the plaintext to `out`; on failure
    /// `out` is unchanged.
    pub fn decrypt_append(
        &mut self,
        ciphertext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let cipher = self.cipher;
        if ciphertext.len() < cipher.shortest_ciphertext {
            return Err(Error::TruncatedCiphertext {
                actual: ciphertext.len(),
                minimum: cipher.shortest_ciphertext,
            });
        }
        let (tag, body) = ciphertext.split_at(KEY_TAG_LEN);
        let tag: &KeyTag = tag.try_into().map_err(|_| Error::DecryptionFailed)?;
        if let Some(&index) = cipher.by_tag.get(tag) {
            // One of our own ciphertexts: only this key, with the tag bound.
            if !cipher.entries[index].enabled {
                return Err(Error::DecryptionFailed);
            }
            return with_bound_aad(tag, aad, |bound| self.open(index, bound, body, out));
        }
        // A tag we cannot derive: a ciphertext of the original service (or a
        // modified one). Try each enabled key with the AAD alone.
        for index in 0..cipher.entries.len() {
            if cipher.entries[index].enabled && self.open(index, aad, body, out).is_ok() {
                return Ok(());
            }
        }
        Err(Error::DecryptionFailed)
    }

    fn open(
        &mut self,
        index: usize,
        ad: &[u8],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match &self.cipher.entries[index].engine {
            Engine::Gcm(gcm) => gcm.open_append(ad, body, out),
            Engine::Siv(_) => self.siv_for(index).open_append(&[ad], body, out),
        }
    }

    fn siv_for(&mut self, index: usize) -> &mut AesSiv {
        if self.siv.len() <= index {
            self.siv.resize_with(self.cipher.entries.len(), || None);
        }
        let entry = &self.cipher.entries[index];
        self.siv[index].get_or_insert_with(|| match &entry.engine {
            // Entries are built with a key of the right length for their algorithm.
            Engine::Siv(material) => {
                AesSiv::new(entry.algorithm, material).expect("AES-SIV key checked at keyset parse")
            }
            Engine::Gcm(_) => unreachable!("siv_for is called for AES-SIV entries only"),
        })
    }
}

/// Bytes an algorithm adds besides the key tag.
fn overhead(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::AesGcm256 => AesGcm256::OVERHEAD,
        Algorithm::AesSivCmac128 | Algorithm::AesSivCmac256 => AesSiv::SIV_LEN,
    }
}

/// Runs `f` with `tag || aad`, on the stack for the usual short AADs so that
/// encrypting a column allocates nothing per value beyond its output.
fn with_bound_aad<R>(tag: &KeyTag, aad: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    const STACK: usize = 256;
    if aad.len() <= STACK - KEY_TAG_LEN {
        let mut buf = [0u8; STACK];
        buf[..KEY_TAG_LEN].copy_from_slice(tag);
        buf[KEY_TAG_LEN..KEY_TAG_LEN + aad.len()].copy_from_slice(aad);
        f(&buf[..KEY_TAG_LEN + aad.len()])
    } else {
        let mut joined = Vec::with_capacity(KEY_TAG_LEN + aad.len());
        joined.extend_from_slice(tag);
        joined.extend_from_slice(aad);
        f(&joined)
    }
}

/// Key tags are HMAC outputs, already uniform: the first eight bytes serve as
/// the hash without running SipHash over 32 bytes.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

#[cfg(test)]
mod tests;
