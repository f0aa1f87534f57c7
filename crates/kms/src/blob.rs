//! Ciphertext blobs: what Encrypt, GenerateDataKey and ReEncrypt return.
//!
//! Self-describing, so Decrypt needs no key id (specified in `docs/kms.md`):
//!
//! ```text
//! offset   length  field
//! 0        1       format: 0x01
//! 1        1       L, length of the key id (1..=64)
//! 2        L       key id, ASCII
//! 2+L      16      key version id (the UUID's 16 bytes)
//! 18+L     12      IV (random)
//! 30+L     n       AES-256-GCM ciphertext of the plaintext (n = its length)
//! 30+L+n   16      GCM tag
//! ```
//!
//! The associated data is the header (bytes `0 .. 18+L`) followed by the
//! canonical encryption context: a JSON object with its keys in byte order,
//! no whitespace, strings escaped as serde_json does (`{"a":"1","b":"2"}`; an
//! empty context is `{}`). So a blob cannot be moved to another key id or
//! version, and decrypts only with the context it was made with. Every
//! failure past parsing the header — wrong context, a flipped bit, a
//! truncated blob — is the one opaque `InvalidCiphertext`.

use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use uuid::Uuid;

use crate::api::EncryptionContext;
use crate::error::KmsError;

/// The format byte of version 1 blobs.
pub const BLOB_FORMAT_V1: u8 = 0x01;
/// The longest key id a blob may name.
pub(crate) const MAX_KEY_ID_LEN: usize = 64;
/// The largest canonical encryption context accepted, in bytes.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// The key and version a blob names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobHeader {
    pub(crate) key_id: String,
    pub(crate) version_id: Uuid,
    /// Length of the header, which is also associated data.
    pub(crate) len: usize,
}

/// The canonical form of an encryption context (see the module docs).
pub(crate) fn canonical_context(context: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    // Invariant: a map of strings to strings always serialises.
    let json = serde_json::to_vec(context).expect("a string map serialises to JSON");
    if json.len() > MAX_CONTEXT_BYTES {
        return Err(KmsError::invalid(format!(
            "EncryptionContext is {} bytes as JSON; the limit is {MAX_CONTEXT_BYTES}",
            json.len()
        )));
    }
    Ok(json)
}

/// Encrypts `plaintext` into a blob naming `key_id` and `version_id`.
pub(crate) fn seal(
    cipher: &AesGcm256,
    key_id: &str,
    version_id: Uuid,
    canonical_context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let id_len = u8::try_from(key_id.len())
        .ok()
        .filter(|n| (1..=MAX_KEY_ID_LEN).contains(&usize::from(*n)) && key_id.is_ascii())
        .ok_or_else(|| KmsError::internal("a stored key id does not fit the blob format"))?;
    let mut blob =
        Vec::with_capacity(2 + key_id.len() + 16 + plaintext.len() + AesGcm256::OVERHEAD);
    blob.push(BLOB_FORMAT_V1);
    blob.push(id_len);
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(version_id.as_bytes());
    let mut aad = Vec::with_capacity(blob.len() + canonical_context.len());
    aad.extend_from_slice(&blob);
    aad.extend_from_slice(canonical_context);
    cipher.seal_append(&aad, plaintext, &mut blob);
    Ok(blob)
}

/// Reads the header of `blob`. Anything that is not a well-formed header is
/// the opaque `InvalidCiphertext`.
pub(crate) fn parse_header(blob: &[u8]) -> Result<BlobHeader, KmsError> {
    let bad = KmsError::invalid_ciphertext;
    let [format, id_len, rest @ ..] = blob else {
        return Err(bad());
    };
    if *format != BLOB_FORMAT_V1 {
        return Err(bad());
    }
    let id_len = usize::from(*id_len);
    if !(1..=MAX_KEY_ID_LEN).contains(&id_len) || rest.len() < id_len + 16 + AesGcm256::OVERHEAD {
        return Err(bad());
    }
    let (id, rest) = rest.split_at(id_len);
    let id_ok = id
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if !id_ok {
        return Err(bad());
    }
    let version: [u8; 16] = rest[..16].try_into().map_err(|_| bad())?;
    Ok(BlobHeader {
        key_id: String::from_utf8(id.to_vec()).map_err(|_| bad())?,
        version_id: Uuid::from_bytes(version),
        len: 2 + id_len + 16,
    })
}

