//! Identifiers the KMS makes and checks: key ids, version ids, request ids,
//! import tokens.
//!
//! Key ids look like the cloud's (`key-` and 21 lower-case letters and digits,
//! as in `key-bjj6527b6c6465hsf1234`), drawn from the operating system's
//! generator: 21 base-36 characters are about 108 bits, so ids never collide
//! and cannot be guessed. Version ids and request ids are random UUIDs, as the
//! cloud's are.

use base64::Engine;
use uuid::Uuid;

use crate::error::{KmsError, printable};

/// The prefix of key ids.
const KEY_ID_PREFIX: &str = "key-";
/// Random characters after the prefix.
const KEY_ID_RANDOM_CHARS: usize = 21;

/// A new key id.
pub(crate) fn new_key_id() -> Result<String, KmsError> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(KEY_ID_PREFIX.len() + KEY_ID_RANDOM_CHARS);
    id.push_str(KEY_ID_PREFIX);
    let mut pool = [0u8; 32];
    while id.len() < KEY_ID_PREFIX.len() + KEY_ID_RANDOM_CHARS {
        getrandom::fill(&mut pool).map_err(|_| random_failed())?;
        for &b in &pool {
            // 252 = 7 × 36: higher bytes would bias the first characters.
            if b < 252 && id.len() < KEY_ID_PREFIX.len() + KEY_ID_RANDOM_CHARS {
                id.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    Ok(id)
}

/// A new request id.
pub(crate) fn new_request_id() -> String {
    Uuid::new_v4().to_string()
}

/// A new key version id.
pub(crate) fn new_version_id() -> Uuid {
    Uuid::new_v4()
}

/// A new import token: 24 random bytes, URL-safe base64 (32 characters).
pub(crate) fn new_import_token() -> Result<String, KmsError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|_| random_failed())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks that `id` can be a key id: 1 to 64 letters, digits, `-` or `_`.
pub(crate) fn check_key_id(id: &str) -> Result<(), KmsError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(KmsError::invalid(format!(
            "KeyId {} is not a key id, key ARN, alias name (alias/...) or alias ARN",
            printable(id)
        )))
    }
}

pub(crate) fn random_failed() -> KmsError {
    KmsError::internal("the system random number generator failed; nothing was created")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_look_like_the_clouds_and_differ() {
        let a = new_key_id().unwrap();
        assert_eq!(a.len(), 25);
        assert!(a.starts_with("key-"));
        assert!(
            a[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(a, new_key_id().unwrap());
        check_key_id(&a).unwrap();
        assert!(check_key_id("key abc").is_err());
        assert!(check_key_id("").is_err());
    }

    #[test]
    fn tokens_and_request_ids_are_random() {
        let t = new_import_token().unwrap();
        assert_eq!(t.len(), 32);
        assert_ne!(t, new_import_token().unwrap());
        assert_ne!(new_request_id(), new_request_id());
    }
}
