//! AES-SIV-CMAC (RFC 5297), composed from RustCrypto's AES, CMAC, CTR and
//! `dbl`, the same parts and steps as RustCrypto's `aes-siv` (which the
//! tests use as the reference), with the per-key work done once per key:
//!
//! - S2V starts with `CMAC(K1, 0^128)` for every message: computed once.
//! - The column format passes one associated-data component per value,
//!   almost always the same one (empty, or one constant per query): the S2V
//!   state after it, `dbl(CMAC(K1, 0)) xor CMAC(K1, ad)`, is kept for the
//!   last component seen, so a value costs one CMAC over the plaintext and
//!   the CTR pass, not three CMACs.
//! - The CTR key schedule is expanded once and copied per value instead of
//!   expanded per value.
//!
//! Wycheproof's and RFC 5297's vectors run through this type
//! (`wycheproof_tests.rs`), and a property test compares it with `aes-siv`
//! on random keys, headers and messages.

use std::fmt;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::typenum::U16;
use aes::cipher::{
    BlockCipher, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit, KeySizeUser, StreamCipherCore,
};
use aes::{Aes128, Aes256};
use cmac::{Cmac, Mac};
use dbl::Dbl;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{Algorithm, Error, SecretBytes};

type Block = GenericArray<u8, U16>;

/// AES-SIV-CMAC under one key: a 32-byte key (AES-SIV-CMAC-128) or a 64-byte
/// key (AES-SIV-CMAC-256). Output layout: `SIV (16) || ciphertext`.
///
/// The CMAC state and the cached S2V prefix change as values are sealed, so
/// sealing and opening take `&mut self`; [`crate::CipherSession`] keeps one
/// instance per key per thread.
pub struct AesSiv {
    inner: Inner,
}

enum Inner {
    K128(Box<Siv<Aes128>>),
    K256(Box<Siv<Aes256>>),
}

impl AesSiv {
    /// Length of the synthetic IV.
    pub const SIV_LEN: usize = 16;

    /// At most this many associated-data components (RFC 5297's bound).
    const MAX_HEADERS: usize = 126;

    /// Sets up the key schedules; `algorithm` must be one of the AES-SIV ones
    /// and `key` the right length for it.
    pub fn new(algorithm: Algorithm, key: &SecretBytes) -> Result<Self, Error> {
        algorithm.check_key_len(key.len())?;
        let inner = match algorithm {
            Algorithm::AesSivCmac128 => Inner::K128(Box::new(Siv::new(key.expose()))),
            Algorithm::AesSivCmac256 => Inner::K256(Box::new(Siv::new(key.expose()))),
            Algorithm::AesGcm256 => {
                return Err(Error::UnknownAlgorithm {
                    name: format!("'{algorithm}' (not an AES-SIV algorithm)"),
                });
            }
        };
        Ok(Self { inner })
    }

    /// Encrypts `plaintext` with the associated-data components `headers`
    /// (S2V's vector; at most 126) and appends `SIV || ciphertext` to `out`.
    pub fn seal_append(&mut self, headers: &[&[u8]], plaintext: &[u8], out: &mut Vec<u8>) {
        assert!(
            headers.len() <= Self::MAX_HEADERS,
            "at most 126 S2V headers"
        );
        out.reserve(Self::SIV_LEN + plaintext.len());
        let siv = match &mut self.inner {
            Inner::K128(s) => s.s2v(headers, plaintext),
            Inner::K256(s) => s.s2v(headers, plaintext),
        };
        out.extend_from_slice(&siv);
        let body_at = out.len();
        out.extend_from_slice(plaintext);
        match &self.inner {
            Inner::K128(s) => s.ctr(&siv, &mut out[body_at..]),
            Inner::K256(s) => s.ctr(&siv, &mut out[body_at..]),
        }
    }

