//! Small files: every INSERT commits at least one file of its own (with its
//! own data key in an encrypted project), and a scan opens every file, so a
//! table filled by many single-row INSERTs reads slowly. `ALTER TABLE t
//! MERGE SMALLFILES` (the original service's statement) and an automatic
//! merge after INSERTs (by size tier) rewrite small files into one, encrypted as
//! the project says, and swap them in atomically: rows committed meanwhile
//! stay, and a reader planned on the old files keeps them until it is done.
//! A server also merges a table's remaining files under 1 MiB once its
//! INSERTs pause ([`SqlSession::merge_when_quiet`]): the tiers alone leave
//! up to seven files per tier after a burst.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use sealhouse_storage::encryption::StorageKeys;
use sealhouse_storage::{Catalog, DataFile, StorageError, TableInfo};

use super::{SqlSession, StatementOutput};
use crate::SqlError;
use crate::access::Privilege;
use crate::tables::{SinkTarget, StoredTable, project_keys};

/// A file smaller than this is small: merging it is cheap and saves a file
/// open (and, encrypted, a data key) per scan.
pub(crate) const SMALL_FILE_BYTES: u64 = 32 << 20;

/// The automatic policy's size tiers: files under 64 KiB, 64 KiB to 1 MiB,
/// and 1 to 32 MiB. A tier is merged when it holds [`AUTO_MERGE_FILES`]
/// files, so a table keeps fewer than that many per tier, and a merge
/// rewrites files of one size class: a table's larger merged files are not
/// rewritten for every few single-row INSERTs (with two tiers, one merged
/// file under 1 MiB was, and 16 clients' INSERTs fell from 152/s to 56/s).
const TIERS: [u64; 3] = [64 << 10, 1 << 20, SMALL_FILE_BYTES];

/// How many files of one tier trigger a merge after an INSERT.
pub(crate) const AUTO_MERGE_FILES: usize = 8;

/// Files below this are merged when their table goes quiet: the two lower
/// tiers. A table written once a quiet period apart rewrites at most
/// 1 MiB per period; the top tier waits for its eight files.
const QUIET_MERGE_BYTES: u64 = TIERS[1];

/// A table of this process: its catalog's address (a process may open
/// several catalogs, whose table ids overlap) and its id.
type TableKey = (usize, i64);

/// Tables this process is merging now: another INSERT into the same table
/// does not start a second merge of the same files, which would lose the
/// race at commit after doing the work.
static MERGING: Mutex<BTreeSet<TableKey>> = Mutex::new(BTreeSet::new());

/// Tables waiting to go quiet, each with the INSERTs it had since its
/// waiter last looked; one waiter per table however many sessions write it.
static WAITING: Mutex<BTreeMap<TableKey, u64>> = Mutex::new(BTreeMap::new());

/// `table`'s key in [`MERGING`] and [`WAITING`].
fn table_key(catalog: &Arc<Catalog>, table: &TableInfo) -> TableKey {
    (Arc::as_ptr(catalog) as usize, table.id)
}

impl SqlSession {
    /// `ALTER TABLE t MERGE SMALLFILES`: whoever may read and write the
    /// table may merge it.
    pub(super) async fn merge_small_files(
        &mut self,
        name: &str,
    ) -> Result<StatementOutput, SqlError> {
        let (project, table) = match name.split_once('.') {
            Some((p, t)) => (p.to_owned(), t.to_owned()),
            None => (self.project.clone(), name.to_owned()),
        };
        let table = self.catalog.table(&project, &table)?;
        if let Some(auth) = &self.authorizer {
            for privilege in [Privilege::Select, Privilege::Insert] {
                auth.check(&self.catalog, &table.project, Some(&table.name), privilege)?;
            }
        }
        let small = small_files(self.catalog.files(&table)?);
        if small.len() < 2 {
            return Ok(StatementOutput::Done(format!(
                "OK: table {}.{} has {} small files; nothing to merge",
                table.project,
                table.name,
                small.len()
            )));
        }
        let merged = small.len();
        let rows = self.merger().merge(&table, small).await?;
        Ok(StatementOutput::Done(format!(
            "OK: merged {merged} small files of {}.{} ({rows} rows) into one",
            table.project, table.name
        )))
    }

