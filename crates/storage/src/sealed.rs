//! The catalog's rows under their MACs: loading a table's or a project's
//! state checked against its MAC, remaking MACs after a change, and
//! sealing a catalog. The MAC construction is in [`crate::integrity`].

use rusqlite::{Connection, OptionalExtension, params};

use crate::StorageError;
use crate::integrity::{CatalogKey, FileRecord, TableState};

/// A table's row.
#[derive(Clone)]
pub(crate) struct TableRow {
    pub(crate) id: i64,
    pub(crate) project: String,
    pub(crate) name: String,
    pub(crate) columns: String,
    pub(crate) created_at: i64,
    mac: Option<Vec<u8>>,
}

/// A file's row, as stored.
#[derive(Clone)]
pub(crate) struct FileRow {
    /// Relative to the data directory.
    pub(crate) path: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) encryption: Option<String>,
    pub(crate) pinned: Option<[u8; 32]>,
    pub(crate) block_tags: Option<Vec<u8>>,
}

impl FileRow {
    fn record(&self) -> FileRecord<'_> {
        FileRecord {
            path: &self.path,
            rows: self.rows,
            bytes: self.bytes,
            encryption: self.encryption.as_deref(),
            pinned: self.pinned.as_ref(),
            block_tags: self.block_tags.as_deref(),
        }
    }
}

fn tampered(what: String) -> StorageError {
    StorageError::Tampered { what }
}

/// The MAC of `table` holding `files`.
pub(crate) fn table_mac(key: &CatalogKey, table: &TableRow, files: &[FileRow]) -> [u8; 32] {
    let records: Vec<FileRecord<'_>> = files.iter().map(FileRow::record).collect();
    key.table_mac(&TableState {
        id: table.id,
        project: &table.project,
        name: &table.name,
        columns: &table.columns,
        created_at: table.created_at,
        files: &records,
    })
}

/// The row of the table with `id`, if any (unchecked).
pub(crate) fn table_row(conn: &Connection, id: i64) -> Result<Option<TableRow>, StorageError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, project, name, columns, created_at, mac FROM tables WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(TableRow {
                id: r.get(0)?,
                project: r.get(1)?,
                name: r.get(2)?,
                columns: r.get(3)?,
                created_at: r.get(4)?,
                mac: r.get(5)?,
            })
        })
        .optional()?)
}

/// The id of `project.name`, if it exists.
pub(crate) fn table_id(
    conn: &Connection,
    project: &str,
    name: &str,
) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT id FROM tables WHERE project = ?1 AND name = ?2")?
        .query_row(params![project, name], |r| r.get(0))
        .optional()?)
}

/// The files of table `id` as stored (unchecked).
pub(crate) fn file_rows(conn: &Connection, id: i64) -> Result<Vec<FileRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, rows, bytes, encryption, footer_sha256, block_tags FROM files \
         WHERE table_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<Vec<u8>>>(4)?,
            r.get::<_, Option<Vec<u8>>>(5)?,
        ))
    })?;
    rows.map(|row| {
        let (path, rows, bytes, encryption, pinned, block_tags) = row?;
        let pinned = pinned
            .map(|d| <[u8; 32]>::try_from(d.as_slice()))
            .transpose()
            .map_err(|_| StorageError::Corrupt(format!("file {path}: digest length")))?;
        let (Ok(rows), Ok(bytes)) = (u64::try_from(rows), u64::try_from(bytes)) else {
            return Err(StorageError::Corrupt(format!("file {path}: negative size")));
        };
        Ok(FileRow {
            path,
            rows,
            bytes,
            encryption,
            pinned,
            block_tags,
        })
    })
    .collect()
}

/// Table `id` and its files, checked against the table's MAC. `None` if
/// there is no such table.
pub(crate) fn checked_table(
    conn: &Connection,
    key: &CatalogKey,
    id: i64,
) -> Result<Option<(TableRow, Vec<FileRow>)>, StorageError> {
    let Some(table) = table_row(conn, id)? else {
        return Ok(None);
    };
    let files = file_rows(conn, id)?;
    let expected = table_mac(key, &table, &files);
    if !key.verify(&expected, table.mac.as_deref()) {
        return Err(tampered(format!(
            "the catalog entry of table '{}.{}' (its columns, files, row counts or their encryption)",
            table.project, table.name
        )));
    }
    Ok(Some((table, files)))
}

