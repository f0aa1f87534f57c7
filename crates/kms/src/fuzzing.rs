//! What the fuzz targets in `fuzz/` run against this crate (cargo-fuzz
//! builds outside the workspace and sees only public items). Each function
//! takes arbitrary bytes, drives one parser and asserts what must hold; the
//! unit tests below run the same checks on fixed inputs, so the checks
//! themselves are built and exercised by every `cargo test`. Not an API.
//!
//! Assertions use `assert!(a == b)`, not `assert_eq!`: a failure must not
//! print plaintexts.

use std::sync::OnceLock;

use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use uuid::Uuid;

use crate::ErrorCode;
use crate::blob::{self, MAX_KEY_ID_LEN};

/// The fixed key of the round trips (any key will do: the parser is what
/// is under test, and no input can know a random one either).
fn cipher() -> &'static AesGcm256 {
    static CIPHER: OnceLock<AesGcm256> = OnceLock::new();
    CIPHER.get_or_init(|| AesGcm256::new(&SecretBytes::from_slice(&[0x5e; 32])).expect("32 bytes"))
}

const VERSION: Uuid = Uuid::from_u128(0x5ea1_4005_e000_4000_8000_0000_0000_0001);

/// The ciphertext blob format (what Decrypt and ReEncrypt read from any
/// caller). `data` as a blob: the header parser never panics, anything it
/// accepts is exactly a well-formed header, and opening it fails with the
/// one opaque error or gives a plaintext. `data` as a plaintext: sealed and
/// read back it is the same bytes, and only under its own context.
pub fn ciphertext_blob(data: &[u8]) {
    match blob::parse_header(data) {
        Ok(header) => {
            let id = header.key_id.as_bytes();
            assert!((1..=MAX_KEY_ID_LEN).contains(&id.len()));
            assert!(header.len == 2 + id.len() + 16);
            assert!(data.len() >= header.len + AesGcm256::OVERHEAD);
            assert!(data[0] == blob::BLOB_FORMAT_V1 && usize::from(data[1]) == id.len());
            assert!(&data[2..2 + id.len()] == id);
            assert!(&data[2 + id.len()..header.len] == header.version_id.as_bytes());
            if let Err(e) = blob::open(cipher(), data, &header, b"{}") {
                assert!(e.code() == ErrorCode::InvalidCiphertext);
            }
        }
        Err(e) => assert!(e.code() == ErrorCode::InvalidCiphertext),
    }

    let context = br#"{"fuzz":"1"}"#;
    let sealed = blob::seal(cipher(), "fuzz-key", VERSION, context, data).expect("seal");
    let header = blob::parse_header(&sealed).expect("a sealed blob parses");
    assert!(header.key_id == "fuzz-key" && header.version_id == VERSION);
    let opened = blob::open(cipher(), &sealed, &header, context).expect("opens");
    assert!(opened.expose() == data);
    assert!(blob::open(cipher(), &sealed, &header, b"{}").is_err());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The committed seeds of `fuzz/seeds/kms_blob/`, each a case here.
    #[test]
    fn the_seeds_hold() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/kms_blob");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/kms_blob") {
            ciphertext_blob(&std::fs::read(entry.expect("entry").path()).expect("seed"));
            seen += 1;
        }
        assert!(seen >= 3, "{seen} seeds in {}", dir.display());
    }

    /// A blob sealed under the fixed key parses and opens through the
    /// blob half of the check (not only the plaintext half).
    #[test]
    fn a_real_blob_takes_the_open_path() {
        let sealed = blob::seal(cipher(), "k-1", VERSION, b"{}", b"secret").expect("seal");
        ciphertext_blob(&sealed);
        let header = blob::parse_header(&sealed).expect("parses");
        let opened = blob::open(cipher(), &sealed, &header, b"{}").expect("opens");
        assert_eq!(opened.expose(), b"secret");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_hold(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            ciphertext_blob(&data);
        }

        /// Inputs that start like a blob reach past the first checks.
        #[test]
        fn blob_shaped_bytes_hold(
            id_len in 0u8..70,
            rest in proptest::collection::vec(any::<u8>(), 0..160),
        ) {
            let mut data = vec![blob::BLOB_FORMAT_V1, id_len];
            data.extend(std::iter::repeat_n(b'a', usize::from(id_len).min(rest.len())));
            data.extend(&rest);
            ciphertext_blob(&data);
        }
    }
}
