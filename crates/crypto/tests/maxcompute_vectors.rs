//! Every verified vector of `shared/testdata/maxcompute/vectors.json`, through
//! the public API: keyset bytes exact, JSON equal, documented ciphertexts
//! decrypting to the documented plaintexts.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealhouse_crypto::{Algorithm, KeyOrigin, Keyset, KeysetCipher, SecretBytes, sym};
use serde_json::Value;

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {name} missing"))
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("vector hex")
}

/// A keyset's JSON as a value, with the named key ids replaced by `ID` and
/// (optionally) the material of those keys by `MATERIAL`, so that a keyset
/// holding fresh random keys compares with a documented one.
fn masked(json: &str, random_ids: &[&str], mask_material: bool) -> Value {
    let mut v: Value = serde_json::from_str(json).expect("keyset JSON");
    for key in v["key"].as_array_mut().expect("keys") {
        if random_ids.contains(&key["key_id"].as_str().expect("id")) {
            key["key_id"] = "ID".into();
            if mask_material {
                key["key_meta_data"]["value"] = "MATERIAL".into();
            }
        }
    }
    if random_ids.contains(&v["primary_key_id"].as_str().expect("primary")) {
        v["primary_key_id"] = "ID".into();
    }
    v
}

/// The text between `start` and the next `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in {text:?}"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not after {start:?}"));
    &text[from..from + len]
}

fn check_keyset_from_json(v: &Value) {
    let ks = Keyset::from_json(field(v, "input")).expect("documented JSON parses");
    assert_eq!(
        hex::encode_upper(ks.to_bytes().expose()),
        field(v, "output_hex_or_text")
    );
    assert_eq!(
        ks.to_json().as_str(),
        field(v, "keyset_json"),
        "JSON prints in the documented layout"
    );
}

fn check_keyset_to_json(v: &Value) {
    let ks = Keyset::from_bytes(&unhex(field(v, "input"))).expect("documented bytes parse");
    assert_eq!(ks.to_json().as_str(), field(v, "output_hex_or_text"));
}

/// Checks a documented result keyset against ours: the documented bytes parse
/// and re-encode exactly, and ours equals it but for the fresh key's id (and
/// material when it was generated).
fn check_against_documented(documented_hex: &str, ours: &Keyset, mask_material: bool) {
    let documented = Keyset::from_bytes(&unhex(documented_hex)).expect("documented result parses");
    assert_eq!(
        hex::encode_upper(documented.to_bytes().expose()),
        documented_hex,
        "byte-exact re-encoding"
    );
    let documented_new = documented.primary_key_id().as_str().to_owned();
    let ours_new = ours.primary_key_id().as_str().to_owned();
    assert_eq!(
        masked(&ours.to_json(), &[&ours_new], mask_material),
        masked(&documented.to_json(), &[&documented_new], mask_material)
    );
}

fn check_add_key(v: &Value) {
    let input = field(v, "input");
    let raw_key = unhex(between(input, "raw_key=", " "));
    let algorithm = Algorithm::parse(between(input, "key_type=", ",")).expect("algorithm");
    let description = between(input, "description='", "'");
    let mut ks = Keyset::from_bytes(&unhex(field(v, "keyset_hex"))).expect("keyset");
    ks.add_raw_key(algorithm, SecretBytes::new(raw_key), description)
        .expect("adds");
    assert_eq!(ks.primary().origin(), KeyOrigin::Supplied);
    check_against_documented(field(v, "output_hex_or_text"), &ks, false);
}

fn check_rotate(v: &Value) {
    let input = field(v, "input");
    let algorithm = Algorithm::parse(between(input, "key_type='", "'")).expect("algorithm");
    let description = between(input, "description='", "'");
    let mut ks = Keyset::from_bytes(&unhex(field(v, "keyset_hex"))).expect("keyset");
    ks.rotate(algorithm, Some(description)).expect("rotates");
    check_against_documented(field(v, "output_hex_or_text"), &ks, true);
}

fn check_new_keyset(v: &Value) {
    let input = field(v, "input");
    let (algorithm, rest) = input.split_once(", ").expect("algorithm, description");
    let description = rest.trim_matches('\'');
    let ks =
        Keyset::new(Algorithm::parse(algorithm).expect("algorithm"), description).expect("new");
    check_against_documented(field(v, "output_hex_or_text"), &ks, true);
}

fn check_enhanced_decrypt(keyset_hex: &str, ciphertext_b64: &str, aad: &str, plaintext: &str) {
    let cipher = KeysetCipher::from_keyset_bytes(&unhex(keyset_hex)).expect("keyset");
    let ciphertext = STANDARD.decode(ciphertext_b64).expect("base64");
    assert_eq!(
        ciphertext.len(),
        plaintext.len() + 60,
        "AES-GCM-256 layout: plaintext + 60"
    );
    let opened = cipher
        .decrypt(&ciphertext, aad.as_bytes())
        .expect("documented ciphertext decrypts");
    assert_eq!(opened, plaintext.as_bytes());
    // And what we make with that keyset decrypts too.
    let ours = cipher.encrypt(plaintext.as_bytes(), aad.as_bytes());
    assert_eq!(
        cipher.decrypt(&ours, aad.as_bytes()).expect("round trip"),
        plaintext.as_bytes()
    );
}

