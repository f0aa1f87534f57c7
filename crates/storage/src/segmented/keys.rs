//! The keys of one segmented file, and the MACs made with them.
//!
//! From the caller's 32-byte data key and the file's random 16-byte nonce:
//!
//! ```text
//! enc_key = HKDF-SHA256(IKM = data key, salt = file_nonce, info = "sealhouse segmented v1 enc", L = 32)
//! mac_key = HKDF-SHA256(IKM = data key, salt = file_nonce, info = "sealhouse segmented v1 mac", L = 32)
//!
//! header_mac = HMAC-SHA256(mac_key, header bytes before header_mac)
//! tag_i      = HMAC-SHA256(mac_key, header_mac || i (u64 BE) || final (u8: 1 last, else 0) || ciphertext_i)
//! ```
//!
//! Keys are per file even when a data key were reused, because the nonce
//! salts them. `header_mac` in every tag binds each segment to this file's
//! header (and so to its nonce, cipher and segment size); the index stops
//! reordering, the final flag stops truncation at a segment boundary and
//! appending: the STREAM construction of Hoang, Reyhanitabar, Rogaway and
//! Vizár ("Online authenticated-encryption and its nonce-reuse
//! misuse-resistance", CRYPTO 2015), with encrypt-then-MAC as its segment
//! AEAD.

use std::fmt;

use ring::{hkdf, hmac};
use sealhouse_crypto::SecretBytes;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SegmentedError;
use super::cipher::{Keystream, SegmentCipher};

/// Length of the data key the caller supplies.
pub(crate) const DATA_KEY_LEN: usize = 32;
/// Length of the header MAC and of every segment tag (HMAC-SHA256).
pub(crate) const MAC_LEN: usize = 32;
/// Length of the file nonce (HKDF salt).
pub(crate) const NONCE_LEN: usize = 16;

/// A header MAC or segment tag.
pub(crate) type Mac = [u8; MAC_LEN];

const ENC_INFO: &[u8] = b"sealhouse segmented v1 enc";
const MAC_INFO: &[u8] = b"sealhouse segmented v1 mac";

/// One file's encryption and MAC keys, set up once for all its segments.
///
/// Neither `Clone` nor a derived `Debug`: it is key material. The derived
/// key bytes are wiped as soon as the ciphers are set up (see
/// [`Keystream`] for what the ciphers themselves wipe).
pub(crate) struct SegmentKeys {
    keystream: Keystream,
    mac: hmac::Key,
}

impl SegmentKeys {
    /// Derives the keys of the file with `file_nonce` from `data_key`.
    pub(crate) fn derive(
        cipher: SegmentCipher,
        data_key: &SecretBytes,
        file_nonce: &[u8; NONCE_LEN],
    ) -> Result<Self, SegmentedError> {
        if data_key.len() != DATA_KEY_LEN {
            return Err(SegmentedError::InvalidDataKeyLen(data_key.len()));
        }
        let enc = hkdf_sha256_32(data_key.expose(), file_nonce, ENC_INFO);
        let mac = hkdf_sha256_32(data_key.expose(), file_nonce, MAC_INFO);
        Ok(Self {
            keystream: Keystream::new(cipher, &enc),
            mac: hmac::Key::new(hmac::HMAC_SHA256, &*mac),
        })
    }

    /// XORs segment `index`'s keystream into `buf`.
    pub(crate) fn apply_keystream(&self, index: u64, buf: &mut [u8]) {
        self.keystream.apply(index, buf);
    }

    /// The MAC of the header's leading fields (everything before the MAC).
    pub(crate) fn header_mac(&self, header_fields: &[u8]) -> Mac {
        hmac_sha256(&self.mac, &[header_fields])
    }

    /// Checks `mac` against the header fields, in constant time.
    pub(crate) fn verify_header(
        &self,
        header_fields: &[u8],
        mac: &Mac,
    ) -> Result<(), SegmentedError> {
        if bool::from(self.header_mac(header_fields).ct_eq(mac)) {
            Ok(())
        } else {
            Err(SegmentedError::HeaderAuthentication)
        }
    }

    /// The tag of segment `index` with `ciphertext`.
    pub(crate) fn segment_tag(
        &self,
        header_mac: &Mac,
        index: u64,
        is_final: bool,
        ciphertext: &[u8],
    ) -> Mac {
        hmac_sha256(
            &self.mac,
            &[
                header_mac,
                &index.to_be_bytes(),
                &[u8::from(is_final)],
                ciphertext,
            ],
        )
    }

