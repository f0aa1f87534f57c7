use super::*;

fn keyset(algorithm: Algorithm) -> Keyset {
    Keyset::new(algorithm, "t").expect("new keyset")
}

#[test]
fn layout_per_algorithm() {
    for (algorithm, overhead) in [
        (Algorithm::AesGcm256, 60),
        (Algorithm::AesSivCmac128, 48),
        (Algorithm::AesSivCmac256, 48),
    ] {
        let ks = keyset(algorithm);
        let cipher = KeysetCipher::new(&ks).expect("prepare");
        let ct = cipher.encrypt(b"13900001234", b"");
        assert_eq!(ct.len(), 11 + overhead, "{algorithm}");
        assert_eq!(ct.len(), cipher.ciphertext_len(11));
        let tag = derive::key_tag(algorithm, ks.primary().material().expect("material"));
        assert_eq!(
            &ct[..32],
            &tag,
            "{algorithm}: ciphertext starts with the key tag"
        );
        assert_eq!(cipher.decrypt(&ct, b"").expect("decrypts"), b"13900001234");
    }
}

#[test]
fn session_reuses_siv_instances_and_matches_one_shot_calls() {
    let ks = keyset(Algorithm::AesSivCmac256);
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    let mut session = cipher.session();
    let mut a = Vec::new();
    session.encrypt_append(b"v", b"aad", &mut a);
    assert_eq!(
        a,
        cipher.encrypt(b"v", b"aad"),
        "deterministic across sessions"
    );
    let mut out = Vec::new();
    session
        .decrypt_append(&a, b"aad", &mut out)
        .expect("decrypts");
    assert_eq!(out, b"v");
}

#[test]
fn truncated_ciphertext_is_named() {
    let cipher = KeysetCipher::new(&keyset(Algorithm::AesGcm256)).expect("prepare");
    let err = cipher.decrypt(&[0u8; 59], b"").unwrap_err();
    assert_eq!(
        err,
        Error::TruncatedCiphertext {
            actual: 59,
            minimum: 60
        }
    );
    assert!(err.to_string().contains("59 bytes"));
    let err = cipher.decrypt(&[0u8; 60], b"").unwrap_err();
    assert_eq!(err, Error::DecryptionFailed);
}

#[test]
fn disabled_key_refuses_by_tag_and_is_not_a_fallback() {
    let mut ks = keyset(Algorithm::AesGcm256);
    let old = ks.primary_key_id().clone();
    let before = KeysetCipher::new(&ks).expect("prepare").encrypt(b"x", b"");
    ks.rotate(Algorithm::AesGcm256, None).expect("rotate");
    ks.disable(&old).expect("disable");
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    assert_eq!(cipher.decrypt(&before, b""), Err(Error::DecryptionFailed));
    ks.enable(&old).expect("enable");
    assert_eq!(
        KeysetCipher::new(&ks)
            .expect("prepare")
            .decrypt(&before, b"")
            .expect("ok"),
        b"x"
    );
}

#[test]
fn foreign_tags_fall_back_to_enabled_keys_with_the_plain_aad() {
    // A ciphertext laid out as the original service does: an opaque tag, and
    // the AAD alone authenticated.
    let ks = keyset(Algorithm::AesGcm256);
    let gcm = AesGcm256::new(ks.primary().material().expect("material")).expect("gcm");
    let mut foreign = vec![0x5A; 32];
    gcm.seal_append(b"ctx", b"value", &mut foreign);
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    assert_eq!(
        cipher.decrypt(&foreign, b"ctx").expect("decrypts"),
        b"value"
    );
    assert_eq!(cipher.decrypt(&foreign, b""), Err(Error::DecryptionFailed));
}

#[test]
fn long_aad_takes_the_heap_path() {
    let cipher = KeysetCipher::new(&keyset(Algorithm::AesSivCmac128)).expect("prepare");
    let aad = vec![7u8; 1000];
    let ct = cipher.encrypt(b"v", &aad);
    assert_eq!(cipher.decrypt(&ct, &aad).expect("ok"), b"v");
    assert!(cipher.decrypt(&ct, &aad[..999]).is_err());
}

#[test]
fn debug_names_keys_not_material() {
    let ks = keyset(Algorithm::AesGcm256);
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    let shown = format!("{cipher:?}");
    assert!(shown.contains(ks.primary_key_id().as_str()), "{shown}");
}

#[test]
fn our_ciphertexts_are_under_the_column_key_not_the_keyset_key() {
    let ks = keyset(Algorithm::AesGcm256);
    let ct = KeysetCipher::new(&ks).expect("prepare").encrypt(b"v", b"");
    let material = ks.primary().material().expect("material");
    let raw = AesGcm256::new(material).expect("gcm");
    assert!(raw.open_append(b"", &ct[32..], &mut Vec::new()).is_err());
    let column = AesGcm256::new(&derive::column_key(Algorithm::AesGcm256, material)).expect("gcm");
    let mut out = Vec::new();
    column
        .open_append(b"", &ct[32..], &mut out)
        .expect("opens under the column key");
    assert_eq!(out, b"v");
}
