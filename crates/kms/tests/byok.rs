//! Bring your own key, end to end: the material is wrapped here with the
//! `rsa` crate exactly as a customer's tool would, and what the KMS encrypts
//! with it is checked by an independent AES-GCM decryption with the known key.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, ctx, decrypt, encrypt, expect_code, new_key};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;
use sealhouse_kms::api::{
    CreateKeyRequest, GetParametersForImportRequest, GetParametersForImportResponse,
    ImportKeyMaterialRequest, KeyMetadata, KeyRequest, KeyState, Origin, RotationInterval,
    UpdateRotationPolicyRequest, WrappingAlgorithm,
};
use sealhouse_kms::{ErrorCode, Kms, KmsData, KmsHandle};
use time::Duration;

const KNOWN_KEY: [u8; 32] = *b"my own 32-byte AES key, from HSM";

fn external_key(kms: &KmsHandle) -> KeyMetadata {
    kms.create_key(&CreateKeyRequest {
        origin: Origin::External,
        ..CreateKeyRequest::default()
    })
    .unwrap()
    .key_metadata
}

fn params(kms: &KmsHandle, key_id: &str, alg: WrappingAlgorithm) -> GetParametersForImportResponse {
    kms.get_parameters_for_import(&GetParametersForImportRequest {
        wrapping_algorithm: alg,
        ..GetParametersForImportRequest::new(key_id)
    })
    .unwrap()
}

fn wrap(p: &GetParametersForImportResponse, material: &[u8], alg: WrappingAlgorithm) -> Vec<u8> {
    let public = rsa::PublicKey::from_public_key_der(&p.public_key).unwrap();
    match alg {
        WrappingAlgorithm::RsaesOaepSha256 => public.oaep_encrypt::<Sha256>(material).unwrap(),
        WrappingAlgorithm::RsaesOaepSha1 => public.oaep_encrypt::<sha1::Sha1>(material).unwrap(),
    }
}

fn import(
    kms: &KmsHandle,
    key_id: &str,
    p: &GetParametersForImportResponse,
    wrapped: Vec<u8>,
    expire: Option<i64>,
) -> Result<(), sealhouse_kms::KmsError> {
    kms.import_key_material(&ImportKeyMaterialRequest {
        key_id: key_id.to_owned(),
        encrypted_key_material: wrapped,
        import_token: p.import_token.clone(),
        key_material_expire_unix: expire,
    })
    .map(drop)
}

/// Splits a blob into (associated data without context, IV || ciphertext || tag).
fn split_blob(blob: &[u8]) -> (&[u8], &[u8]) {
    let header_len = 2 + usize::from(blob[1]) + 16;
    blob.split_at(header_len)
}

#[test]
fn imported_material_encrypts_and_an_independent_aes_gcm_agrees() {
    let w = World::new();
    let kms = w.root_a();
    let key = external_key(&kms);
    assert_eq!(key.key_state, KeyState::PendingImport);
    assert_eq!(key.primary_key_version, None);
    expect_code(
        encrypt(&kms, &key.key_id, b"x", &ctx(&[])),
        ErrorCode::PendingImport,
    );
    expect_code(
        kms.enable_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::StateModifiedFailed,
    );

    let p = params(&kms, &key.key_id, WrappingAlgorithm::RsaesOaepSha256);
    assert_eq!(p.key_id, key.key_id);
    let public = rsa::PublicKey::from_public_key_der(&p.public_key).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&public), 256, "RSA-2048");
    assert!(p.token_expire_time > key.creation_date + Duration::hours(23));
    let wrapped = wrap(&p, &KNOWN_KEY, WrappingAlgorithm::RsaesOaepSha256);
    import(&kms, &key.key_id, &p, wrapped, None).unwrap();
    let meta = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(meta.key_state, KeyState::Enabled);
    assert_eq!(meta.material_expire_time, None);
    let version = meta.primary_key_version.unwrap();

    // What the KMS encrypts, the known key decrypts.
    let context = ctx(&[("k", "v")]);
    let enc = encrypt(&kms, &key.key_id, b"byok plaintext", &context).unwrap();
    assert_eq!(enc.key_version_id, version);
    let known = AesGcm256::new(&SecretBytes::from_slice(&KNOWN_KEY)).unwrap();
    let (header, sealed) = split_blob(&enc.ciphertext_blob);
    let aad = [header, br#"{"k":"v"}"#].concat();
    let mut plain = Vec::new();
    known.open_append(&aad, sealed, &mut plain).unwrap();
    assert_eq!(plain, b"byok plaintext");

    // What the known key encrypts in the blob format, the KMS decrypts.
    let mut forged = header.to_vec();
    known.seal_append(&[header, b"{}"].concat(), b"made outside", &mut forged);
    let dec = decrypt(&kms, &forged, &ctx(&[])).unwrap();
    assert_eq!(dec.plaintext.expose(), b"made outside");
}

