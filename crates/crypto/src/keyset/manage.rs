//! Creating and changing keysets: the operations behind `NEW_KEYSET`,
//! `ADD_KEY_TO_KEYSET`, `ROTATE_KEYSET` and key enable / disable / destroy.
//!
//! Each operation either succeeds whole or leaves the keyset unchanged.

use super::{Key, KeyId, KeyOrigin, KeyStatus, Keyset};
use crate::{Algorithm, Error, SecretBytes};

impl Keyset {
    /// A new keyset holding one generated key of `algorithm` (`NEW_KEYSET`).
    pub fn new(algorithm: Algorithm, description: &str) -> Result<Self, Error> {
        let key = generated_key(algorithm, KeyId::generate(), Some(description.to_owned()))?;
        Ok(Self {
            primary: key.id.clone(),
            keys: vec![key],
        })
    }

    /// Adds user-supplied key material, which becomes the primary key
    /// (`ADD_KEY_TO_KEYSET`). Returns the new key's id.
    pub fn add_raw_key(
        &mut self,
        algorithm: Algorithm,
        material: SecretBytes,
        description: &str,
    ) -> Result<KeyId, Error> {
        algorithm.check_key_len(material.len())?;
        let key = Key {
            id: self.fresh_id(),
            algorithm,
            material: Some(material),
            status: KeyStatus::Enabled,
            origin: KeyOrigin::Supplied,
            description: Some(description.to_owned()),
        };
        Ok(self.push_primary(key))
    }

    /// Adds a generated key of `algorithm`, which becomes the primary key
    /// (`ROTATE_KEYSET`). Returns the new key's id. Without a description the
    /// key has none, as with the original service.
    pub fn rotate(
        &mut self,
        algorithm: Algorithm,
        description: Option<&str>,
    ) -> Result<KeyId, Error> {
        let key = generated_key(algorithm, self.fresh_id(), description.map(str::to_owned))?;
        Ok(self.push_primary(key))
    }

    /// Makes an ENABLED key the primary key.
    pub fn set_primary(&mut self, id: &KeyId) -> Result<(), Error> {
        let key = self.find(id)?;
        if key.status != KeyStatus::Enabled {
            return Err(conflict(
                "make primary",
                id,
                format!("it is {}; enable it first", key.status),
            ));
        }
        self.primary = id.clone();
        Ok(())
    }

    /// Enables a DISABLED key (enabling an ENABLED key changes nothing). A
    /// DESTROYED key cannot come back: its material is gone.
    pub fn enable(&mut self, id: &KeyId) -> Result<(), Error> {
        let key = self.find_mut(id)?;
        match key.status {
            KeyStatus::Enabled => Ok(()),
            KeyStatus::Disabled => {
                key.status = KeyStatus::Enabled;
                Ok(())
            }
            KeyStatus::Destroyed => Err(conflict(
                "enable",
                id,
                "it is DESTROYED and its material is gone; add or rotate in a new key instead"
                    .into(),
            )),
        }
    }

    /// Disables a key: it stays in the keyset but neither encrypts nor
    /// decrypts. The primary key cannot be disabled.
    pub fn disable(&mut self, id: &KeyId) -> Result<(), Error> {
        self.refuse_if_primary("disable", id)?;
        let key = self.find_mut(id)?;
        match key.status {
            KeyStatus::Enabled | KeyStatus::Disabled => {
                key.status = KeyStatus::Disabled;
                Ok(())
            }
            KeyStatus::Destroyed => Err(conflict("disable", id, "it is already DESTROYED".into())),
        }
    }

    /// Destroys a key: its material is erased (zeroed in memory, absent from
    /// every serialized form) and data it encrypted can no longer be
    /// decrypted. The entry stays so its id is never reused. The primary key
    /// cannot be destroyed.
    pub fn destroy(&mut self, id: &KeyId) -> Result<(), Error> {
        self.refuse_if_primary("destroy", id)?;
        let key = self.find_mut(id)?;
        key.status = KeyStatus::Destroyed;
        key.material = None; // Dropping the SecretBytes zeroes it.
        Ok(())
    }

    fn push_primary(&mut self, key: Key) -> KeyId {
        let id = key.id.clone();
        self.keys.push(key);
        self.primary = id.clone();
        id
    }

