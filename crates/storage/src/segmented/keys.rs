//! The keys of one segmented file, and how its header and segments are
//! authenticated with them.
//!
//! From the caller's 32-byte data key and the file's random 16-byte nonce:
//!
//! ```text
//! mac_key = HKDF-SHA256(IKM = data key, salt = file_nonce, info = "sealhouse segmented v1 mac", L = 32)
//! header_mac = HMAC-SHA256(mac_key, header bytes before header_mac)
//! ```
//!
//! Segments, by format version and cipher:
//!
//! - **Version 3, AESCTR**: AES-256-GCM (AES-256 in counter mode with a
//!   GHASH tag of 16 bytes), one call per segment:
//!   `gcm_key = HKDF-SHA256(data key, file_nonce, "sealhouse segmented v3 aes-gcm", 32)`,
//!   nonce `i (u64 BE) || final (u32 BE: 1 last, else 0)`, associated data
//!   `header_mac`. GHASH runs on carry-less multiplication, several times
//!   faster than HMAC-SHA256 here, which is why version 3 exists.
//! - **Versions 1 and 2, and RC4 in any version**: encrypt, then MAC:
//!   `enc_key = HKDF-SHA256(data key, file_nonce, "sealhouse segmented v1 enc", 32)`
//!   drives the cipher's keystream ([`Keystream`]), and
//!   `tag_i = HMAC-SHA256(mac_key, header_mac || i (u64 BE) || final (u8) || ciphertext_i)`.
//!
//! Keys are per file even when a data key were reused, because the nonce
//! salts them. `header_mac` in every segment's authentication binds it to
//! this file's header (and so to its nonce, cipher, segment size and place);
//! the index stops reordering, the final flag stops truncation at a segment
//! boundary and appending: the STREAM construction of Hoang, Reyhanitabar,
//! Rogaway and Vizár ("Online authenticated-encryption and its nonce-reuse
//! misuse-resistance", CRYPTO 2015).

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use ring::{hkdf, hmac};
use sealhouse_crypto::SecretBytes;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SegmentedError;
use super::cipher::{Keystream, SegmentCipher};

/// Length of the data key the caller supplies.
pub(crate) const DATA_KEY_LEN: usize = 32;
/// Length of the header MAC and of encrypt-then-MAC segment tags
/// (HMAC-SHA256).
pub(crate) const MAC_LEN: usize = 32;
/// Length of an AES-256-GCM segment tag (version 3, AESCTR).
pub(crate) const GCM_TAG_LEN: usize = 16;
/// The first format version whose AESCTR segments are AES-256-GCM.
pub(crate) const GCM_VERSION: u8 = 3;
/// Length of the file nonce (HKDF salt).
pub(crate) const NONCE_LEN: usize = 16;

/// A header MAC or segment tag.
pub(crate) type Mac = [u8; MAC_LEN];

const ENC_INFO: &[u8] = b"sealhouse segmented v1 enc";
const MAC_INFO: &[u8] = b"sealhouse segmented v1 mac";
const GCM_INFO: &[u8] = b"sealhouse segmented v3 aes-gcm";

/// The tag length after each segment of a file of `version` and `cipher`.
pub(crate) fn tag_len(version: u8, cipher: SegmentCipher) -> usize {
    if uses_gcm(version, cipher) {
        GCM_TAG_LEN
    } else {
        MAC_LEN
    }
}

fn uses_gcm(version: u8, cipher: SegmentCipher) -> bool {
    version >= GCM_VERSION && cipher == SegmentCipher::AesCtr
}

/// A segment's tag as stored after its ciphertext.
pub(crate) struct SegmentTag {
    bytes: [u8; MAC_LEN],
    len: usize,
}

impl AsRef<[u8]> for SegmentTag {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// How a file's segments are encrypted and authenticated.
enum SegmentSealing {
    /// The cipher's keystream, then HMAC-SHA256 under the MAC key.
    EncryptThenMac(Keystream),
    /// AES-256-GCM (version 3, AESCTR), boxed: ring's key schedule is large.
    /// It cannot be wiped, as for every ring key in the project.
    Gcm(Box<LessSafeKey>),
}

/// One file's encryption and MAC keys, set up once for all its segments.
///
/// Neither `Clone` nor a derived `Debug`: it is key material. The derived
/// key bytes are wiped as soon as the ciphers are set up (see
/// [`Keystream`] for what the ciphers themselves wipe).
pub(crate) struct SegmentKeys {
    sealing: SegmentSealing,
    mac: hmac::Key,
}

impl SegmentKeys {
    /// Derives the keys of the file of format `version` with `file_nonce`
    /// from `data_key`.
    pub(crate) fn derive(
        version: u8,
        cipher: SegmentCipher,
        data_key: &SecretBytes,
        file_nonce: &[u8; NONCE_LEN],
    ) -> Result<Self, SegmentedError> {
        if data_key.len() != DATA_KEY_LEN {
            return Err(SegmentedError::InvalidDataKeyLen(data_key.len()));
        }
        let mac = hkdf_sha256_32(data_key.expose(), file_nonce, MAC_INFO);
        let sealing = if uses_gcm(version, cipher) {
            let key = hkdf_sha256_32(data_key.expose(), file_nonce, GCM_INFO);
            let key = UnboundKey::new(&AES_256_GCM, &*key).expect("a 32-byte AES-256-GCM key");
            SegmentSealing::Gcm(Box::new(LessSafeKey::new(key)))
        } else {
            let enc = hkdf_sha256_32(data_key.expose(), file_nonce, ENC_INFO);
            SegmentSealing::EncryptThenMac(Keystream::new(cipher, &enc))
        };
        Ok(Self {
            sealing,
            mac: hmac::Key::new(hmac::HMAC_SHA256, &*mac),
        })
    }

