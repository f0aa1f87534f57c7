//! Files the catalog no longer names, kept while a query of an earlier
//! snapshot may still read them.
//!
//! A query reads the files of the snapshot it planned on. When a commit
//! replaces files (INSERT OVERWRITE, REWRITE) or DROP TABLE removes a
//! table, a query planned a moment earlier may still be about to read them:
//! deleting them at once made 2 of 130 reads fail during an INSERT
//! OVERWRITE ("Object not found"). Yet what REWRITE and DROP take out must
//! not linger: REWRITE exists to leave no plaintext behind. So:
//!
//! - a query holds a [`SnapshotLease`] on the files it planned on, for the
//!   length of its statement;
//! - the transaction that stops naming files records them as retired, and
//!   right after it those no query of this process holds are deleted; the
//!   rest are deleted when their last lease ends;
//! - what a process could not delete (it ended while a lease held the
//!   file, or a deletion failed) is deleted by the next open after
//!   [`RETIRED_GRACE`], which also leaves a window for queries of other
//!   processes on the same data directory.
//!
//! A file the catalog names again is never deleted, and neither is
//! anything but a table's data file: the retired list is not MACed, and
//! whoever can write the data directory must not be able to point it at
//! other files.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Transaction, params};

use crate::StorageError;
use crate::catalog::{Catalog, now};

