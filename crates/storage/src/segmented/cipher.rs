//! The two segment ciphers and their keystreams.
//!
//! Both are stream ciphers: a segment's ciphertext is its plaintext XORed
//! with a keystream that depends on the encryption key and the segment's
//! index, so any segment can be decrypted on its own. Neither authenticates
//! anything: the per-segment HMAC ([`super::keys`]) does.
//!
//! - **AESCTR**: AES-256 in counter mode. Segment `i` starts at the 128-bit
//!   big-endian counter block `i (u64 BE) || 0 (u64)` and counts up through
//!   the whole 128 bits, so segment `i` uses blocks `i·2^64` to
//!   `i·2^64 + 2^20 − 1` at most (16 MiB segments) and no two segments, nor
//!   two files (each has its own key), share a block.
//! - **RC4**: **insecure** (biased keystream, RFC 7465 prohibits it in TLS).
//!   It exists only for compatibility with the RC4 storage setting of the
//!   service we mirror; never the default. Segment `i` gets its own 16-byte
//!   key, `HMAC-SHA256(enc_key, "rc4" || i (u64 BE))[..16]`, and the first
//!   3072 keystream bytes are thrown away (RC4-drop[3072]) to skip the worst
//!   of the early-byte biases. Confidentiality under RC4 is weak; integrity
//!   is as strong as under AESCTR because the HMAC does not depend on RC4.

use std::fmt;
use std::str::FromStr;

use aes::Aes256;
use ctr::cipher::generic_array::{ArrayLength, GenericArray};
use ctr::cipher::{InnerIvInit, KeyInit, StreamCipher};
use ring::hmac;
use zeroize::Zeroizing;

use super::SegmentedError;

/// The cipher that encrypts a segmented file's segments.
///
/// The names are the project storage-encryption algorithm names that select
/// segmented files; `AES256` (Parquet modular encryption) is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentCipher {
    /// AES-256-CTR: the one to use.
    AesCtr,
    /// RC4-drop[3072]: **insecure**, accepted only for compatibility with
    /// projects configured for RC4. Tampering is still detected (HMAC).
    Rc4,
}

impl SegmentCipher {
    /// The id stored in the header: 1 for AESCTR, 2 for RC4.
    pub fn id(self) -> u8 {
        match self {
            Self::AesCtr => 1,
            Self::Rc4 => 2,
        }
    }

    /// The cipher stored under `id` in a header.
    pub fn from_id(id: u8) -> Result<Self, SegmentedError> {
        match id {
            1 => Ok(Self::AesCtr),
            2 => Ok(Self::Rc4),
            other => Err(SegmentedError::UnknownCipherId(other)),
        }
    }

    /// `AESCTR` or `RC4`, the storage-encryption algorithm names.
    pub fn name(self) -> &'static str {
        match self {
            Self::AesCtr => "AESCTR",
            Self::Rc4 => "RC4",
        }
    }
}

impl fmt::Display for SegmentCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SegmentCipher {
    type Err = SegmentedError;

    /// `AESCTR` or `RC4`, in any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::AesCtr, Self::Rc4]
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SegmentedError::UnknownCipherName(s.to_owned()))
    }
}

/// Keystream bytes RC4 throws away before use (RC4-drop[3072]).
pub(crate) const RC4_DROP: usize = 3072;

/// A keyed segment cipher, set up once per file.
///
/// No `Debug` derive: it holds the encryption key. `Aes256` zeroizes its key
/// schedule on drop (the `zeroize` feature of `aes`); ring's HMAC key state
/// cannot be wiped, which the whole project accepts for ring keys.
pub(crate) enum Keystream {
    /// The expanded AES-256 key (boxed: 960 bytes).
    AesCtr(Box<Aes256>),
    /// The key the per-segment RC4 keys are derived with.
    Rc4(hmac::Key),
}