/// Decrypts a blob whose header was read by [`parse_header`].
pub(crate) fn open(
    cipher: &AesGcm256,
    blob: &[u8],
    header: &BlobHeader,
    canonical_context: &[u8],
) -> Result<SecretBytes, KmsError> {
    let (head, sealed) = blob.split_at(header.len);
    let mut aad = Vec::with_capacity(head.len() + canonical_context.len());
    aad.extend_from_slice(head);
    aad.extend_from_slice(canonical_context);
    let mut plain = Vec::with_capacity(sealed.len());
    cipher
        .open_append(&aad, sealed, &mut plain)
        .map_err(|_| KmsError::invalid_ciphertext())?;
    Ok(SecretBytes::new(plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn cipher() -> AesGcm256 {
        AesGcm256::new(&SecretBytes::from_slice(&[4; 32])).unwrap()
    }

    fn ctx(pairs: &[(&str, &str)]) -> Vec<u8> {
        let map: EncryptionContext = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        canonical_context(&map).unwrap()
    }

    #[test]
    fn layout_round_trip_and_header() {
        let v = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let blob = seal(&cipher(), "key-abc", v, &ctx(&[]), b"hello").unwrap();
        assert_eq!(blob.len(), 2 + 7 + 16 + 12 + 5 + 16);
        assert_eq!(&blob[..9], b"\x01\x07key-abc");
        assert_eq!(&blob[9..25], v.as_bytes());
        let header = parse_header(&blob).unwrap();
        assert_eq!(header.key_id, "key-abc");
        assert_eq!(header.version_id, v);
        let plain = open(&cipher(), &blob, &header, &ctx(&[])).unwrap();
        assert_eq!(plain.expose(), b"hello");
    }

    #[test]
    fn context_is_canonical_and_bound() {
        assert_eq!(ctx(&[("b", "2"), ("a", "1")]), br#"{"a":"1","b":"2"}"#);
        assert_eq!(ctx(&[]), b"{}");
        let v = Uuid::new_v4();
        let blob = seal(&cipher(), "k", v, &ctx(&[("a", "1")]), b"x").unwrap();
        let header = parse_header(&blob).unwrap();
        for wrong in [ctx(&[]), ctx(&[("a", "2")]), ctx(&[("a", "1"), ("b", "")])] {
            let err = open(&cipher(), &blob, &header, &wrong).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidCiphertext);
        }
    }

    #[test]
    fn every_flipped_bit_and_truncation_is_the_one_opaque_error() {
        let blob = seal(&cipher(), "key-abc", Uuid::new_v4(), b"{}", b"data").unwrap();
        let expected = KmsError::invalid_ciphertext();
        for i in 0..blob.len() * 8 {
            let mut bad = blob.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let result = parse_header(&bad).and_then(|h| open(&cipher(), &bad, &h, b"{}"));
            match result {
                Err(e) => assert_eq!(e, expected, "bit {i}"),
                Ok(_) => panic!("bit {i} flipped and the blob still opened"),
            }
        }
        for len in 0..blob.len() {
            let result =
                parse_header(&blob[..len]).and_then(|h| open(&cipher(), &blob[..len], &h, b"{}"));
            assert_eq!(result.unwrap_err(), expected, "length {len}");
        }
    }

    #[test]
    fn oversized_contexts_are_refused() {
        let big: EncryptionContext = [("k".to_owned(), "v".repeat(MAX_CONTEXT_BYTES))].into();
        let err = canonical_context(&big).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameter);
    }
}
