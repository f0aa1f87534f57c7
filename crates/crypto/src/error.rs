//! The crate's one error type.
//!
//! Variants keep apart what the caller asked for wrongly (an unknown algorithm,
//! a key of the wrong length), input from outside that does not parse (keyset
//! bytes or JSON, a truncated ciphertext), and the one opaque decryption
//! failure. No variant ever carries key material: messages name key ids,
//! algorithms and lengths only.

use std::fmt;

use crate::{Algorithm, KeyId, KeyStatus};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An algorithm name that is not one of [`Algorithm::ALL`].
    #[error(
        "unknown key algorithm {name}; valid algorithms are {}",
        Algorithm::names_list()
    )]
    UnknownAlgorithm {
        /// What the caller passed, shortened and made printable (see [`printable_name`]).
        name: String,
    },

    /// Key material whose length does not fit the algorithm.
    #[error(
        "{algorithm} takes a {expected}-byte key, but the key supplied is {actual} bytes; \
         pass exactly {expected} raw bytes (for example UNHEX of {} hex digits)",
        expected * 2
    )]
    InvalidKeyLength {
        /// The algorithm the key was for.
        algorithm: Algorithm,
        /// The length the algorithm needs.
        expected: usize,
        /// The length supplied.
        actual: usize,
    },

    /// Keyset bytes or JSON that do not parse.
    #[error("malformed keyset {format}: {detail}")]
    MalformedKeyset {
        /// "bytes" or "JSON".
        format: &'static str,
        /// What the parser found wrong (never contains key material).
        detail: String,
    },

    /// A keyset that parses but breaks a rule a keyset must keep.
    #[error("invalid keyset: {0}")]
    InvalidKeyset(KeysetProblem),

    /// An operation named a key id the keyset does not hold.
    #[error("the keyset has no key with id {key_id}; list the keys to see their ids")]
    KeyNotFound {
        /// The id asked for.
        key_id: String,
    },

    /// An operation that the key's status or role does not allow.
    #[error("cannot {action} key {key_id}: {reason}")]
    KeyStateConflict {
        /// What was attempted ("disable", "destroy", ...).
        action: &'static str,
        /// The key concerned.
        key_id: KeyId,
        /// Why it is refused and what to do instead.
        reason: String,
    },

    /// A ciphertext shorter than any valid one.
    #[error(
        "ciphertext is {actual} bytes, shorter than the {minimum} bytes of the shortest valid \
         ciphertext; it was truncated or is not a ciphertext"
    )]
    TruncatedCiphertext {
        /// Its length.
        actual: usize,
        /// The shortest valid length.
        minimum: usize,
    },

    /// A key of the wrong length given to a single-key function.
    #[error("{function} takes a {expected}-byte key, but the key supplied is {actual} bytes")]
    InvalidRawKeyLength {
        /// The function called.
        function: &'static str,
        /// The length needed.
        expected: usize,
        /// The length supplied.
        actual: usize,
    },

    /// Decryption failed. Deliberately says nothing more: which key was tried,
    /// whether a key was disabled, or which check failed would be an oracle.
    #[error(
        "decryption failed: the ciphertext was not made by an enabled key of this keyset with \
         this AAD, or it was modified"
    )]
    DecryptionFailed,

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed; no key was generated")]
    RandomUnavailable,
}

/// A rule of keysets that a given keyset breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysetProblem {
    /// No keys at all.
    Empty,
    /// Two keys share an id.
    DuplicateKeyId(KeyId),
    /// The primary key id names no key.
    PrimaryMissing(String),
    /// The primary key is not ENABLED.
    PrimaryNotEnabled(KeyId, KeyStatus),
    /// A key id that is not base64 of 12 bytes.
    BadKeyId(String),
    /// A key whose fields do not fit together.
    BadKey {
        /// The key.
        key_id: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl fmt::Display for KeysetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it holds no keys; a keyset needs at least one"),
            Self::DuplicateKeyId(id) => {
                write!(f, "two keys have the id {id}; key ids must be unique")
            }
            Self::PrimaryMissing(id) if id.is_empty() => {
                f.write_str("it names no primary key; set primary_key_id to one of its keys")
            }
            Self::PrimaryMissing(id) => {
                write!(
                    f,
                    "primary_key_id {} names no key of the keyset",
                    printable_name(id)
                )
            }
            Self::PrimaryNotEnabled(id, status) => write!(
                f,
                "its primary key {id} is {status}; the primary must be ENABLED \
                 (make another key primary first)"
            ),
            Self::BadKeyId(id) => write!(
                f,
                "key id {} is not the base64 text of 12 bytes (16 characters)",
                printable_name(id)
            ),
            Self::BadKey { key_id, detail } => {
                write!(f, "key {}: {detail}", printable_name(key_id))
            }
        }
    }
}

/// Renders a caller-supplied name for an error message ([`crate::printable()`]:
/// algorithm names and key ids are short). A misplaced argument (key bytes
/// passed where an algorithm name belongs) must not end up in a message or log.
pub(crate) fn printable_name(name: &str) -> String {
    crate::printable(name, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_name_hides_binary_and_long_values() {
        assert_eq!(printable_name("AES-GCM-128"), "'AES-GCM-128'");
        assert_eq!(
            printable_name("\u{1}\u{2}"),
            "(a value of 2 bytes, not shown)"
        );
        assert!(!printable_name(&"k".repeat(64)).contains("kkk"));
    }

    #[test]
    fn unknown_algorithm_lists_the_valid_names() {
        let msg = Error::UnknownAlgorithm {
            name: "'AES-CBC'".into(),
        }
        .to_string();
        for alg in Algorithm::ALL {
            assert!(msg.contains(alg.name()), "{msg}");
        }
    }
}
