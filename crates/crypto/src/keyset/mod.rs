//! The keyset model: keys with ids, algorithms, material, status and origin,
//! and one primary key.
//!
//! A [`Keyset`] always satisfies its invariants: at least one key, unique key
//! ids, an ENABLED primary key with material, every ENABLED or DISABLED key's
//! material of the right length for its algorithm, and no material left in a
//! DESTROYED key. Parsing ([`crate::codec`]) checks them once through
//! [`KeyParts`]; the mutations in `manage.rs` keep them.

mod key_id;
mod manage;
mod status;

use std::fmt;

pub use key_id::KeyId;
pub(crate) use status::{KEY_MATERIAL_SYMMETRIC, OUTPUT_PREFIX_MAXCOMPUTE};
pub use status::{KeyOrigin, KeyStatus};

use crate::error::printable_name;
use crate::{Algorithm, Error, KeysetProblem, SecretBytes};

/// One key of a keyset. Its material is reachable only inside this crate.
pub struct Key {
    id: KeyId,
    algorithm: Algorithm,
    /// `None` exactly when the key is DESTROYED.
    material: Option<SecretBytes>,
    status: KeyStatus,
    origin: KeyOrigin,
    /// Kept as present-or-absent: the original service writes an empty
    /// description for `ADD_KEY_TO_KEYSET(..., '')` but none for
    /// `ROTATE_KEYSET`, and a keyset must re-encode to the bytes it came from.
    description: Option<String>,
}

impl Key {
    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Its status.
    pub fn status(&self) -> KeyStatus {
        self.status
    }

    /// Where its material came from.
    pub fn origin(&self) -> KeyOrigin {
        self.origin
    }

    /// Its description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub(crate) fn material(&self) -> Option<&SecretBytes> {
        self.material.as_ref()
    }

    fn duplicate(&self) -> Self {
        Self {
            id: self.id.clone(),
            algorithm: self.algorithm,
            material: self.material.as_ref().map(SecretBytes::duplicate),
            status: self.status,
            origin: self.origin,
            description: self.description.clone(),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field("status", &self.status)
            .field("origin", &self.origin)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What can be shown of a key: everything but its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id.
    pub key_id: KeyId,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its status.
    pub status: KeyStatus,
    /// Where its material came from.
    pub origin: KeyOrigin,
    /// Its description, if any.
    pub description: Option<String>,
    /// Whether it is the keyset's primary key.
    pub is_primary: bool,
}

/// A set of keys with one primary key, used to encrypt, and any number of
/// others kept to decrypt what they encrypted.
///
/// Neither `Clone` nor printable with its material: `Debug` lists key ids,
/// algorithms and statuses only. [`Keyset::duplicate`] copies deliberately.
pub struct Keyset {
    primary: KeyId,
    keys: Vec<Key>,
}

impl Keyset {
    /// The primary key's id.
    pub fn primary_key_id(&self) -> &KeyId {
        &self.primary
    }

    /// The keys, in keyset order (oldest first).
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The keys as showable records, in keyset order.
    pub fn key_infos(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|k| KeyInfo {
                key_id: k.id.clone(),
                algorithm: k.algorithm,
                status: k.status,
                origin: k.origin,
                description: k.description.clone(),
                is_primary: k.id == self.primary,
            })
            .collect()
    }

    /// The primary key.
    pub fn primary(&self) -> &Key {
        // Invariant kept by every constructor and mutation: the primary id names a key.
        self.key(&self.primary)
            .expect("keyset invariant: the primary key exists")
    }

    /// The key with `id`, if any.
    pub fn key(&self, id: &KeyId) -> Option<&Key> {
        self.keys.iter().find(|k| &k.id == id)
    }

    /// A deliberate deep copy, material included.
    pub fn duplicate(&self) -> Self {
        Self {
            primary: self.primary.clone(),
            keys: self.keys.iter().map(Key::duplicate).collect(),
        }
    }

    /// Builds a keyset from fields as a codec decoded them, checking every rule.
    pub(crate) fn from_parts(primary: Option<String>, parts: Vec<KeyParts>) -> Result<Self, Error> {
        if parts.is_empty() {
            return Err(Error::InvalidKeyset(KeysetProblem::Empty));
        }
        let mut keys: Vec<Key> = Vec::with_capacity(parts.len());
        for part in parts {
            let key = part.into_key()?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(Error::InvalidKeyset(KeysetProblem::DuplicateKeyId(key.id)));
            }
            keys.push(key);
        }
        let primary_text = primary.unwrap_or_default();
        let primary =
            keys.iter()
                .find(|k| k.id.as_str() == primary_text)
                .ok_or(Error::InvalidKeyset(KeysetProblem::PrimaryMissing(
                    primary_text,
                )))?;
        if primary.status != KeyStatus::Enabled {
            return Err(Error::InvalidKeyset(KeysetProblem::PrimaryNotEnabled(
                primary.id.clone(),
                primary.status,
            )));
        }
        let primary = primary.id.clone();
        Ok(Self { primary, keys })
    }
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("primary", &self.primary)
            .field("keys", &self.keys)
            .finish()
    }
}