#[test]
fn tokens_are_single_use_and_expire_after_24_hours() {
    let w = World::new();
    let kms = w.root_a();
    let key = external_key(&kms);
    let alg = WrappingAlgorithm::RsaesOaepSha256;

    // A failed attempt uses the token up.
    let p = params(&kms, &key.key_id, alg);
    let e = expect_code(
        import(&kms, &key.key_id, &p, vec![1; 256], None),
        ErrorCode::InvalidKeyMaterial,
    );
    assert!(e.message().contains("RSAES_OAEP_SHA_256"), "{e}");
    let e = expect_code(
        import(&kms, &key.key_id, &p, wrap(&p, &KNOWN_KEY, alg), None),
        ErrorCode::InvalidImportToken,
    );
    assert!(e.message().contains("GetParametersForImport"), "{e}");

    // Material of the wrong length.
    let p = params(&kms, &key.key_id, alg);
    let e = expect_code(
        import(&kms, &key.key_id, &p, wrap(&p, &[7; 16], alg), None),
        ErrorCode::InvalidKeyMaterial,
    );
    assert!(e.message().contains("32 bytes"), "{e}");

    // A token of another key is refused and not used up.
    let other = external_key(&kms);
    let p_other = params(&kms, &other.key_id, alg);
    expect_code(
        import(
            &kms,
            &key.key_id,
            &p_other,
            wrap(&p_other, &KNOWN_KEY, alg),
            None,
        ),
        ErrorCode::InvalidImportToken,
    );
    import(
        &kms,
        &other.key_id,
        &p_other,
        wrap(&p_other, &KNOWN_KEY, alg),
        None,
    )
    .unwrap();

    // Expiry.
    let p = params(&kms, &key.key_id, alg);
    w.advance(Duration::hours(24));
    expect_code(
        import(&kms, &key.key_id, &p, wrap(&p, &KNOWN_KEY, alg), None),
        ErrorCode::ExpiredImportToken,
    );
    // Expired parameters are purged by tick.
    let _unused = params(&kms, &key.key_id, alg);
    w.advance(Duration::hours(25));
    assert_eq!(w.kms().tick().unwrap().import_parameters_purged, 1);
}

#[test]
fn sha1_wrapping_works_too() {
    let w = World::new();
    let kms = w.root_a();
    let key = external_key(&kms);
    let alg = WrappingAlgorithm::RsaesOaepSha1;
    let p = params(&kms, &key.key_id, alg);
    import(&kms, &key.key_id, &p, wrap(&p, &KNOWN_KEY, alg), None).unwrap();
    let enc = encrypt(&kms, &key.key_id, b"x", &ctx(&[])).unwrap();
    let dec = decrypt(&kms, &enc.ciphertext_blob, &ctx(&[])).unwrap();
    assert_eq!(dec.plaintext.expose(), b"x");
    // The material unwrapped with SHA-1 is exactly the known key: it opens
    // what the KMS sealed.
    let known = AesGcm256::new(&SecretBytes::from_slice(&KNOWN_KEY)).unwrap();
    let (header, sealed) = split_blob(&enc.ciphertext_blob);
    let mut plain = Vec::new();
    known
        .open_append(&[header, b"{}"].concat(), sealed, &mut plain)
        .unwrap();
    assert_eq!(plain, b"x");
}

