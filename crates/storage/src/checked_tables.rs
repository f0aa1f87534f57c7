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
//! again (three times: binding, the merge check, the commit). Now an own
//! commit puts the table's new state in its place, as read back and MACed
//! inside the committing transaction, so the next statement finds it here.
//!
//! Tables' ids by name, and projects checked against their MAC, are kept
//! the same way: a statement looks up its table's id and its project's
//! encryption setting too, and neither changes in a commit of files.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::StorageError;
use crate::catalog::ProjectInfo;
use crate::integrity::CatalogKey;
use crate::sealed::{self, FileRow, TableRow};

/// How many tables the cache holds before it starts afresh (a bound, not
/// a tuning: a warehouse reads a few tables at a time).
const CAPACITY: usize = 1024;

/// A table's checked state: its row and its files.
pub(crate) type TableState = (TableRow, Vec<FileRow>);

#[derive(Default)]
pub(crate) struct CheckedTables {
    /// The database state the entries were checked in: (data_version,
    /// total changes of the connection).
    state: Option<(i64, u64)>,
    tables: HashMap<i64, TableState>,
    /// Table ids by (project, name).
    ids: HashMap<(String, String), i64>,
    projects: HashMap<String, ProjectInfo>,
}

impl CheckedTables {
    /// Empties the cache unless the database is as it was when the
    /// entries were checked.
    fn validate(&mut self, conn: &Connection) -> Result<(), StorageError> {
        let now = (data_version(conn)?, conn.total_changes());
        if self.state != Some(now)
            || self.tables.len() >= CAPACITY
            || self.ids.len() >= CAPACITY
            || self.projects.len() >= CAPACITY
        {
            self.tables.clear();
            self.ids.clear();
            self.projects.clear();
            self.state = Some(now);
        }
        Ok(())
    }

    /// Table `id` and its files, checked against the table's MAC (from the
    /// cache when the catalog has not changed since). `None` if there is no
    /// such table. `conn` is the catalog's connection, locked by the caller.
    pub(crate) fn get(
        &mut self,
        conn: &Connection,
        key: &CatalogKey,
        id: i64,
    ) -> Result<Option<TableState>, StorageError> {
        self.validate(conn)?;
        if let Some(state) = self.tables.get(&id) {
            return Ok(Some(state.clone()));
        }
        let checked = sealed::checked_table(conn, key, id)?;
        if let Some(state) = &checked {
            self.tables.insert(id, state.clone());
        }
        Ok(checked)
    }

    /// The id of table `project.name`, if there is one (names as
    /// normalised by the caller).
    pub(crate) fn table_id(
        &mut self,
        conn: &Connection,
        project: &str,
        name: &str,
    ) -> Result<Option<i64>, StorageError> {
        self.validate(conn)?;
        let key = (project.to_owned(), name.to_owned());
        if let Some(id) = self.ids.get(&key) {
            return Ok(Some(*id));
        }
        let found = sealed::table_id(conn, project, name)?;
        if let Some(id) = found {
            self.ids.insert(key, id);
        }
        Ok(found)
    }

    /// Project `name`, as `check` reads and checks it from `conn` when the
    /// cache does not hold it.
    pub(crate) fn project(
        &mut self,
        conn: &Connection,
        name: &str,
        check: impl FnOnce() -> Result<Option<ProjectInfo>, StorageError>,
    ) -> Result<Option<ProjectInfo>, StorageError> {
        self.validate(conn)?;
        if let Some(project) = self.projects.get(name) {
            return Ok(Some(project.clone()));
        }
        let checked = check()?;
        if let Some(project) = &checked {
            self.projects.insert(name.to_owned(), project.clone());
        }
        Ok(checked)
    }

    /// After this process changed the database through `conn` (locked by
    /// the caller since it read `before`, its total of changed rows, just
    /// before the change): if the entries were validated at `before` and no
    /// other connection committed since, they stay valid, the changed
    /// table (if any) taking the state given with it (or checked again at
    /// the next read when none is given); otherwise the next read starts
    /// afresh as it would have. Only changes of files may be reported:
    /// no name and no project changes here.
    pub(crate) fn changed_here(
        &mut self,
        conn: &Connection,
        before: u64,
        table: Option<(i64, Option<TableState>)>,
    ) -> Result<(), StorageError> {
        let now = (data_version(conn)?, conn.total_changes());
        match self.state {
            Some((version, changes)) if version == now.0 && changes == before => {
                if let Some((id, state)) = table {
                    match state {
                        Some(state) => self.tables.insert(id, state),
                        None => self.tables.remove(&id),
                    };
                }
                self.state = Some(now);
            }
            _ => {
                self.tables.clear();
                self.ids.clear();
                self.projects.clear();
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
            .changed_here(&conn, before, Some((t.id, None)))
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

    /// A project checked once is served from the cache, but an edit of
    /// its row by another connection (changing its settings, as an attacker
    /// with the data directory could) is refused at the next
    /// read (here: a setting added); so is a renamed table's old id.
    #[test]
    fn cached_projects_and_ids_still_see_other_connections_edits() {
        let dir = tempfile::tempdir().expect("dir");
        let catalog = catalog(&dir);
        catalog.project("p").expect("first read");
        catalog.project("p").expect("cached");
        let t = catalog.table("p", "t").expect("id cached");
        let other = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("open");
        other
            .execute("UPDATE tables SET name = 'u' WHERE id = ?1", [t.id])
            .expect("rename");
        let e = catalog.table("p", "t").expect_err("renamed");
        assert!(
            matches!(
                e,
                StorageError::TableNotFound { .. } | StorageError::Tampered { .. }
            ),
            "{e}"
        );
        other
            .execute(
                "UPDATE projects SET properties = '{\"x\":1}' WHERE name = 'p'",
                [],
            )
            .expect("edit");
        let e = catalog.project("p").expect_err("tampered");
        assert!(matches!(e, StorageError::Tampered { .. }), "{e}");
    }

    /// An own commit leaves the table's new state in the cache, as sealed
    /// in the committing transaction: what a fresh check reads back.
    #[test]
    fn an_own_commit_leaves_its_new_state_checked() {
        use super::CheckedTables;
        use crate::sealed;
        let dir = tempfile::tempdir().expect("dir");
        let catalog = catalog(&dir);
        let t = catalog.table("p", "t").expect("t");
        let conn = rusqlite::Connection::open(dir.path().join("catalog.db")).expect("open");
        let mut cache = CheckedTables::default();
        let (_, files) = cache
            .get(&conn, catalog.key(), t.id)
            .expect("checked")
            .expect("t");
        assert!(files.is_empty());
        let before = conn.total_changes();
        conn.execute(
            "INSERT INTO files (table_id, path, rows, bytes) VALUES (?1, 'tables/1/a.parquet', 3, 100)",
            [t.id],
        )
        .expect("a file");
        let state = sealed::reseal_table(&conn, catalog.key(), t.id).expect("sealed");
        cache
            .changed_here(&conn, before, Some((t.id, state)))
            .expect("bookkeeping");
        let (_, cached) = cache.tables.get(&t.id).expect("kept").clone();
        let (_, fresh) = sealed::checked_table(&conn, catalog.key(), t.id)
            .expect("a fresh check passes")
            .expect("t");
        let paths = |files: &[sealed::FileRow]| {
            files
                .iter()
                .map(|f| (f.path.clone(), f.rows, f.bytes))
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(&cached), paths(&fresh));
        assert_eq!(paths(&cached), [("tables/1/a.parquet".to_owned(), 3, 100)]);
    }
}
