//! The wrapped keyset: a keyset in a KMS envelope, as SQL's
//! NEW_WRAPPED_KEYSET returns it and the other wrapped-keyset functions take
//! it (specified in `docs/formats.md`). Here because it is a layout over the
//! KMS's ciphertext blob; the keyset inside is opaque bytes to this module.
//!
//! A BINARY value holding base64 text (RFC 4648 standard alphabet, padded) of
//!
//! ```text
//! key id of the CMK, ASCII (e.g. key-bjj6527b6c6465hsf1234)
//! 0x00
//! the KMS ciphertext blob of the binary keyset (docs/kms.md), made with the
//!   encryption context {"sealhouse:purpose": "wrapped-keyset"}
//! ```
//!
//! The leading key id lets a reader (and an error message) name the CMK
//! without calling the KMS, and is why, as in the spec, the HEX of a wrapped
//! keyset starts `613256354C57...` (`a2V5LW...`, base64 of `key-`). It must
//! equal the key id inside the blob, which the KMS authenticates.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::api::EncryptionContext;
use crate::blob::{BLOB_FORMAT_V1 as BLOB_FORMAT, MAX_KEY_ID_LEN as LONGEST_KEY_ID};

/// The encryption context key every wrapped keyset is made with: a KMS blob
/// made for another purpose (a data key, say) does not unwrap as a keyset.
pub const CONTEXT_KEY: &str = "sealhouse:purpose";
/// Its value.
pub const CONTEXT_VALUE: &str = "wrapped-keyset";

/// The encryption context to wrap and unwrap keysets with.
pub fn context() -> EncryptionContext {
    EncryptionContext::from([(CONTEXT_KEY.to_owned(), CONTEXT_VALUE.to_owned())])
}

/// A wrapped keyset taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Wrapped {
    /// The CMK's key id.
    pub key_id: String,
    /// The KMS ciphertext blob (give it to Decrypt with [`context`]).
    pub blob: Vec<u8>,
}

/// Why bytes are not a wrapped keyset.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Hex text (the HEX of a wrapped keyset) instead of its bytes.
    #[error(
        "the value is hex text, not a wrapped keyset; pass UNHEX('...') of it, as the spec's examples do"
    )]
    HexText,
    /// Anything else that is not a wrapped keyset.
    #[error(
        "the value is not a wrapped keyset (expected the base64 text NEW_WRAPPED_KEYSET returns): {0}"
    )]
    Malformed(&'static str),
}

/// The wrapped keyset of `blob` made with the CMK `key_id`.
pub fn encode(key_id: &str, blob: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(key_id.len() + 1 + blob.len());
    raw.extend_from_slice(key_id.as_bytes());
    raw.push(0);
    raw.extend_from_slice(blob);
    STANDARD.encode(raw).into_bytes()
}

/// Takes a wrapped keyset apart, checking its structure (not its
/// authenticity: that is the KMS's Decrypt).
pub fn decode(bytes: &[u8]) -> Result<Wrapped, FormatError> {
    // Hex digits are base64 characters too, but a wrapped keyset's text
    // never consists of them alone: it starts `a2V5` (base64 of `key-`).
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(FormatError::HexText);
    }
    let raw = STANDARD
        .decode(bytes)
        .map_err(|_| FormatError::Malformed("it is not base64 text"))?;
    let nul = raw
        .iter()
        .position(|&b| b == 0)
        .ok_or(FormatError::Malformed("no CMK key id"))?;
    let (key_id, blob) = (&raw[..nul], &raw[nul + 1..]);
    if key_id.is_empty()
        || key_id.len() > LONGEST_KEY_ID
        || !key_id.iter().all(|b| b.is_ascii_graphic())
    {
        return Err(FormatError::Malformed(
            "the CMK key id is not printable ASCII",
        ));
    }
    // The blob repeats the key id: format byte, length, key id.
    let named = blob
        .get(2..2 + key_id.len())
        .filter(|_| blob[0] == BLOB_FORMAT && usize::from(blob[1]) == key_id.len());
    if named != Some(key_id) {
        return Err(FormatError::Malformed(
            "the KMS blob does not name the same CMK as the wrapped keyset",
        ));
    }
    Ok(Wrapped {
        // Checked to be ASCII above.
        key_id: String::from_utf8_lossy(key_id).into_owned(),
        blob: blob.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(key_id: &str) -> Vec<u8> {
        let mut b = vec![BLOB_FORMAT, key_id.len() as u8];
        b.extend_from_slice(key_id.as_bytes());
        b.extend_from_slice(&[7u8; 44]);
        b
    }

    #[test]
    fn round_trips_and_starts_like_the_spec_shows() {
        let id = "key-bjj6527b6c6465hsf1234";
        let wrapped = encode(id, &blob(id));
        // The spec's `SELECT HEX(NEW_WRAPPED_KEYSET(...))` shows 613256354C574A71616A59314D6...
        assert!(
            hex::encode_upper(&wrapped).starts_with("613256354C574A71616A59314D6"),
            "{}",
            hex::encode_upper(&wrapped)
        );
        assert_eq!(
            decode(&wrapped),
            Ok(Wrapped {
                key_id: id.into(),
                blob: blob(id)
            })
        );
    }

    #[test]
    fn refuses_what_is_not_a_wrapped_keyset_saying_why() {
        let id = "key-a";
        let wrapped = encode(id, &blob(id));
        assert_eq!(
            decode(hex::encode(&wrapped).as_bytes()),
            Err(FormatError::HexText)
        );
        assert!(matches!(decode(b"***"), Err(FormatError::Malformed(_))));
        assert!(matches!(
            decode(STANDARD.encode(b"no separator").as_bytes()),
            Err(FormatError::Malformed(_))
        ));
        // A blob of another key under this key id.
        assert!(matches!(
            decode(&encode(id, &blob("key-b"))),
            Err(FormatError::Malformed(_))
        ));
        assert!(matches!(
            decode(&encode(id, &[])),
            Err(FormatError::Malformed(_))
        ));
        assert!(matches!(decode(b""), Err(FormatError::Malformed(_))));
    }
}