    /// Also merges, in the background, the files under 1 MiB of a table
    /// this session wrote once no INSERT of this process has reached it for
    /// `after` (for servers: a one-shot command exits first). Merges made
    /// while clients wait are then rarer than the scans they would slow.
    pub fn merge_when_quiet(&mut self, after: Duration) {
        self.quiet_merge = Some(after);
    }

    /// The automatic policy, after an INSERT into `project.table`
    /// committed: merges a size tier once it holds [`AUTO_MERGE_FILES`]
    /// files, and with [`SqlSession::merge_when_quiet`] starts (or extends)
    /// the table's quiet wait. Never fails the INSERT, whose rows are
    /// committed.
    pub(super) async fn merge_if_due(&self, project: &str, table: &str) {
        let Ok(table) = self.catalog.table(project, table) else {
            return;
        };
        if let Some(after) = self.quiet_merge {
            self.wait_for_quiet(&table, after);
        }
        let Ok(files) = self.catalog.files(&table) else {
            return;
        };
        if let Some(due) = due(files) {
            self.merger().merge_logged(&table, due).await;
        }
    }

    /// Counts an INSERT into `table` for its waiter, starting one (on the
    /// running Tokio runtime) when it has none: the waiter sleeps `after`,
    /// again while INSERTs came meanwhile, then merges.
    fn wait_for_quiet(&self, table: &TableInfo, after: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let waiting = table_key(&self.catalog, table);
        match WAITING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(waiting)
        {
            Entry::Occupied(mut seen) => {
                *seen.get_mut() += 1;
                return;
            }
            Entry::Vacant(wait) => {
                wait.insert(0);
            }
        }
        let merger = self.merger();
        let table = table.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(after).await;
                let mut tables = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
                match tables.get_mut(&waiting) {
                    Some(seen) if *seen > 0 => *seen = 0,
                    _ => {
                        tables.remove(&waiting);
                        break;
                    }
                }
            }
            merger.merge_quiet(&table).await;
        });
    }

    fn merger(&self) -> Merger {
        Merger {
            catalog: Arc::clone(&self.catalog),
            storage_keys: self.storage_keys.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

/// What merging needs of a session, owned, so a merge can outlive the
/// statement (and the session) that asked for it.
struct Merger {
    catalog: Arc<Catalog>,
    storage_keys: Option<Arc<StorageKeys>>,
    ctx: SessionContext,
}

impl Merger {
    /// Merges a quiet table's files under [`QUIET_MERGE_BYTES`] when it
    /// still is the table that was written (not dropped, nor dropped and
    /// created again) and holds two or more.
    async fn merge_quiet(&self, written: &TableInfo) {
        let Ok(table) = self.catalog.table(&written.project, &written.name) else {
            return;
        };
        if table.id != written.id {
            return;
        }
        let Ok(files) = self.catalog.files(&table) else {
            return;
        };
        let quiet: Vec<DataFile> = files
            .into_iter()
            .filter(|f| f.bytes < QUIET_MERGE_BYTES)
            .collect();
        if quiet.len() >= 2 {
            self.merge_logged(&table, quiet).await;
        }
    }

    /// Merges `files` of `table` unless this process merges the table
    /// already; a failure is logged, never returned: a concurrent merge or
    /// rewrite that got there first is the merge done, and another failure
    /// leaves the files as they are for the next time.
    async fn merge_logged(&self, table: &TableInfo, files: Vec<DataFile>) {
        let Some(_merging) = Merging::start(table_key(&self.catalog, table)) else {
            return;
        };
        match self.merge(table, files).await {
            Ok(_) => {}
            Err(SqlError::Storage(StorageError::TableChanged { .. })) => {}
            Err(e) => tracing::warn!(
                target: "sealhouse::small_files",
                project = %table.project,
                table = %table.name,
                error = %e,
                "merging small files failed; they stay as they are"
            ),
        }
    }

    /// Rewrites `small` into one file and swaps it in for them; its rows.
    async fn merge(&self, table: &TableInfo, small: Vec<DataFile>) -> Result<u64, SqlError> {
        let project = self.catalog.project(&table.project)?;
        let keys = project_keys(self.storage_keys.as_deref(), &project)?;
        let provider = StoredTable::new(
            Arc::clone(&self.catalog),
            (table.clone(), small.clone()),
            keys,
        );
        let state = self.ctx.state();
        let scan = provider.scan_exactly(&state, &small).await?;
        let plan = provider.writer(&state, scan, SinkTarget::Replacing(small))?;
        let batches = collect(plan, self.ctx.task_ctx()).await?;
        Ok(super::count_of(&batches))
    }
}

/// The files of the smallest tier holding [`AUTO_MERGE_FILES`] or more.
fn due(files: Vec<DataFile>) -> Option<Vec<DataFile>> {
    let mut floor = 0;
    for bound in TIERS {
        let tier: Vec<DataFile> = files
            .iter()
            .filter(|f| (floor..bound).contains(&f.bytes))
            .cloned()
            .collect();
        if tier.len() >= AUTO_MERGE_FILES {
            return Some(tier);
        }
        floor = bound;
    }
    None
}

/// A table's entry in [`MERGING`] while this process merges it.
struct Merging(TableKey);

impl Merging {
    fn start(table: TableKey) -> Option<Self> {
        let mut merging = MERGING.lock().unwrap_or_else(PoisonError::into_inner);
        // A guard only when the entry is new (not `then_some`, which would
        // build one anyway and drop it here: dropping one locks MERGING).
        if merging.insert(table) {
            Some(Self(table))
        } else {
            None
        }
    }
}

impl Drop for Merging {
    fn drop(&mut self) {
        MERGING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// The files below [`SMALL_FILE_BYTES`].
fn small_files(files: Vec<DataFile>) -> Vec<DataFile> {
    files
        .into_iter()
        .filter(|f| f.bytes < SMALL_FILE_BYTES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: u64) -> DataFile {
        DataFile {
            key: format!("tables/1/{bytes}.parquet"),
            rows: 1,
            bytes,
            encryption: None,
            pinned_sha256: None,
            block_tags: None,
        }
    }

    #[test]
    fn a_tier_is_due_at_eight_files() {
        let tiny: Vec<DataFile> = (0..7).map(|i| file(1000 + i)).collect();
        assert!(due(tiny.clone()).is_none(), "seven tiny files wait");
        let mut eight = tiny.clone();
        eight.push(file(5 << 20));
        assert!(
            due(eight.clone()).is_none(),
            "another tier's file does not count"
        );
        eight.push(file(2000));
        let merged = due(eight).expect("eight tiny files");
        assert_eq!(merged.len(), 8);
        assert!(
            merged.iter().all(|f| f.bytes < 1 << 20),
            "only the tiny tier"
        );
        let middle: Vec<DataFile> = (0..8).map(|i| file((2 << 20) + i)).collect();
        assert_eq!(due(middle).map(|m| m.len()), Some(8));
        let big: Vec<DataFile> = (0..20).map(|i| file((64 << 20) + i)).collect();
        assert!(
            due(big).is_none(),
            "files of 32 MiB and more are never merged"
        );
    }

    #[test]
    fn one_merge_per_table_at_a_time() {
        let first = Merging::start((1, -7)).expect("free");
        assert!(Merging::start((1, -7)).is_none());
        assert!(Merging::start((1, -8)).is_some());
        assert!(
            Merging::start((2, -7)).is_some(),
            "another catalog's table of the same id"
        );
        drop(first);
        assert!(Merging::start((1, -7)).is_some());
    }
}
