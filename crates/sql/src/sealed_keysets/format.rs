//! The sealed keyset: how a keyset constant of a query travels to a
//! cluster's executors. The keyset is sealed with AES-256-GCM under a data
//! key the KMS made under the warehouse's cluster-keyset CMK; the data key
//! travels wrapped (the KMS's ciphertext blob), so nothing in the plan opens
//! without a KMS Decrypt.
//!
//! ```text
//! PREFIX | kind u8 | expires i64 BE | key_expires i64 BE
//!        | blob_len u16 BE | blob | IV(12) ciphertext tag(16)
//! ```
//!
//! Everything before the IV is the associated data, so a changed kind,
//! expiry or blob fails to open. `expires` is when this seal stops opening
//! (the statement's lifetime); `key_expires` is named in the data key's
//! encryption context, so the KMS itself binds the data key to it.

use sealhouse_crypto::{SecretBytes, sym};

/// How every sealed keyset starts.
pub(crate) const PREFIX: &[u8] = b"sealhouse:sealed-keyset:v1:";

/// What a sealed keyset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealedKind {
    /// A keyset the query named itself (a literal, a variable): the
    /// functions may show it, as they would here.
    Keyset,
    /// The keyset behind a `USE_WRAPPED_KEYSET` reference: the functions
    /// use it but never show its key material.
    Reference,
    /// A raw key (`SYM_ENCRYPT` / `SYM_DECRYPT`'s `key`), not a keyset.
    RawKey,
    /// A table scan's block-tag keys (the storage crate's `GivenTagKeys`):
    /// no function takes them.
    TagKeys,
}

/// Why sealed bytes do not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormatError {
    #[error("the sealed keyset is malformed ({0})")]
    Malformed(&'static str),
    #[error("the sealed keyset does not authenticate: it was changed, or sealed under another key")]
    Authentication,
}

/// A parsed sealed keyset, still sealed.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) kind: SealedKind,
    /// Unix seconds after which it no longer opens.
    pub(crate) expires: i64,
    /// Unix seconds named in the data key's encryption context.
    pub(crate) key_expires: i64,
    /// The data key, wrapped by the KMS.
    pub(crate) blob: &'a [u8],
    aad: &'a [u8],
    sealed: &'a [u8],
}

/// Whether `bytes` are a sealed keyset (well formed or not).
pub(crate) fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(PREFIX)
}

/// Seals `keyset` under `data_key` (whose KMS ciphertext is `blob`).
pub(crate) fn seal(
    kind: SealedKind,
    expires: i64,
    key_expires: i64,
    blob: &[u8],
    data_key: &SecretBytes,
    keyset: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let blob_len = u16::try_from(blob.len())
        .map_err(|_| FormatError::Malformed("a data key blob over 64 KiB"))?;
    let mut out = Vec::with_capacity(PREFIX.len() + 19 + blob.len() + keyset.len() + 28);
    out.extend_from_slice(PREFIX);
    out.push(match kind {
        SealedKind::Keyset => 0,
        SealedKind::Reference => 1,
        SealedKind::RawKey => 2,
        SealedKind::TagKeys => 3,
    });
    out.extend_from_slice(&expires.to_be_bytes());
    out.extend_from_slice(&key_expires.to_be_bytes());
    out.extend_from_slice(&blob_len.to_be_bytes());
    out.extend_from_slice(blob);
    let sealed = sym::encrypt(data_key.expose(), keyset, &out)
        .map_err(|_| FormatError::Malformed("a data key that is not 32 bytes"))?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Reads the parts of `bytes` without opening them.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, FormatError> {
    let rest = bytes
        .strip_prefix(PREFIX)
        .ok_or(FormatError::Malformed("no sealed-keyset prefix"))?;
    let (&kind, rest) = rest
        .split_first()
        .ok_or(FormatError::Malformed("no kind"))?;
    let kind = match kind {
        0 => SealedKind::Keyset,
        1 => SealedKind::Reference,
        2 => SealedKind::RawKey,
        3 => SealedKind::TagKeys,
        _ => return Err(FormatError::Malformed("unknown kind")),
    };
    let (expires, rest) = take_i64(rest)?;
    let (key_expires, rest) = take_i64(rest)?;
    let (len, rest) = rest
        .split_first_chunk::<2>()
        .ok_or(FormatError::Malformed("no blob length"))?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return Err(FormatError::Malformed("cut short"));
    }
    let (blob, sealed) = rest.split_at(len);
    let aad = &bytes[..bytes.len() - sealed.len()];
    Ok(Parsed {
        kind,
        expires,
        key_expires,
        blob,
        aad,
        sealed,
    })
}

fn take_i64(bytes: &[u8]) -> Result<(i64, &[u8]), FormatError> {
    let (value, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(FormatError::Malformed("cut short"))?;
    Ok((i64::from_be_bytes(*value), rest))
}

impl Parsed<'_> {
    /// The keyset, opened with the unwrapped data key.
    pub(crate) fn open(&self, data_key: &SecretBytes) -> Result<SecretBytes, FormatError> {
        sym::decrypt(data_key.expose(), self.sealed, self.aad)
            .map(SecretBytes::new)
            .map_err(|_| FormatError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretBytes {
        SecretBytes::from_slice(&[7u8; 32])
    }

    #[test]
    fn a_sealed_keyset_opens_with_its_data_key_only() {
        let sealed = seal(
            SealedKind::Reference,
            100,
            200,
            b"blob",
            &key(),
            b"material",
        )
        .expect("seal");
        assert!(is_sealed(&sealed));
        let parsed = parse(&sealed).expect("parse");
        assert_eq!(
            (parsed.kind, parsed.expires, parsed.key_expires, parsed.blob),
            (SealedKind::Reference, 100, 200, &b"blob"[..])
        );
        assert_eq!(parsed.open(&key()).expect("open").expose(), b"material");
        let other = SecretBytes::from_slice(&[8u8; 32]);
        assert_eq!(
            parsed.open(&other).unwrap_err(),
            FormatError::Authentication
        );
        assert!(
            !sealed.windows(8).any(|w| w == b"material"),
            "the keyset is not in the clear"
        );
    }

    #[test]
    fn every_changed_byte_or_cut_fails() {
        let sealed = seal(SealedKind::Keyset, 100, 200, b"blob", &key(), b"keyset").expect("seal");
        for i in PREFIX.len()..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            let opened = parse(&changed).and_then(|p| p.open(&key()).map(|_| p.kind));
            assert!(opened.is_err(), "byte {i} changed and it still opened");
        }
        for len in 0..sealed.len() {
            let opened = parse(&sealed[..len]).and_then(|p| p.open(&key()).map(|_| ()));
            assert!(opened.is_err(), "cut to {len} and it still opened");
        }
    }
}
