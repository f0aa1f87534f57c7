//! Debug output and error messages never hold keys or plaintexts.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, ctx, decrypt, encrypt, new_key};
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::api::{EncryptRequest, GenerateDataKeyRequest};
use sealhouse_kms::{CachingKms, DEFAULT_CACHE_TTL, KmsData, RootKey};

/// Renderings of `secret` that a careless Debug would print.
fn renderings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", &secret[..4]);
    let decimal = decimal.trim_end_matches(']').to_owned();
    vec![hex[..16].to_owned(), decimal]
}

#[test]
fn responses_requests_and_services_print_no_secret() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let dk = kms
        .generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))
        .unwrap();
    let dec = decrypt(&kms, &dk.ciphertext_blob, &ctx(&[])).unwrap();
    let request = EncryptRequest {
        key_id: key.key_id.clone(),
        plaintext: SecretBytes::from_slice(dk.plaintext.expose()),
        encryption_context: ctx(&[]),
    };
    let cached = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL);
    decrypt(&cached, &dk.ciphertext_blob, &ctx(&[])).unwrap();
    let root = RootKey::load_file(&w.root_key_path()).unwrap();
    let root_bytes = std::fs::read(w.root_key_path()).unwrap();
    let printed = format!(
        "{dk:?} {dk:#?} {dec:?} {request:?} {cached:?} {kms:?} {:?} {root:?} {:?}",
        w.kms(),
        root.secret_sealer()
    );
    for secret in [dk.plaintext.expose(), &root_bytes[..]] {
        for r in renderings(secret) {
            assert!(!printed.contains(&r), "{r} in {printed}");
        }
    }
    assert!(printed.contains("redacted"));
}

#[test]
fn errors_name_no_plaintext() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    // A plaintext too long, and one passed where a key id belongs.
    let secret = "S3cr3t-Pl41ntext-".repeat(400);
    let err = encrypt(&kms, &key.key_id, secret.as_bytes(), &ctx(&[])).unwrap_err();
    assert!(!err.to_string().contains("S3cr3t"), "{err}");
    let err = kms
        .encrypt(&EncryptRequest {
            key_id: secret.clone(),
            plaintext: SecretBytes::from_slice(b"x"),
            encryption_context: ctx(&[]),
        })
        .unwrap_err();
    assert!(!err.to_string().contains("S3cr3t"), "{err}");
}