    /// Checks segment `index`'s tag, in constant time.
    pub(crate) fn verify_segment(
        &self,
        header_mac: &Mac,
        index: u64,
        is_final: bool,
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<(), SegmentedError> {
        let expected = self.segment_tag(header_mac, index, is_final, ciphertext);
        if bool::from(expected.as_slice().ct_eq(tag)) {
            Ok(())
        } else {
            Err(SegmentedError::SegmentAuthentication { index })
        }
    }
}

impl fmt::Debug for SegmentKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentKeys")
            .field("keystream", &self.keystream)
            .field("mac", &"redacted")
            .finish()
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
fn hmac_sha256(key: &hmac::Key, parts: &[&[u8]]) -> Mac {
    let mut ctx = hmac::Context::with_key(key);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// 32 bytes of HKDF-SHA256 (RFC 5869).
fn hkdf_sha256_32(ikm: &[u8], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], Len32)
        .and_then(|okm| okm.fill(&mut out[..]))
        // Fails only for outputs over 255 × 32 bytes.
        .expect("32 bytes of HKDF-SHA256");
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `shared/testdata/` beside the checkout, or `$SEALHOUSE_TESTDATA` (as in
    /// sealhouse-crypto's tests). A missing file fails the test.
    fn wycheproof_hkdf() -> serde_json::Value {
        let root = std::env::var_os("SEALHOUSE_TESTDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
            });
        let path = root.join("wycheproof/hkdf_sha256_test.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("test vectors {} unreadable: {e}", path.display()));
        serde_json::from_str(&text).expect("well-formed Wycheproof JSON")
    }

    fn field(test: &serde_json::Value, name: &str) -> Vec<u8> {
        hex::decode(test[name].as_str().expect("hex field")).expect("hex")
    }

    /// Every valid 32-byte-output vector of Wycheproof's HKDF-SHA256 file.
    #[test]
    fn hkdf_matches_wycheproof() {
        let vectors = wycheproof_hkdf();
        let mut checked = 0;
        for group in vectors["testGroups"].as_array().expect("groups") {
            for test in group["tests"].as_array().expect("tests") {
                if test["size"] != 32 || test["result"] != "valid" {
                    continue;
                }
                let okm = hkdf_sha256_32(
                    &field(test, "ikm"),
                    &field(test, "salt"),
                    &field(test, "info"),
                );
                assert_eq!(okm.as_slice(), field(test, "okm"), "tcId {}", test["tcId"]);
                checked += 1;
            }
        }
        assert_eq!(checked, 12, "the file holds 12 valid vectors of 32 bytes");
    }

    /// RFC 4231, test case 2 (key "Jefe"), fed in three parts as the tags are.
    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac_sha256(&key, &[b"what do ya ", b"", b"want for nothing?"]);
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The documented derivation, computed independently with Python's hmac
    /// (RFC 5869): data key 32 × 0x11, nonce 16 × 0x22.
    #[test]
    fn derivation_is_pinned() {
        let ikm = [0x11; 32];
        let salt = [0x22; 16];
        assert_eq!(
            hex::encode(*hkdf_sha256_32(&ikm, &salt, ENC_INFO)),
            "ecc852a4e507ae3418da7214518416653670d78bdcd3c50860a2cbabca843319"
        );
        assert_eq!(
            hex::encode(*hkdf_sha256_32(&ikm, &salt, MAC_INFO)),
            "c2d91681bd59fb0e2ae190f3975e0443723f0e9073a1ca2e5d79194b76ae5123"
        );
    }

    #[test]
    fn data_key_must_be_32_bytes() {
        for len in [0, 16, 31, 33, 64] {
            let err = SegmentKeys::derive(
                SegmentCipher::AesCtr,
                &SecretBytes::from_slice(&vec![1; len]),
                &[0; 16],
            )
            .expect_err("wrong length");
            assert_eq!(err, SegmentedError::InvalidDataKeyLen(len));
        }
    }

    #[test]
    fn tags_bind_index_finality_and_header() {
        let keys = SegmentKeys::derive(
            SegmentCipher::AesCtr,
            &SecretBytes::from_slice(&[1; 32]),
            &[2; 16],
        )
        .expect("keys");
        let h = [3u8; 32];
        let t = keys.segment_tag(&h, 1, false, b"abc");
        assert!(keys.verify_segment(&h, 1, false, b"abc", &t).is_ok());
        for (hm, i, last, ct) in [
            ([4u8; 32], 1, false, &b"abc"[..]),
            (h, 2, false, b"abc"),
            (h, 1, true, b"abc"),
            (h, 1, false, b"abd"),
        ] {
            assert_eq!(
                keys.verify_segment(&hm, i, last, ct, &t),
                Err(SegmentedError::SegmentAuthentication { index: i })
            );
        }
        assert!(keys.verify_segment(&h, 1, false, b"abc", &t[..31]).is_err());
    }

    #[test]
    fn debug_shows_no_key() {
        let keys = SegmentKeys::derive(
            SegmentCipher::Rc4,
            &SecretBytes::from_slice(&[0xAB; 32]),
            &[0; 16],
        )
        .expect("keys");
        let shown = format!("{keys:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab,"),
            "{shown}"
        );
    }
}