#[test]
fn material_never_changes_and_expiry_destroys_it_until_reimported() {
    let w = World::new();
    let kms = w.root_a();
    let key = external_key(&kms);
    let alg = WrappingAlgorithm::RsaesOaepSha256;
    let now = w.clock_unix();
    let p = params(&kms, &key.key_id, alg);
    expect_code(
        import(
            &kms,
            &key.key_id,
            &p,
            wrap(&p, &KNOWN_KEY, alg),
            Some(now - 1),
        ),
        ErrorCode::InvalidParameter,
    );
    let p = params(&kms, &key.key_id, alg);
    import(
        &kms,
        &key.key_id,
        &p,
        wrap(&p, &KNOWN_KEY, alg),
        Some(now + 3600),
    )
    .unwrap();
    let blob = encrypt(&kms, &key.key_id, b"before expiry", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;

    // Different material is refused; the same is accepted (new expiry).
    let p = params(&kms, &key.key_id, alg);
    let e = expect_code(
        import(&kms, &key.key_id, &p, wrap(&p, &[9; 32], alg), None),
        ErrorCode::InvalidKeyMaterial,
    );
    assert!(e.message().contains("never changes"), "{e}");
    let p = params(&kms, &key.key_id, alg);
    import(
        &kms,
        &key.key_id,
        &p,
        wrap(&p, &KNOWN_KEY, alg),
        Some(now + 7200),
    )
    .unwrap();

    w.advance(Duration::seconds(7200));
    expect_code(decrypt(&kms, &blob, &ctx(&[])), ErrorCode::PendingImport);
    let meta = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(meta.key_state, KeyState::PendingImport);
    assert_eq!(meta.material_expire_time, None);

    // After expiry, only the same material brings the key back.
    let p = params(&kms, &key.key_id, alg);
    expect_code(
        import(&kms, &key.key_id, &p, wrap(&p, &[9; 32], alg), None),
        ErrorCode::InvalidKeyMaterial,
    );
    let p = params(&kms, &key.key_id, alg);
    import(&kms, &key.key_id, &p, wrap(&p, &KNOWN_KEY, alg), None).unwrap();
    assert_eq!(
        decrypt(&kms, &blob, &ctx(&[])).unwrap().plaintext.expose(),
        b"before expiry"
    );
}

#[test]
fn origin_rules_are_enforced() {
    let w = World::new();
    let kms = w.root_a();
    let generated = new_key(&kms);
    let e = expect_code(
        kms.get_parameters_for_import(&GetParametersForImportRequest::new(&generated.key_id)),
        ErrorCode::UnsupportedOrigin,
    );
    assert_eq!(e.code().as_str(), "Unsupported.Origin");
    let external = external_key(&kms);
    expect_code(
        kms.create_key_version(&KeyRequest::new(&external.key_id)),
        ErrorCode::UnsupportedOrigin,
    );
    expect_code(
        kms.update_rotation_policy(&UpdateRotationPolicyRequest {
            key_id: external.key_id.clone(),
            enable_automatic_rotation: true,
            rotation_interval: Some(RotationInterval::days(30).unwrap()),
        }),
        ErrorCode::UnsupportedOrigin,
    );
    expect_code(
        kms.create_key(&CreateKeyRequest {
            origin: Origin::External,
            enable_automatic_rotation: true,
            rotation_interval: Some(RotationInterval::days(30).unwrap()),
            ..CreateKeyRequest::default()
        }),
        ErrorCode::UnsupportedOrigin,
    );
}

#[test]
fn a_byok_key_without_material_returns_to_pending_import_when_deletion_is_cancelled() {
    let w = World::new();
    let kms = w.root_a();
    let key = external_key(&kms);
    kms.schedule_key_deletion(&sealhouse_kms::api::ScheduleKeyDeletionRequest {
        key_id: key.key_id.clone(),
        pending_window_in_days: 7,
    })
    .unwrap();
    let p = params(&kms, &key.key_id, WrappingAlgorithm::RsaesOaepSha256);
    expect_code(
        import(
            &kms,
            &key.key_id,
            &p,
            wrap(&p, &KNOWN_KEY, WrappingAlgorithm::RsaesOaepSha256),
            None,
        ),
        ErrorCode::StateModifiedFailed,
    );
    let state = kms
        .cancel_key_deletion(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_state;
    assert_eq!(state, KeyState::PendingImport);
}

trait ClockUnix {
    fn clock_unix(&self) -> i64;
}

impl ClockUnix for World {
    fn clock_unix(&self) -> i64 {
        use sealhouse_iam::Clock;
        self.clock.now().unix_timestamp()
    }
}
