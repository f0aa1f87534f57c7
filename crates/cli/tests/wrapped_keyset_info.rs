//! USE_WRAPPED_KEYSET's `wrapped_keyset_info` through the real binary, as
//! scripts written for the original service read it (issue 21, item 7): a
//! key's type by GET_JSON_OBJECT, and never any key material.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

#[test]
fn scripts_read_key_types_from_the_wrapped_keyset_info() {
    let w = World::new();
    w.warehouse_kms_role(None, "mf-secr");
    let key = fields(&w.ok(None, &["kms", "create-key"]))["arn"].clone();
    let account = w.ok(None, &["iam", "whoami"]);
    let account = account.trim().trim_start_matches("acs:ram::");
    let account = account.trim_end_matches(":root");
    let role = format!("acs:ram::{account}:role/mf-secr");
    let script = format!(
        "@kms := '{key}';\n\
         @role := '{role}';\n\
         @ks := NEW_WRAPPED_KEYSET(@kms, @role, 'AES-SIV-CMAC-256', 'for scripts');\n\
         SELECT GET_JSON_OBJECT(USE_WRAPPED_KEYSET(@kms, @role, @ks).wrapped_keyset_info, \
           '$.masked_keyset.key[0].key_meta_data.type') AS key_type, \
           GET_JSON_OBJECT(USE_WRAPPED_KEYSET(@kms, @role, @ks).wrapped_keyset_info, \
           '$.kms_cmk_arn') AS cmk;\n\
         SELECT USE_WRAPPED_KEYSET(@kms, @role, @ks).wrapped_keyset_info AS info;"
    );
    let out = w.ok(None, &["sql", "--format", "json", "-e", &script]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        // Rows are JSON objects; assignments report themselves in text.
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l} in {out}")))
        .collect();
    assert_eq!(rows[0]["key_type"], "AES-SIV-CMAC-256", "{out}");
    assert_eq!(rows[0]["cmk"], key.as_str(), "{out}");
    let info: serde_json::Value = serde_json::from_str(rows[1]["info"].as_str().unwrap()).unwrap();
    assert_eq!(info["role_arn"], role.as_str());
    let meta = &info["masked_keyset"]["key"][0]["key_meta_data"];
    assert_eq!(meta["type"], "AES-SIV-CMAC-256", "{info}");
    assert!(meta.get("value").is_none(), "key material in {info}");
    assert!(!out.contains("\"value\""), "{out}");
}