impl Keystream {
    /// Sets `cipher` up under the 32-byte encryption key.
    pub(crate) fn new(cipher: SegmentCipher, enc_key: &[u8; 32]) -> Self {
        match cipher {
            SegmentCipher::AesCtr => {
                Self::AesCtr(Box::new(Aes256::new(GenericArray::from_slice(enc_key))))
            }
            SegmentCipher::Rc4 => Self::Rc4(hmac::Key::new(hmac::HMAC_SHA256, enc_key)),
        }
    }

    /// XORs segment `index`'s keystream into `buf`, from the segment's
    /// first byte: encrypts plaintext, decrypts ciphertext.
    pub(crate) fn apply(&self, index: u64, buf: &mut [u8]) {
        match self {
            Self::AesCtr(aes) => aes_ctr_xor(aes, &counter_block(index), buf),
            Self::Rc4(key) => {
                let segment_key = rc4_segment_key(key, index);
                rc4_drop_xor(
                    GenericArray::<u8, rc4::consts::U16>::from_slice(&*segment_key),
                    buf,
                );
            }
        }
    }
}

impl fmt::Debug for Keystream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::AesCtr(_) => "AesCtr",
            Self::Rc4(_) => "Rc4",
        };
        write!(f, "Keystream({name}, key redacted)")
    }
}

/// The first AES-CTR counter block of segment `index`: `index || 0u64`.
fn counter_block(index: u64) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&index.to_be_bytes());
    block
}

/// AES-256-CTR from `counter` (a 128-bit big-endian counter) over `buf`.
fn aes_ctr_xor(aes: &Aes256, counter: &[u8; 16], buf: &mut [u8]) {
    let core =
        ctr::CtrCore::<Aes256, ctr::flavors::Ctr128BE>::inner_iv_init(aes.clone(), counter.into());
    let mut ctr = ctr::Ctr128BE::<Aes256>::from_core(core);
    ctr.apply_keystream(buf);
}

/// RC4 key of segment `index`: `HMAC-SHA256(enc_key, "rc4" || index)[..16]`.
fn rc4_segment_key(key: &hmac::Key, index: u64) -> Zeroizing<[u8; 16]> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(b"rc4");
    ctx.update(&index.to_be_bytes());
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&ctx.sign().as_ref()[..16]);
    out
}

