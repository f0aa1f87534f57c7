//! No key material in any Debug or Display output, or in any error message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealhouse_crypto::primitive::{AesGcm256, AesSiv};
use sealhouse_crypto::sym::SymCipher;
use sealhouse_crypto::{Algorithm, Keyset, KeysetCipher, SecretBytes};

/// A recognisable 64-byte key.
const MATERIAL: [u8; 64] = {
    let mut m = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        m[i] = 0xA0 ^ (i as u8).wrapping_mul(37);
        i += 1;
    }
    m
};

/// Fails if `shown` contains any rendering of any 8-byte window of the key.
fn assert_no_material(what: &str, shown: &str) {
    let lower = shown.to_lowercase();
    for window in MATERIAL.windows(8) {
        let renderings = [
            hex::encode(window),
            format!("{:?}", window).trim_matches(['[', ']']).to_owned(),
            format!("{:x?}", window).trim_matches(['[', ']']).to_owned(),
        ];
        for r in renderings {
            assert!(
                !lower.contains(&r.to_lowercase()),
                "{what} shows key material: {shown}"
            );
        }
    }
    for key_len in [32, 64] {
        let b64 = STANDARD.encode(&MATERIAL[..key_len]);
        assert!(
            !shown.contains(&b64[..20]),
            "{what} shows base64 key material: {shown}"
        );
    }
}

#[test]
fn debug_and_display_never_show_material() {
    let mut ks = Keyset::new(Algorithm::AesGcm256, "desc").expect("new");
    ks.add_raw_key(
        Algorithm::AesSivCmac256,
        SecretBytes::from_slice(&MATERIAL),
        "raw",
    )
    .expect("add");
    ks.add_raw_key(
        Algorithm::AesGcm256,
        SecretBytes::from_slice(&MATERIAL[..32]),
        "raw32",
    )
    .expect("add");
    let cipher = KeysetCipher::new(&ks).expect("prepare");
    let secret = SecretBytes::from_slice(&MATERIAL);
    let checks = [
        ("Keyset", format!("{ks:?} {ks:#?}")),
        ("Key", format!("{:?}", ks.keys())),
        ("KeyInfo", format!("{:?}", ks.key_infos())),
        ("KeysetCipher", format!("{cipher:?}")),
        ("SecretBytes", format!("{secret:?} {secret:#?}")),
        ("to_bytes", format!("{:?}", ks.to_bytes())),
        (
            "AesGcm256",
            format!(
                "{:?}",
                AesGcm256::new(&SecretBytes::from_slice(&MATERIAL[..32])).expect("gcm")
            ),
        ),
        (
            "AesSiv",
            format!(
                "{:?}",
                AesSiv::new(Algorithm::AesSivCmac256, &secret).expect("siv")
            ),
        ),
        (
            "SymCipher",
            format!("{:?}", SymCipher::new(&MATERIAL[..32]).expect("sym")),
        ),
    ];
    for (what, shown) in checks {
        assert_no_material(what, &shown);
    }
}

#[test]
fn errors_never_show_material() {
    let mut ks = Keyset::new(Algorithm::AesGcm256, "desc").expect("new");
    let material_text = String::from_utf8_lossy(&MATERIAL).into_owned();
    let b64 = STANDARD.encode(MATERIAL);
    let errors = [
        // Key bytes passed where the algorithm name belongs.
        Algorithm::parse(&material_text).unwrap_err(),
        Algorithm::parse(&b64).unwrap_err(),
        Algorithm::parse(&hex::encode(MATERIAL)).unwrap_err(),
        ks.add_raw_key(
            Algorithm::AesGcm256,
            SecretBytes::from_slice(&MATERIAL[..31]),
            "",
        )
        .unwrap_err(),
        Keyset::from_bytes(&MATERIAL).unwrap_err(),
        Keyset::from_json(&format!("{{\"primary_key_id\": \"{b64}\"}}")).unwrap_err(),
        Keyset::from_json(&format!("{{\"key\": [{{\"status\": \"{b64}\"}}]}}")).unwrap_err(),
        Keyset::from_json(&format!("{{\"key\": \"{b64}\"}}")).unwrap_err(),
        sealhouse_crypto::sym::encrypt(&MATERIAL, b"x", b"").unwrap_err(),
    ];
    for e in errors {
        assert_no_material("error", &format!("{e} {e:?}"));
    }
}
