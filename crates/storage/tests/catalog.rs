//! The catalog and atomic commits, on a real data directory.

use futures::executor::block_on;
use std::io::Write;

use arrow::datatypes::{DataType, Field, Schema};
use sealhouse_crypto::SecretBytes;
use sealhouse_storage::{
    Catalog, CatalogKey, ColumnType, CommitMode, DEFAULT_PROJECT, StorageError,
};

/// The same catalog key on every open, as one root key gives.
fn key() -> CatalogKey {
    CatalogKey::new(&SecretBytes::from_slice(&[7; 32])).expect("key")
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("ks", DataType::Binary, true),
    ])
}

fn stage_with(catalog: &Catalog, content: &[u8], rows: u64) -> sealhouse_storage::StagedFile {
    let mut staged = catalog.stage().expect("stage");
    std::fs::File::create(staged.path())
        .and_then(|mut f| f.write_all(content))
        .expect("write");
    staged.set_rows(rows);
    staged
}

#[test]
fn projects_and_tables_persist_across_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let catalog = Catalog::open(dir.path(), key()).expect("open");
        catalog.create_project("Sales", false).expect("create");
        assert!(matches!(
            catalog.create_project("sales", false),
            Err(StorageError::ProjectExists(_))
        ));
        let t = catalog
            .create_table("sales", "MF_Keyset", &schema(), false)
            .expect("table");
        assert_eq!(t.name, "mf_keyset");
        assert_eq!(
            t.columns,
            vec![
                ("id".into(), ColumnType::String),
                ("ks".into(), ColumnType::Binary)
            ]
        );
        assert!(matches!(
            catalog.create_table("sales", "mf_keyset", &schema(), false),
            Err(StorageError::TableExists { .. })
        ));
        assert_eq!(
            catalog
                .create_table("sales", "mf_keyset", &schema(), true)
                .expect("exists")
                .id,
            t.id
        );
    }
    let catalog = Catalog::open(dir.path(), key()).expect("reopen");
    let names: Vec<_> = catalog
        .projects()
        .expect("projects")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, vec![DEFAULT_PROJECT.to_owned(), "sales".to_owned()]);
    assert_eq!(
        catalog.tables("sales").expect("tables")[0].name,
        "mf_keyset"
    );
    let err = catalog.table("sales", "nope").unwrap_err().to_string();
    assert!(err.contains("table 'sales.nope' does not exist"), "{err}");
    let err = catalog.tables("nope").unwrap_err().to_string();
    assert!(err.contains("project 'nope' does not exist"), "{err}");
}

#[test]
fn commit_append_and_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(dir.path(), key()).expect("open");
    let t = catalog
        .create_table(DEFAULT_PROJECT, "t", &schema(), false)
        .expect("table");
    block_on(catalog.commit(
        &t,
        vec![stage_with(&catalog, b"one", 1)],
        CommitMode::Append,
    ))
    .expect("commit");
    block_on(catalog.commit(
        &t,
        vec![stage_with(&catalog, b"two", 2)],
        CommitMode::Append,
    ))
    .expect("commit");
    let files = catalog.files(&t).expect("files");
    assert_eq!(files.iter().map(|f| f.rows).collect::<Vec<_>>(), vec![1, 2]);
    assert!(files.iter().all(|f| dir.path().join(&f.key).exists()));

    block_on(catalog.commit(
        &t,
        vec![stage_with(&catalog, b"three", 3)],
        CommitMode::Overwrite,
    ))
    .expect("overwrite");
    let after = catalog.files(&t).expect("files");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].rows, 3);
    // No query reads them: the replaced files are gone at once (a query's
    // lease keeps them until it ends; storage's retired.rs tests that).
    assert!(
        files.iter().all(|f| !dir.path().join(&f.key).exists()),
        "replaced files are deleted"
    );
}

#[test]
fn uncommitted_and_dropped_leave_nothing_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(dir.path(), key()).expect("open");
    let t = catalog
        .create_table(DEFAULT_PROJECT, "t", &schema(), false)
        .expect("table");
    let staged = stage_with(&catalog, b"abandoned", 5);
    let staged_path = staged.path().to_owned();
    drop(staged); // A write that failed before commit.
    assert!(!staged_path.exists());
    assert!(catalog.files(&t).expect("files").is_empty());

    // A commit to a table dropped meanwhile fails and keeps nothing.
    let staged = stage_with(&catalog, b"late", 1);
    catalog
        .drop_table(DEFAULT_PROJECT, "t", false)
        .expect("drop");
    assert!(matches!(
        block_on(catalog.commit(&t, vec![staged], CommitMode::Append)),
        Err(StorageError::TableChanged { .. })
    ));
    let again = catalog
        .create_table(DEFAULT_PROJECT, "t", &schema(), false)
        .expect("recreate");
    assert_ne!(again.id, t.id);
    assert!(catalog.files(&again).expect("files").is_empty());
    assert!(
        !catalog
            .drop_table(DEFAULT_PROJECT, "missing", true)
            .expect("if exists")
    );
}

