//! Each kind of bad input gets its own clear message; a failed decryption gets
//! one opaque message.

use sealhouse_crypto::{Algorithm, Error, Keyset, KeysetCipher, KeysetProblem, SecretBytes};

const ONE_KEY: &str = r#"{"key": [{"description": "hello world", "key_id": "r8MqZAEA8PDd3QSL",
  "key_meta_data": {"key_material_origin": "Origin_ALIYUN_MAXCOMPUTE", "key_material_type": "SYMMETRIC",
    "type": "AES-GCM-256", "value": "Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8="},
  "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE", "status": "ENABLED"}],
  "primary_key_id": "r8MqZAEA8PDd3QSL"}"#;

fn two_keys(second_id: &str, second_status: &str, primary: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(ONE_KEY).expect("json");
    let mut second = v["key"][0].clone();
    second["key_id"] = second_id.into();
    second["status"] = second_status.into();
    let mut v = v.clone();
    v["key"].as_array_mut().expect("keys").push(second);
    v["primary_key_id"] = primary.into();
    v.to_string()
}

fn message(result: Result<Keyset, Error>) -> String {
    result.expect_err("must be refused").to_string()
}

#[test]
fn unknown_algorithm_lists_the_valid_ones() {
    let msg = Algorithm::parse("AES-GCM-128").unwrap_err().to_string();
    assert_eq!(
        msg,
        "unknown key algorithm 'AES-GCM-128'; valid algorithms are AES-GCM-256, AES-SIV-CMAC-128, AES-SIV-CMAC-256"
    );
    let msg = message(Keyset::from_json(
        &ONE_KEY.replace("\"AES-GCM-256\"", "\"DES\""),
    ));
    assert!(
        msg.contains("type 'DES' is not a known algorithm; valid algorithms are AES-GCM-256"),
        "{msg}"
    );
}

#[test]
fn wrong_key_length() {
    let mut ks = Keyset::new(Algorithm::AesGcm256, "d").expect("new");
    let msg = ks
        .add_raw_key(
            Algorithm::AesSivCmac128,
            SecretBytes::from_slice(&[1; 16]),
            "",
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("AES-SIV-CMAC-128 takes a 32-byte key, but the key supplied is 16 bytes"),
        "{msg}"
    );
}

#[test]
fn malformed_bytes_and_json() {
    let msg = message(Keyset::from_bytes(&[0x0A, 0xFF]));
    assert!(msg.starts_with("malformed keyset bytes:"), "{msg}");
    let msg = message(Keyset::from_json("not json"));
    assert!(
        msg.starts_with("malformed keyset JSON:") && msg.contains("line 1"),
        "{msg}"
    );
    let msg = message(Keyset::from_json(&ONE_KEY.replace("Jqj7ESbf", "Jqj7E$bf")));
    assert!(msg.contains("not base64"), "{msg}");
}

#[test]
fn duplicate_key_ids() {
    let err = Keyset::from_json(&two_keys("r8MqZAEA8PDd3QSL", "ENABLED", "r8MqZAEA8PDd3QSL"))
        .expect_err("dup");
    assert!(matches!(
        err,
        Error::InvalidKeyset(KeysetProblem::DuplicateKeyId(_))
    ));
    assert!(
        err.to_string()
            .contains("two keys have the id r8MqZAEA8PDd3QSL"),
        "{err}"
    );
}

#[test]
fn primary_missing_or_not_enabled() {
    let msg = message(Keyset::from_json(&ONE_KEY.replace(
        "\"primary_key_id\": \"r8MqZAEA8PDd3QSL\"",
        "\"primary_key_id\": \"AAAAAAAAAAAAAAAA\"",
    )));
    assert!(
        msg.contains("primary_key_id 'AAAAAAAAAAAAAAAA' names no key"),
        "{msg}"
    );
    let no_primary: serde_json::Value = {
        let mut v: serde_json::Value = serde_json::from_str(ONE_KEY).expect("json");
        v.as_object_mut().expect("object").remove("primary_key_id");
        v
    };
    let msg = message(Keyset::from_json(&no_primary.to_string()));
    assert!(msg.contains("names no primary key"), "{msg}");
    let msg = message(Keyset::from_json(&two_keys(
        "AAAAAAAAAAAAAAAA",
        "DISABLED",
        "AAAAAAAAAAAAAAAA",
    )));
    assert!(
        msg.contains("primary key AAAAAAAAAAAAAAAA is DISABLED; the primary must be ENABLED"),
        "{msg}"
    );
}

#[test]
fn destroyed_key_with_material_and_enabled_key_without() {
    let msg = message(Keyset::from_json(&two_keys(
        "AAAAAAAAAAAAAAAA",
        "DESTROYED",
        "r8MqZAEA8PDd3QSL",
    )));
    assert!(
        msg.contains("DESTROYED but still holds key material"),
        "{msg}"
    );
    let mut v: serde_json::Value = serde_json::from_str(ONE_KEY).expect("json");
    v["key"][0]["key_meta_data"]
        .as_object_mut()
        .expect("meta")
        .remove("value");
    let msg = message(Keyset::from_json(&v.to_string()));
    assert!(msg.contains("ENABLED but has no key material"), "{msg}");
}

#[test]
fn truncated_ciphertext_is_clear_and_failed_decryption_is_opaque() {
    let ks = Keyset::from_json(ONE_KEY).expect("keyset");
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    let msg = cipher.decrypt(&[0; 10], b"").unwrap_err().to_string();
    assert!(
        msg.contains("ciphertext is 10 bytes, shorter than the 60 bytes"),
        "{msg}"
    );

    // Wrong AAD, wrong keyset, tampering and a disabled key all read the same.
    let ct = cipher.encrypt(b"v", b"a");
    let other =
        KeysetCipher::new(&Keyset::new(Algorithm::AesGcm256, "x").expect("new")).expect("prepare");
    let mut tampered = ct.clone();
    tampered[50] ^= 1;
    let failures = [
        cipher.decrypt(&ct, b"b"),
        other.decrypt(&ct, b"a"),
        cipher.decrypt(&tampered, b"a"),
    ];
    for f in failures {
        assert_eq!(f, Err(Error::DecryptionFailed));
    }
}