    /// Decrypts `SIV || ciphertext` and appends the plaintext to `out`. On
    /// failure `out` is left as it was.
    pub fn open_append(
        &mut self,
        headers: &[&[u8]],
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if sealed.len() < Self::SIV_LEN || headers.len() > Self::MAX_HEADERS {
            return Err(Error::DecryptionFailed);
        }
        let (siv, ciphertext) = sealed.split_at(Self::SIV_LEN);
        let siv = Block::clone_from_slice(siv);
        let start = out.len();
        out.extend_from_slice(ciphertext);
        let expected = match &mut self.inner {
            Inner::K128(s) => {
                s.ctr(&siv, &mut out[start..]);
                s.s2v(headers, &out[start..])
            }
            Inner::K256(s) => {
                s.ctr(&siv, &mut out[start..]);
                s.s2v(headers, &out[start..])
            }
        };
        if !bool::from(expected.as_slice().ct_eq(siv.as_slice())) {
            out[start..].zeroize();
            out.truncate(start);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }
}

impl fmt::Debug for AesSiv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.inner {
            Inner::K128(_) => 128,
            Inner::K256(_) => 256,
        };
        write!(f, "AesSiv {{ aes_bits: {bits}, key: <redacted> }}")
    }
}

/// SIV over the block cipher `C` (AES-128 or AES-256): `K1` keys CMAC,
/// `K2` keys CTR.
struct Siv<C>
where
    C: BlockCipher<BlockSize = U16> + BlockEncrypt + BlockEncryptMut + KeyInit + Clone,
{
    mac: Cmac<C>,
    /// `C` under `K2`, expanded once.
    ctr: C,
    /// `CMAC(K1, 0^128)`, the start of every S2V.
    zero_mac: Block,
    /// The last single associated-data component seen, and the S2V state
    /// after it (`dbl(zero_mac) xor CMAC(K1, ad)`).
    after_ad: Option<(Vec<u8>, Block)>,
}

impl<C> Siv<C>
where
    C: BlockCipher<BlockSize = U16> + BlockEncrypt + BlockEncryptMut + KeyInit + Clone,
{
    /// `key` is `K1 || K2`, each half the length (checked by the caller).
    fn new(key: &[u8]) -> Self {
        let (k1, k2) = key.split_at(key.len() / 2);
        let mut mac =
            <Cmac<C> as KeyInit>::new_from_slice(k1).expect("K1 has the cipher's key length");
        Mac::update(&mut mac, &Block::default());
        let zero_mac = mac.finalize_reset().into_bytes();
        let ctr = <C as KeyInit>::new_from_slice(k2).expect("K2 has the cipher's key length");
        debug_assert_eq!(k2.len(), <C as KeySizeUser>::key_size());
        Self {
            mac,
            ctr,
            zero_mac,
            after_ad: None,
        }
    }

    /// CMAC(K1, `data`).
    fn cmac(&mut self, data: &[u8]) -> Block {
        Mac::update(&mut self.mac, data);
        self.mac.finalize_reset().into_bytes()
    }

    /// RFC 5297's S2V of `headers` then `message`.
    fn s2v(&mut self, headers: &[&[u8]], message: &[u8]) -> Block {
        let mut state = match headers {
            [ad] => match &self.after_ad {
                Some((seen, state)) if seen.as_slice() == *ad => *state,
                _ => {
                    let state = xor(self.zero_mac.dbl(), &self.cmac(ad));
                    // A per-row AAD changes every call: reuse the buffer.
                    let (seen, kept) = self.after_ad.get_or_insert_with(Default::default);
                    seen.clear();
                    seen.extend_from_slice(ad);
                    *kept = state;
                    state
                }
            },
            _ => {
                let mut state = self.zero_mac;
                for header in headers {
                    state = xor(state.dbl(), &self.cmac(header));
                }
                state
            }
        };
        if message.len() >= 16 {
            let (head, last) = message.split_at(message.len() - 16);
            Mac::update(&mut self.mac, head);
            state = xor(state, last);
        } else {
            state = state.dbl();
            for (s, m) in state.iter_mut().zip(message) {
                *s ^= m;
            }
            state[message.len()] ^= 0x80;
        }
        Mac::update(&mut self.mac, &state);
        self.mac.finalize_reset().into_bytes()
    }

    /// XORs `buf` with AES-CTR under `K2` from the SIV (its bits 63 and 31
    /// cleared, as RFC 5297 says).
    fn ctr(&self, siv: &Block, buf: &mut [u8]) {
        let mut iv = *siv;
        iv[8] &= 0x7f;
        iv[12] &= 0x7f;
        ctr::CtrCore::<C, ctr::flavors::Ctr128BE>::inner_iv_init(self.ctr.clone(), &iv)
            .apply_keystream_partial(buf.into());
    }
}

