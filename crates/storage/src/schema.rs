//! The catalog's SQLite schema, and bringing a catalog of any earlier
//! version to it (`Catalog::open` calls [`upgrade`]).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::acl::ACL_SCHEMA;
use crate::catalog::DEFAULT_PROJECT;
use crate::integrity::CatalogKey;
use crate::retired::RETIRED_SCHEMA;
use crate::{StorageError, sealed};

/// Version 2: the catalog is MACed (`integrity`): `projects.mac`,
/// `tables.mac`, `files.block_tags` and the seal in `meta`.
const SCHEMA_VERSION: i64 = 2;
/// Catalogs made before integrity protection.
const LEGACY_SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    mac BLOB
);
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    columns TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    mac BLOB,
    UNIQUE (project, name)
);
CREATE TABLE IF NOT EXISTS files (
    table_id INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    encryption TEXT,
    footer_sha256 BLOB,
    block_tags BLOB,
    PRIMARY KEY (table_id, path)
);
";

/// Brings the catalog to [`SCHEMA_VERSION`] in one transaction: creates a
/// new one sealed, seals a legacy one if `seal_legacy`, checks the seal of a
/// current one.
pub(crate) fn upgrade(
    conn: &mut Connection,
    key: &CatalogKey,
    seal_legacy: bool,
) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    // Added in place (CREATE IF NOT EXISTS): catalogs made before access
    // control gain the tables empty, which is what they held.
    tx.execute_batch(ACL_SCHEMA)?;
    tx.execute_batch(RETIRED_SCHEMA)?;
    // Columns added since the first catalogs. A NULL `encryption` is plain
    // Parquet, which is what files of catalogs before storage encryption are.
    for (table, column, ty) in [
        ("files", "encryption", "TEXT"),
        ("files", "footer_sha256", "BLOB"),
        ("files", "block_tags", "BLOB"),
        ("projects", "mac", "BLOB"),
        ("tables", "mac", "BLOB"),
    ] {
        let present: i64 = tx.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if present == 0 {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    let version: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match version.as_deref().map(str::parse::<i64>) {
        Some(Ok(SCHEMA_VERSION)) => sealed::check_seal(&tx, key)?,
        Some(Ok(LEGACY_SCHEMA_VERSION)) if seal_legacy => sealed::seal_all(&tx, key)?,
        Some(Ok(LEGACY_SCHEMA_VERSION)) => return Err(StorageError::Unsealed),
        None => {
            // A new catalog, or one whose version was deleted: only the
            // former may be sealed as it is.
            let tables: i64 = tx.query_row("SELECT count(*) FROM tables", [], |r| r.get(0))?;
            let projects: i64 = tx.query_row(
                "SELECT count(*) FROM projects WHERE name <> ?1",
                [DEFAULT_PROJECT],
                |r| r.get(0),
            )?;
            if tables > 0 || projects > 0 {
                return Err(StorageError::Tampered {
                    what: "the catalog's version and seal".into(),
                });
            }
            sealed::seal_all(&tx, key)?;
        }
        Some(_) => {
            return Err(StorageError::Corrupt(format!(
                "catalog schema version {version:?}, this build reads version {SCHEMA_VERSION}"
            )));
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}
