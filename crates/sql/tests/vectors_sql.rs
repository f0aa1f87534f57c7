//! The compatibility vectors of shared/testdata/maxcompute/, through SQL.

mod common;

use common::{Fixture, cell, text};
use sealhouse_crypto::Keyset;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = common::testdata("maxcompute/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Vec<Value> = serde_json::from_str(&text).expect("json");
    all.into_iter()
        .filter(|v| v["verified"] == Value::Bool(true))
        .collect()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("field {name}"))
}

/// JSON of a keyset with its primary (newest) key's id and, if asked, its
/// material masked: what stays the same between two runs of a random function.
fn masked(keyset: &Keyset, mask_material: bool) -> Value {
    let mut v: Value = serde_json::from_str(&keyset.to_json()).expect("json");
    let primary = v["primary_key_id"].clone();
    for key in v["key"].as_array_mut().expect("keys") {
        if key["key_id"] == primary {
            key["key_id"] = "NEW".into();
            if mask_material {
                key["key_meta_data"]["value"] = "MATERIAL".into();
            }
        }
    }
    v["primary_key_id"] = "NEW".into();
    v
}

fn single_value_sql(sql: &str) -> String {
    sql.trim().trim_end_matches(';').to_owned()
}

#[test]
fn verified_vectors_pass_through_sql() {
    let mut fx = Fixture::new();
    fx.sql("CREATE TABLE vec (id_card_no STRING)");
    let mut checked = 0;
    for v in vectors() {
        let function = field(&v, "function");
        let expected = field(&v, "output_hex_or_text");
        match function {
            "KEYSET_FROM_JSON" => {
                let json = field(&v, "input").replace('\'', "''");
                let rows = fx.rows(&format!("SELECT HEX(KEYSET_FROM_JSON('{json}'))"));
                assert_eq!(text(&rows, 0, 0), expected);
            }
            "KEYSET_TO_JSON" => {
                let rows = fx.rows(&single_value_sql(field(&v, "sql")));
                assert_eq!(text(&rows, 0, 0), expected);
            }
            "ADD_KEY_TO_KEYSET" | "ROTATE_KEYSET" | "NEW_KEYSET" => {
                let rows = fx.rows(&single_value_sql(field(&v, "sql")));
                let bytes = if function == "ADD_KEY_TO_KEYSET" {
                    hex::decode(text(&rows, 0, 0)).expect("hex")
                } else {
                    cell(&rows, 0, 0).expect("keyset")
                };
                let ours = Keyset::from_bytes(&bytes).expect("our keyset parses");
                let documented = Keyset::from_bytes(&hex::decode(expected).expect("hex"))
                    .expect("documented parses");
                let generated = function != "ADD_KEY_TO_KEYSET";
                assert_eq!(
                    masked(&ours, generated),
                    masked(&documented, generated),
                    "{function}"
                );
            }
            "ENHANCED_SYM_ENCRYPT" | "SYM_ENCRYPT" => {
                // Random IVs: our ciphertext differs from the documented one,
                // so check that it decrypts back through the matching function.
                fx.sql("INSERT OVERWRITE TABLE vec VALUES ('0001')");
                let rows = fx.rows(&format!("SELECT {} FROM vec", field(&v, "sql")));
                let ciphertext = text(&rows, 0, 0);
                let decrypt = if function == "SYM_ENCRYPT" {
                    "cast(sym_decrypt(unbase64(c), cast('b75585cf321cdcad42451690cdb7bfc4' as binary)) as string)"
                        .to_owned()
                } else {
                    format!(
                        "cast(ENHANCED_SYM_DECRYPT(unhex('{}'), unbase64(c)) as string)",
                        field(&v, "keyset_hex")
                    )
                };
                let rows = fx.rows(&format!(
                    "SELECT {decrypt} FROM (SELECT '{ciphertext}' AS c) t"
                ));
                assert_eq!(text(&rows, 0, 0), field(&v, "input"));
            }
            "ENHANCED_SYM_DECRYPT" | "SYM_DECRYPT" => {
                // The documented ciphertext decrypts to the documented plaintext.
                fx.sql(&format!(
                    "INSERT OVERWRITE TABLE vec VALUES ('{}')",
                    field(&v, "input")
                ));
                let rows = fx.rows(&format!("SELECT {} FROM vec", field(&v, "sql")));
                assert_eq!(text(&rows, 0, 0), expected, "{function}");
            }
            other => panic!("no SQL check for {other}: add one"),
        }
        checked += 1;
    }
    assert_eq!(checked, 9);
}