    fn fresh_id(&self) -> KeyId {
        loop {
            let id = KeyId::generate();
            if self.key(&id).is_none() {
                return id;
            }
        }
    }

    fn find(&self, id: &KeyId) -> Result<&Key, Error> {
        self.key(id).ok_or_else(|| Error::KeyNotFound {
            key_id: id.to_string(),
        })
    }

    fn find_mut(&mut self, id: &KeyId) -> Result<&mut Key, Error> {
        self.keys
            .iter_mut()
            .find(|k| &k.id == id)
            .ok_or_else(|| Error::KeyNotFound {
                key_id: id.to_string(),
            })
    }

    fn refuse_if_primary(&self, action: &'static str, id: &KeyId) -> Result<(), Error> {
        self.find(id)?;
        if &self.primary == id {
            return Err(conflict(
                action,
                id,
                "it is the primary key; make another key primary first".into(),
            ));
        }
        Ok(())
    }
}

fn generated_key(
    algorithm: Algorithm,
    id: KeyId,
    description: Option<String>,
) -> Result<Key, Error> {
    Ok(Key {
        id,
        algorithm,
        material: Some(SecretBytes::random(algorithm.key_len())?),
        status: KeyStatus::Enabled,
        origin: KeyOrigin::Generated,
        description,
    })
}

fn conflict(action: &'static str, id: &KeyId, reason: String) -> Error {
    Error::KeyStateConflict {
        action,
        key_id: id.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keyset_has_one_enabled_generated_primary() {
        let ks = Keyset::new(Algorithm::AesGcm256, "my first keyset").expect("new");
        let infos = ks.key_infos();
        assert_eq!(infos.len(), 1);
        let k = &infos[0];
        assert!(k.is_primary);
        assert_eq!(
            (k.algorithm, k.status, k.origin),
            (
                Algorithm::AesGcm256,
                KeyStatus::Enabled,
                KeyOrigin::Generated
            )
        );
        assert_eq!(k.description.as_deref(), Some("my first keyset"));
        assert_eq!(ks.primary().material().map(SecretBytes::len), Some(32));
    }

    #[test]
    fn add_and_rotate_make_the_new_key_primary() {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "d").expect("new");
        let first = ks.primary_key_id().clone();
        let raw = ks
            .add_raw_key(
                Algorithm::AesSivCmac128,
                SecretBytes::from_slice(&[1; 32]),
                "",
            )
            .expect("add");
        assert_eq!(ks.primary_key_id(), &raw);
        assert_eq!(ks.primary().origin(), KeyOrigin::Supplied);
        assert_eq!(ks.primary().description(), Some(""));
        let rotated = ks.rotate(Algorithm::AesSivCmac256, None).expect("rotate");
        assert_eq!(ks.primary_key_id(), &rotated);
        assert_eq!(ks.primary().description(), None);
        assert_eq!(ks.keys().len(), 3);
        assert_eq!(ks.keys()[0].id(), &first);
    }

    #[test]
    fn add_checks_the_key_length() {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "d").expect("new");
        let err = ks
            .add_raw_key(
                Algorithm::AesSivCmac256,
                SecretBytes::from_slice(&[1; 32]),
                "",
            )
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidKeyLength {
                expected: 64,
                actual: 32,
                ..
            }
        ));
        assert_eq!(ks.keys().len(), 1, "a refused add changes nothing");
    }

    #[test]
    fn status_changes_follow_the_rules() {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "d").expect("new");
        let old = ks.primary_key_id().clone();
        let new = ks.rotate(Algorithm::AesGcm256, None).expect("rotate");
        assert!(matches!(
            ks.disable(&new),
            Err(Error::KeyStateConflict { .. })
        ));
        assert!(matches!(
            ks.destroy(&new),
            Err(Error::KeyStateConflict { .. })
        ));
        ks.disable(&old).expect("disable");
        assert!(ks.set_primary(&old).is_err());
        ks.enable(&old).expect("enable");
        ks.set_primary(&old).expect("primary");
        ks.destroy(&new).expect("destroy");
        let destroyed = ks.key(&new).expect("kept");
        assert_eq!(destroyed.status(), KeyStatus::Destroyed);
        assert!(destroyed.material().is_none());
        assert!(ks.enable(&new).is_err());
        let unknown = KeyId::generate();
        assert!(matches!(
            ks.enable(&unknown),
            Err(Error::KeyNotFound { .. })
        ));
    }
}