#[test]
fn a_catalog_opens_only_under_its_own_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    Catalog::open(dir.path(), key()).expect("create");
    let other = CatalogKey::new(&SecretBytes::from_slice(&[8; 32])).expect("key");
    let err = Catalog::open(dir.path(), other).expect_err("another key");
    assert!(matches!(err, StorageError::WrongCatalogKey), "{err}");
    assert!(err.to_string().contains("another root key"), "{err}");
    Catalog::open(dir.path(), key()).expect("own key");
}

#[test]
fn a_missing_seal_is_tampering_and_legacy_catalogs_are_sealed_only_when_vouched_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let catalog = Catalog::open(dir.path(), key()).expect("create");
        let t = catalog
            .create_table(DEFAULT_PROJECT, "t", &schema(), false)
            .expect("table");
        block_on(catalog.commit(
            &t,
            vec![stage_with(&catalog, b"PAR1 data PAR1", 3)],
            CommitMode::Append,
        ))
        .expect("commit");
    }
    let db = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("db");
    // Deleting the seal does not make a catalog "new" or "legacy".
    db.execute("DELETE FROM meta WHERE key = 'seal'", [])
        .expect("edit");
    let err = Catalog::open(dir.path(), key()).expect_err("seal gone");
    assert!(matches!(err, StorageError::Tampered { .. }), "{err}");
    // A legacy catalog (schema version 1, no MACs) is refused until the
    // caller vouches for it; then it is sealed and opens normally.
    db.execute_batch(
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'; \
         UPDATE tables SET mac = NULL; UPDATE projects SET mac = NULL;",
    )
    .expect("legacy");
    let err = Catalog::open(dir.path(), key()).expect_err("legacy");
    assert!(matches!(err, StorageError::Unsealed), "{err}");
    Catalog::open_sealing_legacy(dir.path(), key()).expect("sealed as found");
    let catalog = Catalog::open(dir.path(), key()).expect("sealed now");
    let t = catalog.table(DEFAULT_PROJECT, "t").expect("table");
    assert_eq!(catalog.files(&t).expect("files")[0].rows, 3);
    // A row edited afterwards is caught, naming the table.
    db.execute("UPDATE files SET rows = 30", []).expect("edit");
    let err = catalog.files(&t).expect_err("edited");
    assert!(err.to_string().contains("table 'default.t'"), "{err}");
    let err = block_on(catalog.commit(
        &t,
        vec![stage_with(&catalog, b"PAR1 more PAR1", 1)],
        CommitMode::Append,
    ))
    .expect_err("no commit over an edited state");
    assert!(matches!(err, StorageError::Tampered { .. }), "{err}");
}

#[test]
fn commits_keep_the_widths_writes_measured_under_the_tables_mac() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(dir.path(), key()).expect("open");
    let t = catalog
        .create_table(DEFAULT_PROJECT, "t", &schema(), false)
        .expect("table");
    let types = |catalog: &Catalog| -> Vec<DataType> {
        let t = catalog.table(DEFAULT_PROJECT, "t").expect("table");
        let schema = t.scan_schema();
        schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    };
    let commit = |widths: Vec<u32>, mode| {
        let mut staged = stage_with(&catalog, b"PAR1 data PAR1", 1);
        staged.set_widths(widths);
        block_on(catalog.commit(&t, vec![staged], mode)).expect("commit");
    };
    // Nothing measured yet: text is read as offsets, BINARY as views.
    assert_eq!(types(&catalog), vec![DataType::Utf8, DataType::BinaryView]);
    // Narrow text stays `Utf8`; wide text makes the column views.
    commit(vec![11, 200], CommitMode::Append);
    assert_eq!(types(&catalog), vec![DataType::Utf8, DataType::BinaryView]);
    commit(vec![1024, 0], CommitMode::Append);
    assert_eq!(
        types(&catalog),
        vec![DataType::Utf8View, DataType::BinaryView]
    );
    assert_eq!(
        catalog.table(DEFAULT_PROJECT, "t").expect("t").widths,
        vec![1024, 200]
    );
    // Narrower appends, and a file that measured nothing, keep it wide...
    commit(vec![11, 0], CommitMode::Append);
    commit(vec![], CommitMode::Append);
    assert_eq!(
        types(&catalog),
        vec![DataType::Utf8View, DataType::BinaryView]
    );
    // ... an overwrite with narrow values makes it `Utf8` again.
    commit(vec![11, 0], CommitMode::Overwrite);
    assert_eq!(types(&catalog), vec![DataType::Utf8, DataType::BinaryView]);
    // The widths survive a reopen, and live under the table's MAC: an edit
    // of them is tampering, named as such.
    commit(vec![4096, 0], CommitMode::Append);
    drop(catalog);
    let catalog = Catalog::open(dir.path(), key()).expect("reopen");
    assert_eq!(
        types(&catalog),
        vec![DataType::Utf8View, DataType::BinaryView]
    );
    let db = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("db");
    db.execute(
        "UPDATE tables SET columns = replace(columns, '\"width\":4096', '\"width\":8')",
        [],
    )
    .expect("edit");
    let err = catalog
        .table(DEFAULT_PROJECT, "t")
        .and_then(|t| catalog.files(&t))
        .expect_err("edited widths");
    assert!(matches!(err, StorageError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains("table 'default.t'"), "{err}");
}