/// A key's fields as a codec read them, before any rule is checked. Enum
/// fields hold wire numbers; the JSON codec maps names to numbers first.
#[derive(Default)]
pub(crate) struct KeyParts {
    pub(crate) key_id: Option<String>,
    pub(crate) type_name: Option<String>,
    pub(crate) value: Option<SecretBytes>,
    pub(crate) key_material_type: Option<i32>,
    pub(crate) origin: Option<i32>,
    pub(crate) status: Option<i32>,
    pub(crate) output_prefix_type: Option<i32>,
    pub(crate) description: Option<String>,
}

impl KeyParts {
    fn into_key(self) -> Result<Key, Error> {
        let id_text = self.key_id.ok_or_else(|| bad_key("", "it has no key_id"))?;
        let id = KeyId::parse(&id_text)?;
        let bad = |detail: String| bad_key(id.as_str(), &detail);
        let type_name = self
            .type_name
            .ok_or_else(|| bad("it has no key_meta_data.type".into()))?;
        let algorithm = Algorithm::parse(&type_name).map_err(|_| {
            bad(format!(
                "type {} is not a known algorithm; valid algorithms are {}",
                printable_name(&type_name),
                Algorithm::names_list()
            ))
        })?;
        let status_n = self.status.ok_or_else(|| bad("it has no status".into()))?;
        let status = KeyStatus::from_wire(status_n).ok_or_else(|| {
            bad(format!(
                "status {status_n} is not ENABLED (1), DISABLED (2) or DESTROYED (3)"
            ))
        })?;
        let origin_n = self
            .origin
            .ok_or_else(|| bad("it has no key_material_origin".into()))?;
        let origin = KeyOrigin::from_wire(origin_n).ok_or_else(|| {
            bad(format!("key_material_origin {origin_n} is not Origin_RAW (1) or Origin_ALIYUN_MAXCOMPUTE (2)"))
        })?;
        match self.key_material_type {
            Some(n) if n == KEY_MATERIAL_SYMMETRIC.0 => {}
            Some(n) => return Err(bad(format!("key_material_type {n} is not SYMMETRIC (1)"))),
            None => return Err(bad("it has no key_material_type".into())),
        }
        match self.output_prefix_type {
            Some(n) if n == OUTPUT_PREFIX_MAXCOMPUTE.0 => {}
            Some(n) => {
                return Err(bad(format!(
                    "output_prefix_type {n} is not PREFIX_ALIYUN_MAXCOMPUTE (2)"
                )));
            }
            None => return Err(bad("it has no output_prefix_type".into())),
        }
        let material = match (status, self.value) {
            (KeyStatus::Destroyed, None) => None,
            (KeyStatus::Destroyed, Some(v)) if v.is_empty() => None,
            (KeyStatus::Destroyed, Some(_)) => {
                return Err(bad("it is DESTROYED but still holds key material".into()));
            }
            (_, None) => return Err(bad(format!("it is {status} but has no key material"))),
            (_, Some(v)) => {
                if v.len() != algorithm.key_len() {
                    return Err(bad(format!(
                        "{algorithm} needs a {}-byte key but the value is {} bytes",
                        algorithm.key_len(),
                        v.len()
                    )));
                }
                Some(v)
            }
        };
        Ok(Key {
            id,
            algorithm,
            material,
            status,
            origin,
            description: self.description,
        })
    }
}

fn bad_key(key_id: &str, detail: &str) -> Error {
    Error::InvalidKeyset(KeysetProblem::BadKey {
        key_id: key_id.to_owned(),
        detail: detail.to_owned(),
    })
}
