//! Key ids: the base64 text of 12 bytes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;

use crate::{Error, KeysetProblem};

/// Length of a key id in bytes (its text is 16 base64 characters).
pub(crate) const KEY_ID_BYTES: usize = 12;

/// A key's id within its keyset: base64 (standard alphabet) of 12 bytes, as
/// the original service writes them, e.g. `r8MqZAEA8PDd3QSL`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Parses and checks a key id.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match STANDARD.decode(text) {
            Ok(bytes) if bytes.len() == KEY_ID_BYTES => Ok(Self(text.to_owned())),
            _ => Err(Error::InvalidKeyset(KeysetProblem::BadKeyId(
                text.to_owned(),
            ))),
        }
    }

    /// A fresh random id. Ids are not secret, so the userspace generator
    /// serves; 96 random bits make collisions negligible, and callers still
    /// check for them.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; KEY_ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(STANDARD.encode(bytes))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_ids_parse_and_generated_ids_are_well_formed() {
        for id in ["r8MqZAEA8PDd3QSL", "+q8nZQEAML2VArmB", "Ye0sZQEAAPDrsBLB"] {
            assert_eq!(KeyId::parse(id).expect("valid").as_str(), id);
        }
        let fresh = KeyId::generate();
        assert_eq!(KeyId::parse(fresh.as_str()), Ok(fresh.clone()));
        assert_ne!(fresh, KeyId::generate());
    }

    #[test]
    fn malformed_ids_are_refused() {
        for id in [
            "",
            "short",
            "r8MqZAEA8PDd3QS",
            "r8MqZAEA8PDd3QSL==",
            "r8MqZAEA8PDd3Q!L",
        ] {
            assert!(KeyId::parse(id).is_err(), "{id:?}");
        }
    }
}
