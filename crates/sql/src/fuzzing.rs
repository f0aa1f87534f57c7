//! What the fuzz targets in `fuzz/` run against this crate (cargo-fuzz
//! builds outside the workspace and sees only public items). Each function
//! takes arbitrary bytes, drives one parser and asserts what must hold; the
//! unit tests below run the same checks on fixed inputs. Not an API.
//!
//! Assertions use `assert!(a == b)`, not `assert_eq!`: a failure must not
//! print key material.

use sealhouse_crypto::SecretBytes;

use crate::sealed_keysets::format::{self, FormatError, SealedKind};

/// The fixed data key of the round trips: the parser is what is under
/// test, and no input can know a random key either.
fn data_key() -> SecretBytes {
    SecretBytes::from_slice(&[0x5e; 32])
}

/// Sealed keysets (what an executor reads from a plan's constants). Input:
/// one mode byte, then the rest.
///
/// - even mode: the rest is a sealed keyset. Parsing never panics; what
///   parses opens under the fixed key only if it was sealed under it, so
///   random bytes fail with the one authentication error.
/// - odd mode: the rest is a keyset (or raw key), sealed and read back to the same
///   bytes and fields; with the byte at a position the mode picks flipped,
///   or cut there, it does not open.
pub fn sealed_keyset(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut bytes = format::PREFIX.to_vec();
        bytes.extend_from_slice(rest);
        if let Ok(parsed) = format::parse(&bytes) {
            assert!(parsed.blob.len() <= bytes.len());
            assert!(matches!(
                parsed.open(&data_key()),
                Err(FormatError::Authentication) | Ok(_)
            ));
        }
        return;
    }
    let kind = match (mode / 2) % 3 {
        0 => SealedKind::Keyset,
        1 => SealedKind::Reference,
        _ => SealedKind::RawKey,
    };
    let blob = &rest[..rest.len().min(usize::from(mode))];
    let Ok(sealed) = format::seal(kind, 7, 9, blob, &data_key(), rest) else {
        panic!("sealing a keyset failed");
    };
    let parsed = format::parse(&sealed).unwrap_or_else(|_| panic!("a sealed keyset parses"));
    assert!(parsed.kind == kind && parsed.expires == 7 && parsed.key_expires == 9);
    assert!(parsed.blob == blob);
    let opened = parsed
        .open(&data_key())
        .unwrap_or_else(|_| panic!("a sealed keyset opens"));
    assert!(opened.expose() == rest);
    let at = format::PREFIX.len() + usize::from(mode) * 7 % (sealed.len() - format::PREFIX.len());
    let mut flipped = sealed.clone();
    flipped[at] ^= 0x01;
    assert!(
        format::parse(&flipped)
            .and_then(|p| p.open(&data_key()))
            .is_err()
    );
    assert!(
        format::parse(&sealed[..at])
            .and_then(|p| p.open(&data_key()))
            .is_err()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_checks_hold_on_fixed_inputs() {
        for mode in 0..=255u8 {
            let mut input = vec![mode];
            input.extend_from_slice(b"keyset bytes of some length, and more");
            sealed_keyset(&input);
        }
        sealed_keyset(&[]);
        sealed_keyset(&[1]);
    }
}