/// Added in place (CREATE IF NOT EXISTS): an older catalog gains it empty.
pub(crate) const RETIRED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS retired (
    path TEXT PRIMARY KEY,
    retired_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS retired_by_time ON retired (retired_at);
";

/// How long a retired file that a process left behind stays before an
/// open deletes it.
pub const RETIRED_GRACE: Duration = Duration::from_secs(600);

/// The files (relative paths) this process's queries are reading.
#[derive(Debug, Default)]
pub(crate) struct Leases(Mutex<LeaseState>);

#[derive(Debug, Default)]
struct LeaseState {
    /// How many leases hold each file.
    held: HashMap<String, usize>,
    /// Files retired while held, to delete when their last lease ends. A
    /// lease ending checks only these: most statements lease files nobody
    /// retires, and looking each up in the catalog cost every statement a
    /// query per file under the catalog lock.
    waiting: HashSet<String>,
}

impl Leases {
    fn map(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A query's hold on the files of its snapshot: while it lives, no commit
/// or drop of this process deletes them. Dropping it deletes those that
/// were retired meanwhile and that no other lease holds.
#[derive(Debug)]
pub struct SnapshotLease {
    catalog: Arc<Catalog>,
    paths: Vec<String>,
}

impl Drop for SnapshotLease {
    fn drop(&mut self) {
        let released: Vec<String> = {
            let mut leases = self.catalog.leases().map();
            let LeaseState { held, waiting } = &mut *leases;
            self.paths
                .drain(..)
                .filter(|path| match held.get_mut(path) {
                    Some(count) if *count > 1 => {
                        *count -= 1;
                        false
                    }
                    _ => {
                        held.remove(path);
                        waiting.remove(path)
                    }
                })
                .collect()
        };
        // Failing only leaves the file for a later open to delete.
        let _ = self.catalog.delete_retired(&released);
    }
}

/// Records `paths` (relative to the data directory) as retired now, in the
/// transaction that stops naming them.
pub(crate) fn retire<'a>(
    tx: &Transaction<'_>,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), StorageError> {
    let now = now();
    let mut insert =
        tx.prepare_cached("INSERT OR REPLACE INTO retired (path, retired_at) VALUES (?1, ?2)")?;
    for path in paths {
        insert.execute(params![path, now])?;
    }
    Ok(())
}

impl Catalog {
    /// A lease on `files` (of this catalog) for a query reading them.
    pub fn lease(self: &Arc<Self>, files: &[crate::DataFile]) -> SnapshotLease {
        let paths: Vec<String> = files.iter().map(|f| f.key.clone()).collect();
        let mut leases = self.leases().map();
        for path in &paths {
            *leases.held.entry(path.clone()).or_default() += 1;
        }
        drop(leases);
        SnapshotLease {
            catalog: Arc::clone(self),
            paths,
        }
    }

    /// Deletes those of `paths` (relative) that are retired and that no
    /// lease of this process holds; called right after the transaction
    /// that retired them, and when a lease ends.
    pub(crate) fn delete_retired(&self, paths: &[String]) -> Result<(), StorageError> {
        if paths.is_empty() {
            return Ok(());
        }
        let due: Vec<String> = {
            // The catalog, then the leases: the order table_snapshot takes them.
            let conn = self.conn();
            let mut leases = self.leases().map();
            let mut retired = conn.prepare_cached("SELECT 1 FROM retired WHERE path = ?1")?;
            let mut due = Vec::new();
            for path in paths {
                if leases.held.contains_key(path) {
                    leases.waiting.insert(path.clone());
                } else if retired.exists([path])? {
                    due.push(path.clone());
                }
            }
            due
        };
        self.delete_files(due)
    }

    /// Deletes the files retired more than `grace` ago, and the directories
    /// of dropped tables they leave empty. Failing to delete only delays
    /// freeing the space.
    pub(crate) fn remove_retired(&self, grace: Duration) -> Result<(), StorageError> {
        let cutoff = now() - grace.as_secs() as i64;
        let due: Vec<String> = self
            .conn()
            .prepare_cached("SELECT path FROM retired WHERE retired_at <= ?1")?
            .query_map([cutoff], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        self.delete_files(due)
    }

    /// Deletes the retired files `due` (relative), forgets them, and removes
    /// the directories of dropped tables they leave empty.
    fn delete_files(&self, due: Vec<String>) -> Result<(), StorageError> {
        if due.is_empty() {
            return Ok(());
        }
        let (named, tables) = {
            let conn = self.conn();
            // A path a table names again (a catalog edited by hand) stays.
            let mut named = HashSet::new();
            let mut lookup = conn.prepare_cached("SELECT 1 FROM files WHERE path = ?1")?;
            for path in &due {
                if lookup.exists([path])? {
                    named.insert(path.clone());
                }
            }
            let tables: HashSet<i64> = conn
                .prepare_cached("SELECT id FROM tables")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            (named, tables)
        };
        // A path a table names again (a catalog edited by hand) stays, as
        // does anything but a table's data file: it is forgotten unharmed.
        let deletable: Vec<String> = due
            .iter()
            .filter(|path| !named.contains(*path) && is_table_file(path))
            .cloned()
            .collect();
        // Those that could not be deleted stay retired: a later open tries again.
        let failed: HashSet<String> = self.file_store().delete(&deletable).into_iter().collect();
        let gone: Vec<String> = due.into_iter().filter(|p| !failed.contains(p)).collect();
        if let Some(root) = self.file_store().location().local_root() {
            let emptied: HashSet<i64> = gone
                .iter()
                .filter_map(|p| crate::files::table_id_of_key(p))
                .filter(|id| !tables.contains(id))
                .collect();
            for id in emptied {
                // Only if empty: anything else there is garbage collection's.
                let _ = std::fs::remove_dir(root.join("tables").join(id.to_string()));
            }
        }
        let mut conn = self.conn();
        let before = conn.total_changes();
        // One transaction: one sync for them all, not one per file (a
        // merge retires eight). A crash before it commits leaves them
        // retired, and the next open finds them gone.
        let tx = conn.transaction()?;
        let mut delete = tx.prepare_cached("DELETE FROM retired WHERE path = ?1")?;
        for path in &gone {
            delete.execute([path])?;
        }
        drop(delete);
        tx.commit()?;
        // Forgetting retired files changes no table's state.
        self.changed_here(&conn, before, None)
    }

    /// Keys retired within the grace period: garbage collection leaves
    /// them for [`Self::remove_retired`].
    pub(crate) fn recently_retired(&self) -> Result<HashSet<String>, StorageError> {
        let cutoff = now() - RETIRED_GRACE.as_secs() as i64;
        let conn = self.conn();
        let paths: Vec<String> = conn
            .prepare_cached("SELECT path FROM retired WHERE retired_at > ?1")?
            .query_map([cutoff], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(paths.into_iter().collect())
    }
}

/// Whether `path` (relative) names a table's data file,
/// `tables/<table id>/<name>.parquet`, and nothing outside or above it.
fn is_table_file(path: &str) -> bool {
    use std::path::Component;
    let parts: Vec<Component<'_>> = Path::new(path).components().collect();
    match parts.as_slice() {
        [
            Component::Normal(tables),
            Component::Normal(id),
            Component::Normal(name),
        ] => {
            *tables == "tables"
                && id.to_str().is_some_and(|id| id.parse::<i64>().is_ok())
                && name.to_str().is_some_and(|n| n.ends_with(".parquet"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use arrow::datatypes::{DataType, Field, Schema};
    use sealhouse_crypto::SecretBytes;

    use super::*;
    use crate::{CatalogKey, CommitMode, DEFAULT_PROJECT};

    fn catalog(dir: &Path) -> std::sync::Arc<Catalog> {
        let key = CatalogKey::new(&SecretBytes::from_slice(&[7; 32])).unwrap();
        Catalog::open(dir, key).unwrap()
    }

    fn commit(catalog: &Catalog, table: &crate::TableInfo, bytes: &[u8], mode: CommitMode) {
        let mut staged = catalog.stage().unwrap();
        std::fs::File::create(staged.path())
            .and_then(|mut f| f.write_all(bytes))
            .unwrap();
        staged.set_rows(1);
        futures::executor::block_on(catalog.commit(table, vec![staged], mode)).unwrap();
    }

    /// Where a committed file of the catalog at `dir` is.
    fn on_disk(dir: &Path, file: &crate::DataFile) -> std::path::PathBuf {
        dir.join(&file.key)
    }

    fn table(catalog: &Catalog) -> crate::TableInfo {
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
        catalog
            .create_table(DEFAULT_PROJECT, "t", &schema, false)
            .unwrap()
    }

    #[test]
    fn what_no_query_reads_goes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path());
        let t = table(&catalog);
        commit(&catalog, &t, b"one", CommitMode::Append);
        let first = catalog.files(&t).unwrap();
        commit(&catalog, &t, b"two", CommitMode::Overwrite);
        assert!(
            !on_disk(dir.path(), &first[0]).exists(),
            "replaced, unread: deleted"
        );
        let second = catalog.files(&t).unwrap();
        catalog.drop_table(DEFAULT_PROJECT, "t", false).unwrap();
        assert!(
            !on_disk(dir.path(), &second[0]).exists(),
            "dropped, unread: deleted"
        );
        assert!(
            !on_disk(dir.path(), &second[0]).parent().unwrap().exists(),
            "and its directory"
        );
    }

    #[test]
    fn a_leased_snapshot_stays_until_its_query_ends() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path());
        let t = table(&catalog);
        commit(&catalog, &t, b"one", CommitMode::Append);
        let (_, files, lease) = catalog.table_snapshot(DEFAULT_PROJECT, "t").unwrap();
        let (_, _, second_lease) = catalog.table_snapshot(DEFAULT_PROJECT, "t").unwrap();
        commit(&catalog, &t, b"two", CommitMode::Overwrite);
        assert!(
            on_disk(dir.path(), &files[0]).exists(),
            "a query still reads it"
        );
        drop(lease);
        assert!(
            on_disk(dir.path(), &files[0]).exists(),
            "another query still reads it"
        );
        drop(second_lease);
        assert!(
            !on_disk(dir.path(), &files[0]).exists(),
            "deleted when the last reader ends"
        );

        // A drop while read, and a process that ends before its reader:
        // the next open after the grace period deletes what it left.
        let (_, files, lease) = catalog.table_snapshot(DEFAULT_PROJECT, "t").unwrap();
        catalog.drop_table(DEFAULT_PROJECT, "t", false).unwrap();
        assert!(on_disk(dir.path(), &files[0]).exists());
        std::mem::forget(lease);
        drop(catalog);
        let catalog = super::tests::catalog(dir.path());
        assert!(
            on_disk(dir.path(), &files[0]).exists(),
            "within the grace period"
        );
        catalog.remove_retired(Duration::ZERO).unwrap();
        assert!(!on_disk(dir.path(), &files[0]).exists());
        assert!(
            !on_disk(dir.path(), &files[0]).parent().unwrap().exists(),
            "the dropped table's directory"
        );
    }

    #[test]
    fn a_forged_retired_path_never_deletes_anything_but_table_files() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let catalog = catalog(&root);
        let victims = [
            outside.path().join("victim.parquet"),
            dir.path().join("beside.parquet"),
            root.join("catalog.db"),
        ];
        std::fs::write(&victims[0], b"x").unwrap();
        std::fs::write(&victims[1], b"x").unwrap();
        {
            // An attacker with write access to the catalog lists them.
            let conn = catalog.conn();
            for path in [
                victims[0].to_string_lossy().into_owned(),
                "../beside.parquet".to_owned(),
                "tables/../../beside.parquet".to_owned(),
                "catalog.db".to_owned(),
            ] {
                conn.execute(
                    "INSERT INTO retired (path, retired_at) VALUES (?1, 0)",
                    [path],
                )
                .unwrap();
            }
        }
        catalog.remove_retired(Duration::ZERO).unwrap();
        for victim in &victims {
            assert!(victim.exists(), "{} was deleted", victim.display());
        }
        assert!(is_table_file("tables/12/abc.parquet"));
        assert!(!is_table_file("tables/12/../../x.parquet"));
        assert!(!is_table_file("/tables/12/abc.parquet"));
    }

    #[test]
    fn a_retired_path_the_catalog_names_again_is_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path());
        let t = table(&catalog);
        commit(&catalog, &t, b"one", CommitMode::Append);
        let file = catalog.files(&t).unwrap().remove(0);
        {
            let mut conn = catalog.conn();
            let tx = conn.transaction().unwrap();
            retire(&tx, [file.key.as_str()]).unwrap();
            tx.commit().unwrap();
        }
        catalog.remove_retired(Duration::ZERO).unwrap();
        assert!(on_disk(dir.path(), &file).exists());
    }
}
