//! Bad input gets a clear error, and what is stored stays intact.

mod common;

use common::{Fixture, text};

fn setup() -> Fixture {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE mf_test_data (id STRING, name STRING, tel STRING);
         INSERT INTO mf_test_data VALUES ('1', 'kyle', '13900001234'), ('2', 'tom', '13900001111');
         CREATE TABLE mf_keyset (id STRING, ks BINARY);
         INSERT INTO mf_keyset SELECT '1', NEW_KEYSET('AES-GCM-256', 'k1');
         INSERT INTO mf_keyset SELECT '2', NEW_KEYSET('AES-GCM-256', 'k2');
         CREATE TABLE enc AS SELECT t.id, ENHANCED_SYM_ENCRYPT(k.ks, t.tel, 'ctx') AS tel
           FROM mf_test_data t JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k;",
    );
    fx
}

fn assert_intact(fx: &mut Fixture) {
    let rows = fx.rows("SELECT count(*) FROM mf_test_data");
    assert_eq!(text(&rows, 0, 0), "2");
    let rows = fx.rows("SELECT count(*) FROM mf_keyset");
    assert_eq!(text(&rows, 0, 0), "2");
    let rows = fx.rows(
        "SELECT CAST(ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'ctx') AS STRING) FROM enc e
         JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k ORDER BY e.id",
    );
    assert_eq!(
        (text(&rows, 0, 0), text(&rows, 1, 0)),
        ("13900001234".into(), "13900001111".into())
    );
}

#[test]
fn each_kind_of_mistake_is_named() {
    let mut fx = setup();
    let cases: &[(&str, &str)] = &[
        (
            "SELECT ENHANCED_SYM_ENCRYPT(ks) FROM mf_keyset",
            "ENHANCED_SYM_ENCRYPT takes 2 to 3 arguments, but 1 were given",
        ),
        (
            "SELECT ENHANCED_SYM_ENCRYPT(ks, 42) FROM mf_keyset",
            "argument plaintext must be BINARY or STRING, not BIGINT",
        ),
        (
            "SELECT NEW_KEYSET('AES-GCM-128', 'x')",
            "unknown key algorithm 'AES-GCM-128'; valid algorithms are AES-GCM-256",
        ),
        (
            "SELECT ENHANCED_SYM_ENCRYPT(UNHEX('0A01'), 'x')",
            "ENHANCED_SYM_ENCRYPT: malformed keyset bytes",
        ),
        (
            "SELECT KEYSET_TO_JSON(CAST('not a keyset' AS BINARY))",
            "KEYSET_TO_JSON: malformed keyset bytes",
        ),
        (
            "SELECT KEYSET_FROM_JSON('{\"key\": 1}')",
            "KEYSET_FROM_JSON: malformed keyset JSON",
        ),
        (
            "SELECT ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'ctx') FROM enc e JOIN (SELECT ks FROM mf_keyset WHERE id = '2') k",
            "decryption failed",
        ),
        (
            "SELECT ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'other') FROM enc e JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k",
            "decryption failed",
        ),
        (
            "SELECT ENHANCED_SYM_DECRYPT(k.ks, UNHEX('00'), '') FROM mf_keyset k",
            "ciphertext is 1 bytes, shorter than the 60 bytes",
        ),
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM nowhere", "nowhere"),
        ("INSERT INTO nowhere VALUES (1)", "nowhere"),
        (
            "SELECT SYM_ENCRYPT('x', CAST('short' AS BINARY))",
            "SYM_ENCRYPT takes a 32-byte key, but the key supplied is 5 bytes",
        ),
        ("SELECT UNHEX('xyz')", "UNHEX: the text is not hexadecimal"),
        ("SELECT @undefined", "variable @undefined is not defined"),
        ("CREATE TABLE mf_keyset (id STRING)", "already exists"),
    ];
    for (sql, expected) in cases {
        let err = fx.error(sql);
        assert!(
            err.contains(expected),
            "{sql}\n  gave: {err}\n  expected to contain: {expected}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_intact(&mut fx);
}

#[test]
fn failing_insert_changes_nothing() {
    let mut fx = setup();
    // The second row fails to decrypt under keyset 2, after the first row's
    // value was produced: the statement must leave no row behind.
    fx.sql("CREATE TABLE out (v BINARY)");
    let err = fx.error(
        "INSERT INTO out SELECT TRY_ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'ctx') FROM enc e
         JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k
         UNION ALL SELECT ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'ctx') FROM enc e
         JOIN (SELECT ks FROM mf_keyset WHERE id = '2') k",
    );
    assert!(err.contains("decryption failed"), "{err}");
    assert_eq!(text(&fx.rows("SELECT count(*) FROM out"), 0, 0), "0");
    let err = fx.error(
        "CREATE TABLE half AS SELECT ENHANCED_SYM_DECRYPT(UNHEX('00'), CAST('x' AS BINARY))",
    );
    assert!(err.contains("malformed keyset"), "{err}");
    assert!(
        fx.error("SELECT * FROM half").contains("half"),
        "a failed CREATE TABLE AS leaves no table"
    );
    assert_intact(&mut fx);
}

#[test]
fn try_decrypt_gives_null_where_decrypt_fails() {
    let mut fx = setup();
    let rows = fx.rows(
        "SELECT TRY_ENHANCED_SYM_DECRYPT(k.ks, e.tel, 'ctx') FROM enc e JOIN (SELECT ks FROM mf_keyset WHERE id = '2') k",
    );
    assert_eq!(rows.num_rows(), 2);
    assert!(common::cell(&rows, 0, 0).is_none() && common::cell(&rows, 1, 0).is_none());
}