/// Remakes table `id`'s MAC over its rows as they are now; the state it
/// sealed (what a check would read back), if the table exists.
pub(crate) fn reseal_table(
    conn: &Connection,
    key: &CatalogKey,
    id: i64,
) -> Result<Option<(TableRow, Vec<FileRow>)>, StorageError> {
    let Some(mut table) = table_row(conn, id)? else {
        return Ok(None);
    };
    let files = file_rows(conn, id)?;
    let mac = table_mac(key, &table, &files);
    conn.prepare_cached("UPDATE tables SET mac = ?2 WHERE id = ?1")?
        .execute(params![id, mac.as_slice()])?;
    table.mac = Some(mac.to_vec());
    Ok(Some((table, files)))
}

/// Fails unless project `name`'s row matches its MAC.
pub(crate) fn check_project(
    key: &CatalogKey,
    name: &str,
    created_at: i64,
    properties: &str,
    mac: Option<&[u8]>,
) -> Result<(), StorageError> {
    if key.verify(&key.project_mac(name, created_at, properties), mac) {
        Ok(())
    } else {
        Err(tampered(format!(
            "the catalog entry of project '{name}' (its storage encryption setting)"
        )))
    }
}

/// Remakes project `name`'s MAC over its row as it is now.
pub(crate) fn reseal_project(
    conn: &Connection,
    key: &CatalogKey,
    name: &str,
) -> Result<(), StorageError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT created_at, properties FROM projects WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((created_at, properties)) = row {
        let mac = key.project_mac(name, created_at, &properties);
        conn.execute(
            "UPDATE projects SET mac = ?2 WHERE name = ?1",
            params![name, mac.as_slice()],
        )?;
    }
    Ok(())
}

/// MACs every project and table as it is, and records the seal.
pub(crate) fn seal_all(conn: &Connection, key: &CatalogKey) -> Result<(), StorageError> {
    let projects: Vec<String> = conn
        .prepare("SELECT name FROM projects")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for p in projects {
        reseal_project(conn, key, &p)?;
    }
    let tables: Vec<i64> = conn
        .prepare("SELECT id FROM tables")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in tables {
        reseal_table(conn, key, id)?;
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('seal', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key.seal_at(crate::location::recorded_url(conn)?.as_deref())
            .as_slice()],
    )?;
    Ok(())
}

/// Fails unless the catalog carries the seal of `key`.
pub(crate) fn check_seal(conn: &Connection, key: &CatalogKey) -> Result<(), StorageError> {
    let seal: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'seal'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let storage_url = crate::location::recorded_url(conn)?;
    match seal {
        Some(seal) if key.verify_seal_at(&seal, storage_url.as_deref()) => Ok(()),
        // The seal is bound to the storage URL (location/recorded.rs). When
        // it fails yet a project's MAC verifies, the key is this catalog's:
        // the seal or the recorded URL was changed (or removed) outside
        // Sealhouse. Otherwise the key is another data directory's.
        Some(_) if any_project_verifies(conn, key)? => Err(tampered(
            "the catalog's seal and its storage location (the bucket it keeps tables in)".into(),
        )),
        Some(_) => Err(StorageError::WrongCatalogKey),
        None => Err(tampered("the catalog's seal".into())),
    }
}

/// Whether some project's MAC verifies under `key`.
fn any_project_verifies(conn: &Connection, key: &CatalogKey) -> Result<bool, StorageError> {
    let mut rows = conn.prepare("SELECT name, created_at, properties, mac FROM projects")?;
    let projects = rows.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<Vec<u8>>>(3)?,
        ))
    })?;
    for project in projects {
        let (name, created_at, properties, mac) = project?;
        if check_project(key, &name, created_at, &properties, mac.as_deref()).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}
