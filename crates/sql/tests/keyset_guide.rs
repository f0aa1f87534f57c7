//! The spec's keyset guide (examples/keyset_guide.sql) runs and every
//! documented output holds, random bytes aside.

mod common;

use common::{Fixture, cell, text};
use sealhouse_crypto::{Algorithm, KeyOrigin, KeyStatus, Keyset, KeysetCipher};
use sealhouse_sql::StatementOutput;
use serde_json::Value;

#[test]
fn the_guide_runs_and_gives_the_documented_results() {
    let mut fx = Fixture::new();
    let script =
        std::fs::read_to_string(common::repo_file("examples/keyset_guide.sql")).expect("script");
    let outputs = fx.script(&script);
    let rows: Vec<_> = outputs
        .into_iter()
        .filter_map(|o| match o {
            StatementOutput::Rows(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 7, "seven SELECTs");

    // SELECT * FROM mf_test_data
    let data = &rows[0];
    assert_eq!(data.names, vec!["id", "name", "tel"]);
    let table: Vec<Vec<String>> = (0..2)
        .map(|r| (0..3).map(|c| text(data, r, c)).collect())
        .collect();
    assert_eq!(
        table,
        vec![
            vec!["1", "kyle", "13900001234"],
            vec!["2", "tom", "13900001111"]
        ]
    );

    // NEW_KEYSET: one enabled AES-GCM-256 key described 'my first keyset'.
    assert_eq!(rows[1].names, vec!["_c0"]);
    let ks = Keyset::from_bytes(&cell(&rows[1], 0, 0).expect("keyset")).expect("parses");
    let infos = ks.key_infos();
    assert_eq!(infos.len(), 1);
    assert_eq!(
        (infos[0].algorithm, infos[0].status),
        (Algorithm::AesGcm256, KeyStatus::Enabled)
    );
    assert_eq!(infos[0].description.as_deref(), Some("my first keyset"));

    // KEYSET_TO_JSON(NEW_KEYSET(...)): the documented structure.
    let json: Value = serde_json::from_str(&text(&rows[2], 0, 0)).expect("json");
    let key = &json["key"][0];
    assert_eq!(json["key"].as_array().expect("keys").len(), 1);
    assert_eq!(json["primary_key_id"], key["key_id"]);
    assert_eq!(key["description"], "my first keyset");
    assert_eq!(key["status"], "ENABLED");
    assert_eq!(key["output_prefix_type"], "PREFIX_ALIYUN_MAXCOMPUTE");
    assert_eq!(key["key_meta_data"]["type"], "AES-GCM-256");
    assert_eq!(
        key["key_meta_data"]["key_material_origin"],
        "Origin_ALIYUN_MAXCOMPUTE"
    );
    assert_eq!(key["key_meta_data"]["key_material_type"], "SYMMETRIC");
    assert_eq!(
        key["key_meta_data"]["value"].as_str().expect("value").len(),
        44,
        "32 bytes in base64"
    );

    // ADD_KEY_TO_KEYSET: two keys, the supplied AES-SIV-CMAC-128 key is primary.
    let added = Keyset::from_json(&text(&rows[3], 0, 0)).expect("json keyset");
    let infos = added.key_infos();
    assert_eq!(infos.len(), 2);
    assert!(infos[1].is_primary);
    assert_eq!(
        (infos[1].algorithm, infos[1].origin),
        (Algorithm::AesSivCmac128, KeyOrigin::Supplied)
    );
    assert_eq!(infos[1].description.as_deref(), Some(""));
    let json: Value = serde_json::from_str(&text(&rows[3], 0, 0)).expect("json");
    assert_eq!(
        json["key"][1]["key_meta_data"]["value"],
        "t1WFzzIc3K1CRRaQzbe/xJwmCS9g+FTnLUMkTFViCj0="
    );
    assert_eq!(
        json["key"][1]["key_meta_data"]["key_material_origin"],
        "Origin_RAW"
    );

    // ROTATE_KEYSET: two AES-GCM-256 keys, the generated one primary, without description.
    let rotated = Keyset::from_json(&text(&rows[4], 0, 0)).expect("json keyset");
    let infos = rotated.key_infos();
    assert_eq!(infos.len(), 2);
    assert!(infos[1].is_primary && !infos[0].is_primary);
    assert_eq!(infos[1].origin, KeyOrigin::Generated);
    assert_eq!(infos[1].description, None);
    assert!(infos.iter().all(|k| k.algorithm == Algorithm::AesGcm256));

    // The encrypted tel column: BINARY ciphertexts that decrypt with the stored keyset.
    let encrypted = &rows[5];
    assert_eq!(encrypted.names, vec!["id", "name", "tel"]);
    let stored = fx.rows("SELECT ks FROM mf_keyset WHERE id = '1'");
    let cipher =
        KeysetCipher::from_keyset_bytes(&cell(&stored, 0, 0).expect("ks")).expect("keyset");
    for (r, tel) in ["13900001234", "13900001111"].iter().enumerate() {
        let ct = cell(encrypted, r, 2).expect("ciphertext");
        assert_eq!(ct.len(), tel.len() + 60);
        assert_eq!(cipher.decrypt(&ct, b"").expect("decrypts"), tel.as_bytes());
    }

    // Decrypted: the original values.
    let decrypted = &rows[6];
    assert_eq!(decrypted.names, vec!["id", "name", "tel"]);
    assert_eq!(
        (0..2)
            .map(|r| (
                text(decrypted, r, 0),
                text(decrypted, r, 1),
                text(decrypted, r, 2)
            ))
            .collect::<Vec<_>>(),
        vec![
            ("1".into(), "kyle".into(), "13900001234".into()),
            ("2".into(), "tom".into(), "13900001111".into())
        ]
    );

    // And the script runs again on the same data directory.
    let outputs = fx.script(&script);
    assert_eq!(
        outputs
            .iter()
            .filter(|o| matches!(o, StatementOutput::Rows(_)))
            .count(),
        7
    );
}