/// The key of the SYM_* examples: the ASCII bytes of the string cast to BINARY.
fn sym_key(v: &Value) -> Vec<u8> {
    between(field(v, "sql"), "cast('", "' as binary)")
        .as_bytes()
        .to_vec()
}

fn check_sym_decrypt(key: &[u8], ciphertext_b64: &str, aad: &str, plaintext: &str) {
    let ciphertext = STANDARD.decode(ciphertext_b64).expect("base64");
    assert_eq!(
        sym::decrypt(key, &ciphertext, aad.as_bytes()).expect("decrypts"),
        plaintext.as_bytes()
    );
    let ours = sym::encrypt(key, plaintext.as_bytes(), aad.as_bytes()).expect("encrypts");
    assert_eq!(
        sym::decrypt(key, &ours, aad.as_bytes()).expect("round trip"),
        plaintext.as_bytes()
    );
}

#[test]
fn every_verified_vector_passes() {
    let vectors = common::json("maxcompute/vectors.json");
    let mut checked = Vec::new();
    for v in vectors.as_array().expect("array of vectors") {
        if v["verified"] != Value::Bool(true) {
            continue;
        }
        let function = field(v, "function");
        let aad = v["aad"].as_str().unwrap_or("");
        match function {
            "KEYSET_FROM_JSON" => check_keyset_from_json(v),
            "KEYSET_TO_JSON" => check_keyset_to_json(v),
            "ADD_KEY_TO_KEYSET" => check_add_key(v),
            "ROTATE_KEYSET" => check_rotate(v),
            "NEW_KEYSET" => check_new_keyset(v),
            "ENHANCED_SYM_ENCRYPT" => check_enhanced_decrypt(
                field(v, "keyset_hex"),
                field(v, "output_hex_or_text"),
                aad,
                field(v, "input"),
            ),
            "ENHANCED_SYM_DECRYPT" => check_enhanced_decrypt(
                field(v, "keyset_hex"),
                field(v, "input"),
                aad,
                field(v, "output_hex_or_text"),
            ),
            "SYM_ENCRYPT" => check_sym_decrypt(
                &sym_key(v),
                field(v, "output_hex_or_text"),
                aad,
                field(v, "input"),
            ),
            "SYM_DECRYPT" => check_sym_decrypt(
                &sym_key(v),
                field(v, "input"),
                aad,
                field(v, "output_hex_or_text"),
            ),
            other => panic!("vector for {other} has no check: add one rather than skipping it"),
        }
        checked.push(function.to_owned());
    }
    assert_eq!(checked.len(), 9, "verified vectors checked: {checked:?}");
}

#[test]
fn spec_examples_of_keyset_json_import_unchanged() {
    // The multi-key outputs of the keyset guide (000_969302abb082cab7.txt):
    // ADD_KEY_TO_KEYSET with an empty description, and ROTATE_KEYSET without one.
    let add_key = r#"{"key": [
{"description": "my first keyset", "key_id": "+q8nZQEAgAMtJLmB",
 "key_meta_data": {"key_material_origin": "Origin_ALIYUN_MAXCOMPUTE", "key_material_type": "SYMMETRIC",
   "type": "AES-GCM-256", "value": "Hj//ZKxLE/t0Uq7XRJQoe2OYNwlauDdGmkaQbMfnZ80="},
 "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE", "status": "ENABLED"},
{"description": "", "key_id": "+q8nZQEAML2VArmB",
 "key_meta_data": {"key_material_origin": "Origin_RAW", "key_material_type": "SYMMETRIC",
   "type": "AES-SIV-CMAC-128", "value": "t1WFzzIc3K1CRRaQzbe/xJwmCS9g+FTnLUMkTFViCj0="},
 "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE", "status": "ENABLED"}],
"primary_key_id": "+q8nZQEAML2VArmB"}"#;
    let ks = Keyset::from_json(add_key).expect("parses");
    let infos = ks.key_infos();
    assert_eq!(infos[1].origin, KeyOrigin::Supplied);
    assert_eq!(infos[1].description.as_deref(), Some(""));
    let reparsed: Value = serde_json::from_str(&ks.to_json()).expect("json");
    assert_eq!(
        reparsed,
        serde_json::from_str::<Value>(add_key).expect("json")
    );

    let rotate = r#"{"key": [
{"description": "my first keyset", "key_id": "TbEnZQEAUIEJC7mB",
 "key_meta_data": {"key_material_origin": "Origin_ALIYUN_MAXCOMPUTE", "key_material_type": "SYMMETRIC",
   "type": "AES-GCM-256", "value": "TLAKX8y0/aUbMAtElI+oicEw1fWSTJhZs1D2i3AAf40="},
 "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE", "status": "ENABLED"},
{"key_id": "TbEnZQEAAIy0IrmB",
 "key_meta_data": {"key_material_origin": "Origin_ALIYUN_MAXCOMPUTE", "key_material_type": "SYMMETRIC",
   "type": "AES-GCM-256", "value": "jPewQsmbsajzM/gLNX9QFtENs2n9uvhgrgcrcGgl0A0="},
 "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE", "status": "ENABLED"}],
"primary_key_id": "TbEnZQEAAIy0IrmB"}"#;
    let ks = Keyset::from_json(rotate).expect("parses");
    assert_eq!(ks.key_infos()[1].description, None);
    let reparsed: Value = serde_json::from_str(&ks.to_json()).expect("json");
    assert_eq!(
        reparsed,
        serde_json::from_str::<Value>(rotate).expect("json")
    );
}
