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
//! The key tag (`derive.rs`) routes decryption to one key in O(1).
//! Ciphertexts made here are encrypted under the key's column key (also
//! `derive.rs`), so only the tag's own key opens them. Ciphertexts made by the
//! original service carry a tag we cannot derive and are under the keyset key
//! itself; an unknown tag is therefore tried against every ENABLED keyset key,
//! which is how data encrypted there decrypts here once its keyset is
//! imported, while a ciphertext of ours with an altered tag opens under no key.
//! The AAD is the associated data as given; empty and absent are the same.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::derive::{self, KEY_TAG_LEN, KeyTag};
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
    /// Under the column key: what this keyset encrypts with and decrypts by tag.
    ours: Engine,
    /// Under the keyset key itself: for the original service's ciphertexts.
    theirs: Engine,
}

/// Which of an entry's two keys.
#[derive(Clone, Copy)]
enum Side {
    Ours = 0,
    Theirs = 1,
}

// Entries are few and read per value; boxing the large GCM variant would add a
// pointer chase to every encryption.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Gcm(AesGcm256),
    /// Key material for the per-session AES-SIV instances.
    Siv(SecretBytes),
}

impl Engine {
    fn new(algorithm: Algorithm, key: SecretBytes) -> Result<Self, Error> {
        Ok(match algorithm {
            Algorithm::AesGcm256 => Self::Gcm(AesGcm256::new(&key)?),
            Algorithm::AesSivCmac128 | Algorithm::AesSivCmac256 => {
                algorithm.check_key_len(key.len())?;
                Self::Siv(key)
            }
        })
    }
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
            let algorithm = key.algorithm();
            if key.id() == keyset.primary_key_id() {
                primary = Some(entries.len());
            }
            entries.push(Entry {
                key_id: key.id().clone(),
                algorithm,
                tag: derive::key_tag(algorithm, material),
                enabled: key.status() == KeyStatus::Enabled,
                ours: Engine::new(algorithm, derive::column_key(algorithm, material))?,
                theirs: Engine::new(algorithm, material.duplicate())?,
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
    /// Indexed by `2 * entry + side`.
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
        match &entry.ours {
            Engine::Gcm(gcm) => gcm.seal_append(aad, plaintext, out),
            Engine::Siv(_) => self
                .siv_for(index, Side::Ours)
                .seal_append(&[aad], plaintext, out),
        }
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
            // One of our own ciphertexts: only this key's column key opens it.
            if !cipher.entries[index].enabled {
                return Err(Error::DecryptionFailed);
            }
            return self.open(index, Side::Ours, aad, body, out);
        }
        // A tag we cannot derive: a ciphertext of the original service (or a
        // modified one). Try each enabled keyset key.
        for index in 0..cipher.entries.len() {
            if cipher.entries[index].enabled
                && self.open(index, Side::Theirs, aad, body, out).is_ok()
            {
                return Ok(());
            }
        }
        Err(Error::DecryptionFailed)
    }

    fn open(
        &mut self,
        index: usize,
        side: Side,
        aad: &[u8],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let entry = &self.cipher.entries[index];
        let engine = match side {
            Side::Ours => &entry.ours,
            Side::Theirs => &entry.theirs,
        };
        match engine {
            Engine::Gcm(gcm) => gcm.open_append(aad, body, out),
            Engine::Siv(_) => self.siv_for(index, side).open_append(&[aad], body, out),
        }
    }

    fn siv_for(&mut self, index: usize, side: Side) -> &mut AesSiv {
        if self.siv.is_empty() {
            self.siv.resize_with(2 * self.cipher.entries.len(), || None);
        }
        let entry = &self.cipher.entries[index];
        let engine = match side {
            Side::Ours => &entry.ours,
            Side::Theirs => &entry.theirs,
        };
        self.siv[2 * index + side as usize].get_or_insert_with(|| match engine {
            // Entries are built with a key of the right length for their algorithm.
            Engine::Siv(key) => {
                AesSiv::new(entry.algorithm, key).expect("AES-SIV key checked when prepared")
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
