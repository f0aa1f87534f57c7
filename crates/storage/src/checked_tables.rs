//! Tables whose state this process already checked against its MAC, kept
//! until the catalog changes. Every statement resolves its tables (and an
//! INSERT checks its target again after writing), and checking means
//! reading all of a table's file rows and MACing them under the catalog
//! lock: with many clients writing small batches that was a third of the
//! server's time, serialised behind one mutex.
//!
//! The cache is valid while the database is unchanged, as SQLite itself
//! tells: `PRAGMA data_version` moves when any other connection (another
//! process, or someone editing `catalog.db`) commits, and the connection's
//! own total of changed rows moves with each of its INSERTs, UPDATEs and
//! DELETEs (every change of a table's state is one: its MAC is rewritten).
//! Either moving empties the cache, so a tampered row is checked, and
//! refused, at the next read as before. Except for this process's own
//! changes made right after the cache was validated
//! ([`CheckedTables::changed_here`]): a commit of one table drops that
//! table's entry, a change of no table's state (retired files forgotten)
//! none, and the others stay. Under 16 clients' single-row INSERTs every
//! group commit emptied the cache, and each statement checked its table
//! again (three times: binding, the merge check, the commit).

use std::collections::HashMap;

use rusqlite::Connection;

use crate::StorageError;
use crate::integrity::CatalogKey;
use crate::sealed::{self, FileRow, TableRow};

/// How many tables the cache holds before it starts afresh (a bound, not
/// a tuning: a warehouse reads a few tables at a time).
const CAPACITY: usize = 1024;

#[derive(Default)]
pub(crate) struct CheckedTables {
    /// The database state the entries were checked in: (data_version,
    /// total changes of the connection).
    state: Option<(i64, u64)>,
    tables: HashMap<i64, (TableRow, Vec<FileRow>)>,
}

impl CheckedTables {
    /// Table `id` and its files, checked against the table's MAC (from the
    /// cache when the catalog has not changed since). `None` if there is no
    /// such table. `conn` is the catalog's connection, locked by the caller.
    pub(crate) fn get(
        &mut self,
        conn: &Connection,
        key: &CatalogKey,
        id: i64,
    ) -> Result<Option<(TableRow, Vec<FileRow>)>, StorageError> {
        let now = (data_version(conn)?, conn.total_changes());
        if self.state != Some(now) || self.tables.len() >= CAPACITY {
            self.tables.clear();
            self.state = Some(now);
        }
        if let Some((row, files)) = self.tables.get(&id) {
            return Ok(Some((row.clone(), files.clone())));
        }
        let checked = sealed::checked_table(conn, key, id)?;
        if let Some((row, files)) = &checked {
            self.tables.insert(id, (row.clone(), files.clone()));
        }
        Ok(checked)
    }
}

impl CheckedTables {
    /// After this process changed the database through `conn` (locked by
    /// the caller since it read `before`, its total of changed rows, just
    /// before the change): if the entries were validated at `before` and no
    /// other connection committed since, they stay valid except `table`'s
    /// (the one whose state changed, if any); otherwise the next `get`
    /// starts afresh as it would have.
    pub(crate) fn changed_here(
        &mut self,
        conn: &Connection,
        before: u64,
        table: Option<i64>,
    ) -> Result<(), StorageError> {
        let now = (data_version(conn)?, conn.total_changes());
        match self.state {
            Some((version, changes)) if version == now.0 && changes == before => {
                if let Some(id) = table {
                    self.tables.remove(&id);
                }
                self.state = Some(now);
            }
            _ => {
                self.tables.clear();
                self.state = None;
            }
        }
        Ok(())
    }
}

fn data_version(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};
    use sealhouse_crypto::SecretBytes;

    use crate::{Catalog, CatalogKey, StorageError};

    fn catalog(dir: &tempfile::TempDir) -> Arc<Catalog> {
        let key = CatalogKey::new(&SecretBytes::from_slice(&[9; 32])).expect("key");
        let catalog = Catalog::open(dir.path(), key).expect("catalog");
        catalog.create_project("p", false).expect("project");
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        catalog
            .create_table("p", "t", &schema, false)
            .expect("table");
        catalog
    }

    /// An edit of the catalog by another connection (as an attacker with
    /// the data directory would make) is seen at the next read even when
    /// the table was checked, and cached, just before.
    #[test]
    fn another_connections_edit_is_checked_at_the_next_read() {
        let dir = tempfile::tempdir().expect("dir");
        let catalog = catalog(&dir);
        let table = catalog.table("p", "t").expect("first read");
        catalog.files(&table).expect("cached");
        let other = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("open");
        other
            .execute(
                "UPDATE tables SET columns = '[{\"name\":\"x\",\"type\":\"BIGINT\"}]' WHERE id = ?1",
                [table.id],
            )
            .expect("edit");
        let e = catalog.table("p", "t").expect_err("tampered");
        assert!(matches!(e, StorageError::Tampered { .. }), "{e}");
    }

    /// This process's own changes are seen at once: a dropped table is
    /// gone, a new one is there.
    #[test]
    fn own_changes_are_seen_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let catalog = catalog(&dir);
        catalog.table("p", "t").expect("cached");
        assert!(catalog.drop_table("p", "t", false).expect("drop"));
        assert!(catalog.table("p", "t").is_err(), "dropped");
        let schema = Schema::new(vec![Field::new("v", DataType::Utf8, true)]);
        catalog
            .create_table("p", "t", &schema, false)
            .expect("again");
        let table = catalog.table("p", "t").expect("new table");
        assert_eq!(table.columns[0].0, "v");
    }

    /// A commit of one table by this process keeps the other tables'
    /// entries and drops its own (its new state is checked at the next
    /// read); a change by another connection still empties the cache.
    #[test]
    fn an_own_commit_keeps_the_other_tables_checked() {
        use super::CheckedTables;
        let dir = tempfile::tempdir().expect("dir");
        let catalog = catalog(&dir);
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        let u = catalog
            .create_table("p", "u", &schema, false)
            .expect("table");
        let t = catalog.table("p", "t").expect("t");
        let conn = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("open");
        let mut cache = CheckedTables::default();
        cache.get(&conn, catalog.key(), t.id).expect("t checked");
        cache.get(&conn, catalog.key(), u.id).expect("u checked");
        let before = conn.total_changes();
        conn.execute(
            "INSERT INTO retired (path, retired_at) VALUES ('tables/1/x.parquet', 0)",
            [],
        )
        .expect("own change");
        cache
            .changed_here(&conn, before, Some(t.id))
            .expect("bookkeeping");
        assert!(cache.tables.contains_key(&u.id), "u stays checked");
        assert!(!cache.tables.contains_key(&t.id), "t is checked again");
        // A change made since the entries were validated, not reported:
        // the next report cannot vouch for the entries.
        conn.execute("DELETE FROM retired", [])
            .expect("unreported change");
        let before = conn.total_changes();
        conn.execute(
            "INSERT INTO retired (path, retired_at) VALUES ('tables/1/y.parquet', 0)",
            [],
        )
        .expect("own change");
        cache
            .changed_here(&conn, before, None)
            .expect("bookkeeping");
        assert!(cache.tables.is_empty(), "started afresh");
        // Another connection's commit empties the cache at the next read.
        cache.get(&conn, catalog.key(), u.id).expect("u checked");
        let other = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("open");
        other.execute("DELETE FROM retired", []).expect("edit");
        let before = conn.total_changes();
        cache
            .changed_here(&conn, before, None)
            .expect("bookkeeping");
        assert!(cache.tables.is_empty(), "another connection committed");
    }
}
