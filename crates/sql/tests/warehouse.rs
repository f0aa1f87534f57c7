//! Tables, projects, persistence, script mode and the extra keyset functions.

mod common;

use common::{Fixture, cell, text};
use sealhouse_crypto::{KeyStatus, Keyset, KeysetCipher};

#[test]
fn tables_persist_across_sessions() {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE t (s STRING, b BINARY, i BIGINT, n INT, d DOUBLE, f BOOLEAN, m DECIMAL(10,2), dt DATE,
                         ts DATETIME, tn TIMESTAMP);
         INSERT INTO t VALUES ('a', UNHEX('00FF'), 1, 2, 1.5, true, 3.25, DATE '2024-01-02',
                               TIMESTAMP '2024-01-02 03:04:05.678', TIMESTAMP '2024-01-02 03:04:05.123456789');",
    );
    fx.reopen();
    let desc = fx.rows("DESC t");
    let types: Vec<String> = (0..desc.num_rows()).map(|r| text(&desc, r, 1)).collect();
    assert_eq!(
        types,
        vec![
            "STRING",
            "BINARY",
            "BIGINT",
            "INT",
            "DOUBLE",
            "BOOLEAN",
            "DECIMAL(10,2)",
            "DATE",
            "DATETIME",
            "TIMESTAMP"
        ]
    );
    let rows = fx.rows("SELECT s, HEX(b), i, n, d, f, m, dt, ts FROM t");
    let values: Vec<String> = (0..9).map(|c| text(&rows, 0, c)).collect();
    assert_eq!(
        values,
        vec![
            "a",
            "00FF",
            "1",
            "2",
            "1.5",
            "true",
            "3.25",
            "2024-01-02",
            "2024-01-02T03:04:05.678"
        ]
    );
}

#[test]
fn insert_overwrite_ctas_drop_and_show() {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE a (x BIGINT);
         INSERT INTO a VALUES (1), (2);
         INSERT INTO a SELECT x + 10 FROM a;
         CREATE TABLE b AS SELECT x * 2, x AS y FROM a WHERE x > 1;",
    );
    assert_eq!(text(&fx.rows("SELECT count(*) FROM a"), 0, 0), "4");
    let b = fx.rows("SELECT * FROM b ORDER BY y");
    assert_eq!(b.names, vec!["_c0", "y"]);
    assert_eq!(b.num_rows(), 3);
    fx.sql("INSERT OVERWRITE TABLE a SELECT 7");
    assert_eq!(text(&fx.rows("SELECT sum(x) FROM a"), 0, 0), "7");
    let tables = fx.rows("SHOW TABLES");
    assert_eq!(
        (text(&tables, 0, 0), text(&tables, 1, 0)),
        ("a".into(), "b".into())
    );
    fx.sql("DROP TABLE b");
    assert!(fx.error("SELECT * FROM b").contains("b"));
    fx.sql("DROP TABLE IF EXISTS b");
    // Subqueries and a join without ON, as in the spec.
    let rows =
        fx.rows("SELECT t.x, k.c FROM (SELECT x FROM a) t JOIN (SELECT count(*) AS c FROM a) k");
    assert_eq!(
        (text(&rows, 0, 0), text(&rows, 0, 1)),
        ("7".into(), "1".into())
    );
    let rows = fx.rows("SELECT x FROM a WHERE x IN (SELECT max(x) FROM a)");
    assert_eq!(rows.num_rows(), 1);
}

#[test]
fn projects_isolate_tables_and_use_switches() {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE t (v STRING); INSERT INTO t VALUES ('in default');
         CREATE PROJECT sales; USE sales;
         CREATE TABLE t (v STRING); INSERT INTO t VALUES ('in sales');",
    );
    assert_eq!(fx.warehouse.project(), "sales");
    assert_eq!(text(&fx.rows("SELECT v FROM t"), 0, 0), "in sales");
    assert_eq!(
        text(&fx.rows("SELECT v FROM default.t"), 0, 0),
        "in default"
    );
    let projects = fx.rows("SHOW PROJECTS");
    assert_eq!(projects.num_rows(), 2);
    assert!(
        fx.error("USE nowhere")
            .contains("project 'nowhere' does not exist")
    );
    fx.sql("USE default");
    assert_eq!(text(&fx.rows("SELECT v FROM t"), 0, 0), "in default");
}

#[test]
fn script_variables_and_set() {
    let mut fx = Fixture::new();
    fx.script(
        "@ks := NEW_KEYSET('AES-SIV-CMAC-256', 'det');
         @aad := 'context';
         SET odps.sql.type.system.odps2=true;
         CREATE TABLE e AS SELECT ENHANCED_SYM_ENCRYPT(@ks, 'v', @aad) AS c1, ENHANCED_SYM_ENCRYPT(@ks, 'v', @aad) AS c2;",
    );
    // The variable was evaluated once: both columns used the same keyset,
    // and AES-SIV is deterministic.
    let rows =
        fx.rows("SELECT c1 = c2, CAST(ENHANCED_SYM_DECRYPT(@ks, c1, @aad) AS STRING) FROM e");
    assert_eq!(
        (text(&rows, 0, 0), text(&rows, 0, 1)),
        ("true".into(), "v".into())
    );
    let settings = fx.rows("SET");
    assert_eq!(text(&settings, 0, 0), "odps.sql.type.system.odps2");
    assert!(fx.error("@t := SELECT 1").contains("table variables"));
}