impl<C> Drop for Siv<C>
where
    C: BlockCipher<BlockSize = U16> + BlockEncrypt + BlockEncryptMut + KeyInit + Clone,
{
    fn drop(&mut self) {
        // The CMAC and AES states zero themselves (their zeroize features);
        // these are derived from K1.
        self.zero_mac.zeroize();
        if let Some((_, state)) = &mut self.after_ad {
            state.zeroize();
        }
    }
}

fn xor(mut a: Block, b: &[u8]) -> Block {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_siv::siv::{Aes128Siv, Aes256Siv};
    use proptest::prelude::*;

    #[test]
    fn deterministic_round_trip() {
        let key = SecretBytes::from_slice(&[3; 64]);
        let mut siv = AesSiv::new(Algorithm::AesSivCmac256, &key).expect("64-byte key");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        siv.seal_append(&[b"ad"], b"value", &mut a);
        siv.seal_append(&[b"ad"], b"value", &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16 + 5);
        let mut plain = Vec::new();
        siv.open_append(&[b"ad"], &a, &mut plain).expect("opens");
        assert_eq!(plain, b"value");
        assert!(siv.open_append(&[b"other"], &a, &mut plain).is_err());
        assert_eq!(plain, b"value", "a failed open leaves the output as it was");
    }

    /// RustCrypto's `aes-siv`, the reference.
    fn reference(algorithm: Algorithm, key: &[u8], headers: &[&[u8]], message: &[u8]) -> Vec<u8> {
        use aes_siv::KeyInit as _;
        match algorithm {
            Algorithm::AesSivCmac128 => {
                Aes128Siv::new(GenericArray::from_slice(key)).encrypt(headers, message)
            }
            _ => Aes256Siv::new(GenericArray::from_slice(key)).encrypt(headers, message),
        }
        .expect("reference encrypts")
    }

    proptest! {
        /// Sealing agrees with `aes-siv` for any key, headers and message,
        /// including the cached associated-data path used twice in a row
        /// and then with another component.
        #[test]
        fn agrees_with_aes_siv(
            wide in any::<bool>(),
            key in proptest::collection::vec(any::<u8>(), 64),
            headers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4),
            other_ad in proptest::collection::vec(any::<u8>(), 0..20),
            message in proptest::collection::vec(any::<u8>(), 0..70),
        ) {
            let (algorithm, key) = if wide {
                (Algorithm::AesSivCmac256, &key[..])
            } else {
                (Algorithm::AesSivCmac128, &key[..32])
            };
            let mut siv = AesSiv::new(algorithm, &SecretBytes::from_slice(key)).expect("key");
            let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            for round in [&headers[..], &headers[..], &[other_ad.as_slice()][..], &headers[..]] {
                let mut sealed = Vec::new();
                siv.seal_append(round, &message, &mut sealed);
                prop_assert_eq!(&sealed, &reference(algorithm, key, round, &message));
                let mut opened = vec![7];
                siv.open_append(round, &sealed, &mut opened).expect("opens");
                prop_assert_eq!(&opened[1..], &message[..]);
                let mut tampered = sealed.clone();
                let last = tampered.len() - 1;
                tampered[last] ^= 1;
                prop_assert!(siv.open_append(round, &tampered, &mut opened).is_err());
                prop_assert_eq!(opened.len(), 1 + message.len());
            }
        }
    }
}