/// RC4-drop[3072] under `key` over `buf`.
fn rc4_drop_xor<N: ArrayLength<u8>>(key: &GenericArray<u8, N>, buf: &mut [u8]) {
    let mut rc4 = rc4::Rc4::<N>::new(key);
    rc4.apply_keystream(&mut [0u8; RC4_DROP]);
    rc4.apply_keystream(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex literal")
    }

    #[test]
    fn names_and_ids_round_trip() {
        for c in [SegmentCipher::AesCtr, SegmentCipher::Rc4] {
            assert_eq!(SegmentCipher::from_id(c.id()), Ok(c));
            assert_eq!(c.name().parse::<SegmentCipher>(), Ok(c));
            assert_eq!(c.name().to_lowercase().parse::<SegmentCipher>(), Ok(c));
            assert_eq!(c.to_string(), c.name());
        }
        assert_eq!(SegmentCipher::AesCtr.id(), 1);
        assert_eq!(SegmentCipher::Rc4.id(), 2);
        assert_eq!(
            SegmentCipher::from_id(0),
            Err(SegmentedError::UnknownCipherId(0))
        );
        let err = "AES256"
            .parse::<SegmentCipher>()
            .expect_err("not segmented");
        assert!(err.to_string().contains("use AESCTR or RC4"), "{err}");
    }

    /// NIST SP 800-38A, Appendix F.5.5 (CTR-AES256.Encrypt): all four blocks.
    /// The counter block ff→00 carry between blocks 1 and 2 checks the
    /// 128-bit big-endian increment.
    #[test]
    fn aes_ctr_matches_nist_sp800_38a_f55() {
        let key = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let counter: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .expect("16 bytes");
        let mut data = unhex(
            "6bc1bee22e409f96e93d7e117393172a\
             ae2d8a571e03ac9c9eb76fac45af8e51\
             30c81c46a35ce411e5fbc1191a0a52ef\
             f69f2445df4f9b17ad2b417be66c3710",
        );
        let aes = Aes256::new(GenericArray::from_slice(&key));
        aes_ctr_xor(&aes, &counter, &mut data);
        assert_eq!(
            hex::encode(&data),
            "601ec313775789a5b7a7f504bbf3d228\
             f443e3ca4d62b59aca84e990cacaf5c5\
             2b0930daa23de94ce87017ba2d84988d\
             dfc9c58db67aada613c2dd08457941a6"
        );
    }

    #[test]
    fn aes_ctr_segments_start_at_index_high_half() {
        assert_eq!(hex::encode(counter_block(0)), "00".repeat(16));
        assert_eq!(
            hex::encode(counter_block(0x0102_0304_0506_0708)),
            format!("0102030405060708{}", "00".repeat(8))
        );
        // Segment i's keystream is CTR from block i·2^64: same as one long
        // CTR stream would give there.
        let ks = Keystream::new(SegmentCipher::AesCtr, &[7; 32]);
        let mut seg = [0u8; 48];
        ks.apply(3, &mut seg);
        let Keystream::AesCtr(aes) = &ks else {
            unreachable!("AesCtr keystream")
        };
        let mut direct = [0u8; 48];
        aes_ctr_xor(aes, &counter_block(3), &mut direct);
        assert_eq!(seg, direct);
        let mut other = [0u8; 48];
        ks.apply(4, &mut other);
        assert_ne!(seg, other);
    }

    /// RFC 6229, section 2, key length 40 bits (key 0x0102030405): keystream
    /// at offsets 0 and 16 from the plain cipher, then at offsets 3072 and
    /// 3088, which are what RC4-drop[3072] produces first.
    #[test]
    fn rc4_matches_rfc6229_40_bit_key() {
        let key = GenericArray::<u8, rc4::consts::U5>::clone_from_slice(&unhex("0102030405"));
        let mut plain = [0u8; 32];
        rc4::Rc4::<rc4::consts::U5>::new(&key).apply_keystream(&mut plain);
        assert_eq!(
            hex::encode(plain),
            "b2396305f03dc027ccc3524a0a1118a86982944f18fc82d589c403a47a0d0919"
        );
        let mut dropped = [0u8; 32];
        rc4_drop_xor(&key, &mut dropped);
        assert_eq!(
            hex::encode(dropped),
            "ec0e11c479dc329dc8da7968fe965681ae61c7721a02d3a065f693c590c26bb9"
        );
    }

    /// RFC 6229, section 2, key length 128 bits (key 0x0102…10), offsets 3072
    /// and 3088: the key length the segments use.
    #[test]
    fn rc4_drop_matches_rfc6229_128_bit_key() {
        let key = GenericArray::<u8, rc4::consts::U16>::clone_from_slice(&unhex(
            "0102030405060708090a0b0c0d0e0f10",
        ));
        let mut dropped = [0u8; 32];
        rc4_drop_xor(&key, &mut dropped);
        assert_eq!(
            hex::encode(dropped),
            "c05d88abd50357f935a63c59ee5376237c30d4c45e120cee56c81a6710c00b61"
        );
    }

    #[test]
    fn rc4_segment_keys_follow_the_documented_derivation() {
        // HMAC-SHA256(key = 32 × 0x07, "rc4" || 00 00 00 00 00 00 00 05)[..16],
        // computed independently with Python's hmac module.
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        assert_eq!(
            hex::encode(*rc4_segment_key(&key, 5)),
            "df8c58244fee98bf66993740cf4424e5"
        );
        assert_ne!(*rc4_segment_key(&key, 5), *rc4_segment_key(&key, 6));
    }

    #[test]
    fn debug_hides_the_key() {
        for c in [SegmentCipher::AesCtr, SegmentCipher::Rc4] {
            let shown = format!("{:?}", Keystream::new(c, &[0xAB; 32]));
            assert!(shown.contains("redacted"), "{shown}");
            assert!(!shown.to_lowercase().contains("ab,"), "{shown}");
            assert!(!shown.contains("171"), "{shown}");
        }
    }
}