#[test]
fn key_state_functions_and_reencryption() {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE k (ks BINARY);
         INSERT INTO k SELECT NEW_KEYSET('AES-GCM-256', 'first');
         CREATE TABLE d AS SELECT ENHANCED_SYM_ENCRYPT(ks, 'secret') AS c FROM k;
         INSERT OVERWRITE TABLE k SELECT ROTATE_KEYSET(ks, 'AES-SIV-CMAC-256') FROM k;",
    );
    let old_id = {
        let ks = Keyset::from_bytes(&cell(&fx.rows("SELECT ks FROM k"), 0, 0).expect("ks"))
            .expect("keyset");
        ks.keys()[0].id().to_string()
    };
    // Re-encrypt under the new primary without the plaintext leaving SQL.
    fx.sql("CREATE TABLE d2 AS SELECT ENHANCED_SYM_REENCRYPT(k.ks, d.c) AS c FROM d JOIN k");
    // Disable the old key: old ciphertexts fail, re-encrypted ones still decrypt.
    fx.sql(&format!(
        "INSERT OVERWRITE TABLE k SELECT DISABLE_KEY_IN_KEYSET(ks, '{old_id}') FROM k"
    ));
    assert!(
        fx.error("SELECT ENHANCED_SYM_DECRYPT(k.ks, d.c) FROM d JOIN k")
            .contains("decryption failed")
    );
    let rows = fx.rows("SELECT CAST(ENHANCED_SYM_DECRYPT(k.ks, d2.c) AS STRING) FROM d2 JOIN k");
    assert_eq!(text(&rows, 0, 0), "secret");
    // Destroy it: the material leaves the keyset.
    fx.sql(&format!(
        "INSERT OVERWRITE TABLE k SELECT DESTROY_KEY_IN_KEYSET(ks, '{old_id}') FROM k"
    ));
    let bytes = cell(&fx.rows("SELECT ks FROM k"), 0, 0).expect("ks");
    let ks = Keyset::from_bytes(&bytes).expect("keyset");
    assert_eq!(ks.keys()[0].status(), KeyStatus::Destroyed);
    assert!(KeysetCipher::new(&ks).is_ok());
    let err = fx.error(&format!(
        "SELECT SET_PRIMARY_KEY_IN_KEYSET(ks, '{old_id}') FROM k"
    ));
    assert!(err.contains("DESTROYED"), "{err}");
}

/// Rows per batch of `query`'s result, in order.
fn batch_rows(fx: &mut Fixture, query: &str) -> Vec<usize> {
    let rows = fx.rows(query);
    rows.batches.iter().map(|b| b.num_rows()).collect()
}

#[test]
fn scans_of_wide_rows_come_in_batches_of_about_two_mib() {
    let mut fx = Fixture::new();
    fx.script(
        "CREATE TABLE wide AS SELECT value AS id, lpad(CAST(value AS STRING), 1024, 'x') AS x
           FROM range(9000);
         CREATE TABLE narrow AS SELECT value AS id, CAST(value AS STRING) AS x FROM range(20000);",
    );
    // 1032 bytes a row: about 2 MiB is 2032 rows, not the session's 8192.
    let wide = batch_rows(&mut fx, "SELECT * FROM wide");
    assert_eq!(wide.iter().sum::<usize>(), 9000);
    assert!(
        wide.iter().all(|&n| n <= 2 * 1024 * 1024 / 1032),
        "{wide:?}"
    );
    assert!(wide.len() >= 5, "{wide:?}");
    // Reading only the id, rows are narrow again.
    let ids = batch_rows(&mut fx, "SELECT id FROM wide");
    assert!(ids.iter().any(|&n| n > 2032), "{ids:?}");
    // Narrow rows keep the session's size, and a smaller size asked for
    // is kept for wide rows too.
    let narrow = batch_rows(&mut fx, "SELECT * FROM narrow");
    assert!(narrow.contains(&8192), "{narrow:?}");
    fx.ok("SET datafusion.execution.batch_size = 1000");
    let small = batch_rows(&mut fx, "SELECT * FROM wide");
    assert!(small.iter().all(|&n| n <= 1000), "{small:?}");
    // The rows are the table's, whatever the batches.
    let count = fx.rows("SELECT count(*), sum(id), min(length(x)) FROM wide");
    assert_eq!(
        (0..3).map(|c| text(&count, 0, c)).collect::<Vec<_>>(),
        ["9000", "40495500", "1024"]
    );
}

#[test]
fn files_from_one_mib_on_disk_are_split_across_cores() {
    let mut fx = Fixture::new();
    // 40,000 hex digests (32 bytes each, which LZ4 does not shrink): a file
    // of about 1.3 MiB, under DataFusion's own 10 MiB threshold.
    fx.script(
        "CREATE TABLE digests AS SELECT value AS id, md5(CAST(value AS STRING)) AS h
           FROM range(40000);
         SET datafusion.execution.target_partitions = 2;",
    );
    let plan = fx.rows("EXPLAIN SELECT count(*) FROM digests WHERE h > 'f'");
    let plan: String = (0..plan.num_rows()).map(|r| text(&plan, r, 1)).collect();
    assert!(plan.contains("file_groups={2 groups"), "{plan}");
    let count = fx.rows("SELECT count(*) FROM digests WHERE h >= '0'");
    assert_eq!(text(&count, 0, 0), "40000");
}