    /// Encrypts segment `index` in place and returns its tag.
    pub(crate) fn seal_segment(
        &self,
        header_mac: &Mac,
        index: u64,
        is_final: bool,
        buf: &mut [u8],
    ) -> SegmentTag {
        let mut tag = SegmentTag {
            bytes: [0; MAC_LEN],
            len: MAC_LEN,
        };
        match &self.sealing {
            SegmentSealing::EncryptThenMac(keystream) => {
                keystream.apply(index, buf);
                tag.bytes = self.segment_mac(header_mac, index, is_final, buf);
            }
            SegmentSealing::Gcm(key) => {
                let sealed = key
                    .seal_in_place_separate_tag(
                        gcm_nonce(index, is_final),
                        Aad::from(header_mac),
                        buf,
                    )
                    // Fails only past GCM's 64 GiB per nonce; segments are at most 16 MiB.
                    .expect("a segment within AES-GCM's length limit");
                tag.bytes[..GCM_TAG_LEN].copy_from_slice(sealed.as_ref());
                tag.len = GCM_TAG_LEN;
            }
        }
        tag
    }

    /// Authenticates segment `index` (`ciphertext` and its stored `tag`)
    /// and appends its plaintext to `out`; on failure `out` is left as it
    /// was and the segment is named in the error.
    pub(crate) fn open_segment(
        &self,
        header_mac: &Mac,
        index: u64,
        is_final: bool,
        ciphertext: &[u8],
        tag: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SegmentedError> {
        let failed = SegmentedError::SegmentAuthentication { index };
        let start = out.len();
        match &self.sealing {
            SegmentSealing::EncryptThenMac(keystream) => {
                let expected = self.segment_mac(header_mac, index, is_final, ciphertext);
                if !bool::from(expected.as_slice().ct_eq(tag)) {
                    return Err(failed);
                }
                out.extend_from_slice(ciphertext);
                keystream.apply(index, &mut out[start..]);
            }
            SegmentSealing::Gcm(key) => {
                let tag = Tag::try_from(tag).map_err(|_| failed.clone())?;
                out.extend_from_slice(ciphertext);
                let opened = key.open_in_place_separate_tag(
                    gcm_nonce(index, is_final),
                    Aad::from(header_mac),
                    tag,
                    &mut out[start..],
                    0..,
                );
                if opened.is_err() {
                    // Nothing unauthenticated stays behind.
                    out.truncate(start);
                    return Err(failed);
                }
            }
        }
        Ok(())
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

    /// The encrypt-then-MAC tag of segment `index` with `ciphertext`.
    fn segment_mac(&self, header_mac: &Mac, index: u64, is_final: bool, ciphertext: &[u8]) -> Mac {
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
}

/// The AES-GCM nonce of segment `index`: `index (u64 BE) || final (u32 BE)`.
fn gcm_nonce(index: u64, is_final: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(is_final);
    Nonce::assume_unique_for_key(nonce)
}

impl fmt::Debug for SegmentKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentKeys")
            .field(
                "segments",
                &match &self.sealing {
                    SegmentSealing::EncryptThenMac(keystream) => format!("{keystream:?} + HMAC"),
                    SegmentSealing::Gcm(_) => "AES-256-GCM, key redacted".to_owned(),
                },
            )
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
                // Where cargo runs the test from, else where it was compiled.
                std::env::var_os("CARGO_MANIFEST_DIR")
                    .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
                    .join("../../../shared/testdata")
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
                GCM_VERSION,
                SegmentCipher::AesCtr,
                &SecretBytes::from_slice(&vec![1; len]),
                &[0; 16],
            )
            .expect_err("wrong length");
            assert_eq!(err, SegmentedError::InvalidDataKeyLen(len));
        }
    }

    /// Under both sealings: a segment opens only with its own header MAC,
    /// index, final flag, ciphertext and whole tag, and a failed open leaves
    /// nothing in the output.
    #[test]
    fn segments_bind_index_finality_and_header() {
        for (version, tag_len) in [(GCM_VERSION, GCM_TAG_LEN), (2, MAC_LEN)] {
            let keys = SegmentKeys::derive(
                version,
                SegmentCipher::AesCtr,
                &SecretBytes::from_slice(&[1; 32]),
                &[2; 16],
            )
            .expect("keys");
            let h = [3u8; 32];
            let mut ct = *b"abc";
            let tag = keys.seal_segment(&h, 1, false, &mut ct);
            let t = tag.as_ref();
            assert_eq!(t.len(), tag_len);
            assert_ne!(&ct, b"abc");
            let mut out = b"kept".to_vec();
            assert!(keys.open_segment(&h, 1, false, &ct, t, &mut out).is_ok());
            assert_eq!(out, b"keptabc");
            let mut flipped = ct;
            flipped[2] ^= 1;
            for (hm, i, last, ct, t) in [
                ([4u8; 32], 1, false, &ct[..], t),
                (h, 2, false, &ct, t),
                (h, 1, true, &ct, t),
                (h, 1, false, &flipped, t),
                (h, 1, false, &ct, &t[..tag_len - 1]),
            ] {
                let mut out = b"kept".to_vec();
                assert_eq!(
                    keys.open_segment(&hm, i, last, ct, t, &mut out),
                    Err(SegmentedError::SegmentAuthentication { index: i }),
                    "version {version}"
                );
                assert_eq!(out, b"kept", "version {version}");
            }
        }
    }

    #[test]
    fn debug_shows_no_key() {
        for (version, cipher) in [
            (GCM_VERSION, SegmentCipher::AesCtr),
            (GCM_VERSION, SegmentCipher::Rc4),
            (2, SegmentCipher::AesCtr),
        ] {
            let keys = SegmentKeys::derive(
                version,
                cipher,
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
}
