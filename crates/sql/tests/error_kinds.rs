//! Each kind of failure comes out of a statement as its own variant of
//! `SqlError`, whatever DataFusion layer it crossed, and so with its own
//! SQLSTATE: a client can tell a typo in a name from a refused value, a
//! decryption failure, or an unsupported statement without reading text.

mod common;

use common::Fixture;
use sealhouse_sql::{ObjectKind, SqlError};

fn failure(f: &mut Fixture, sql: &str) -> SqlError {
    match f.try_typed(sql) {
        Ok(_) => panic!("{sql} unexpectedly succeeded"),
        Err(e) => e,
    }
}

fn assert_not_found(f: &mut Fixture, sql: &str, expected: ObjectKind, sqlstate: &str) {
    let e = failure(f, sql);
    assert!(
        matches!(&e, SqlError::NotFound { kind, .. } if *kind == expected),
        "{sql}: {e:?}"
    );
    assert_eq!(e.sqlstate(), sqlstate, "{sql}: {e}");
}

#[test]
fn missing_names_say_what_kind_of_thing_is_missing() {
    let mut f = Fixture::new();
    f.sql("CREATE TABLE t (id BIGINT, name STRING)");
    assert_not_found(&mut f, "SELECT * FROM nope", ObjectKind::Table, "42P01");
    assert_not_found(
        &mut f,
        "SELECT * FROM nowhere.t",
        ObjectKind::Table,
        "42P01",
    );
    // A join of a table that exists with one that does not.
    assert_not_found(
        &mut f,
        "SELECT * FROM t JOIN nope ON t.id = nope.id",
        ObjectKind::Table,
        "42P01",
    );
    assert_not_found(&mut f, "SELECT nope FROM t", ObjectKind::Column, "42703");
    assert_not_found(
        &mut f,
        "SELECT no_such_fn(id) FROM t",
        ObjectKind::Function,
        "42883",
    );
    assert_not_found(&mut f, "SELECT @nope", ObjectKind::Variable, "42704");
}

#[test]
fn a_planning_error_naming_things_that_exist_stays_a_planning_error() {
    let mut f = Fixture::new();
    f.sql("CREATE TABLE t (id BIGINT, name STRING)");
    // Known function, known table, wrong argument count: not "not found".
    let e = failure(&mut f, "SELECT ENHANCED_SYM_ENCRYPT(name) FROM t");
    assert!(matches!(e, SqlError::Plan(_)), "{e:?}");
    assert_eq!(e.sqlstate(), "42000");
    // A CTE is not a missing table.
    let e = failure(&mut f, "WITH c AS (SELECT 1 AS x) SELECT y FROM c");
    assert!(
        matches!(
            e,
            SqlError::NotFound {
                kind: ObjectKind::Column,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn refused_values_and_failed_decryption_are_told_apart() {
    let mut f = Fixture::new();
    // A value a function refuses, deep inside a query plan.
    let e = failure(&mut f, "SELECT NEW_KEYSET('DES')");
    assert!(matches!(e, SqlError::InvalidInput(_)), "{e:?}");
    assert_eq!(e.sqlstate(), "22023");
    assert!(e.to_string().contains("NEW_KEYSET"), "{e}");
    let e = failure(&mut f, "SELECT KEYSET_FROM_JSON('{}')");
    assert!(matches!(e, SqlError::InvalidInput(_)), "{e:?}");

    // A ciphertext under another keyset: the one opaque decryption failure.
    f.sql(
        "CREATE TABLE k AS SELECT NEW_KEYSET('AES-GCM-256') AS a, NEW_KEYSET('AES-GCM-256') AS b",
    );
    let e = failure(
        &mut f,
        "SELECT ENHANCED_SYM_DECRYPT(b, ENHANCED_SYM_ENCRYPT(a, 'secret')) FROM k",
    );
    assert!(matches!(e, SqlError::DecryptionFailed(_)), "{e:?}");
    assert_eq!(e.sqlstate(), "39000");
    assert!(!e.to_string().contains("secret"), "{e}");
    // The same through a join's shared build side.
    f.sql("CREATE TABLE c AS SELECT ENHANCED_SYM_ENCRYPT(a, 'secret') AS ct FROM k");
    let e = failure(
        &mut f,
        "SELECT x.p FROM (SELECT ENHANCED_SYM_DECRYPT(k.b, c.ct) AS p FROM k CROSS JOIN c) x \
         JOIN k ON x.p IS NOT NULL",
    );
    assert!(matches!(e, SqlError::DecryptionFailed(_)), "{e:?}");
}

#[test]
fn unsupported_statements_and_names_taken_have_their_kinds() {
    let mut f = Fixture::new();
    let e = failure(&mut f, "CREATE TEMPORARY TABLE t (id BIGINT)");
    assert!(matches!(e, SqlError::Unsupported(_)), "{e:?}");
    assert_eq!(e.sqlstate(), "0A000");
    let e = failure(&mut f, "CREATE VIEW v AS SELECT 1");
    assert_eq!(e.sqlstate(), "0A000", "{e}");
    f.sql("CREATE TABLE t (id BIGINT)");
    let e = failure(&mut f, "CREATE TABLE t (id BIGINT)");
    assert_eq!(e.sqlstate(), "42P07", "{e}");
    let e = failure(&mut f, "CREATE PROJECT default");
    assert_eq!(e.sqlstate(), "42P06", "{e}");
    let e = failure(&mut f, "USE nowhere");
    assert_eq!(e.sqlstate(), "3F000", "{e}");
    let e = failure(&mut f, "SELEC 1");
    assert_eq!(e.sqlstate(), "42601", "{e}");
}

/// The data files of the fixture's directory.
fn data_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn a_damaged_or_missing_data_file_is_data_corruption() {
    let mut f = Fixture::new();
    f.sql("CREATE TABLE t (id BIGINT)");
    f.sql("INSERT INTO t VALUES (1), (2), (3)");
    let files = data_files(f.dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).expect("read");
    std::fs::write(&files[0], &bytes[..bytes.len() / 2]).expect("truncate");
    let e = failure(&mut f, "SELECT SUM(id) FROM t");
    assert!(
        matches!(
            e,
            SqlError::Storage(sealhouse_storage::StorageError::DamagedFile(_))
        ),
        "{e:?}"
    );
    assert_eq!(e.sqlstate(), "XX001", "{e}");
    std::fs::remove_file(&files[0]).expect("remove");
    let e = failure(&mut f, "SELECT SUM(id) FROM t");
    assert_eq!(e.sqlstate(), "XX001", "{e}");
    assert!(e.to_string().contains("is missing"), "{e}");
}
