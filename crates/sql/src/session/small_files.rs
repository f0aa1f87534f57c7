//! Small files: every INSERT commits at least one file of its own (with its
//! own data key in an encrypted project), and a scan opens every file, so a
//! table filled by many single-row INSERTs reads slowly. `ALTER TABLE t
//! MERGE SMALLFILES` (the original service's statement) and an automatic
//! merge after INSERTs (by size tier) rewrite small files into one, encrypted as
//! the project says, and swap them in atomically: rows committed meanwhile
//! stay, and a reader planned on the old files keeps them until it is done.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::physical_plan::collect;
use sealhouse_storage::{DataFile, StorageError, TableInfo};

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

/// Tables this process is merging now: another INSERT into the same table
/// does not start a second merge of the same files, which would lose the
/// race at commit after doing the work.
static MERGING: Mutex<BTreeSet<i64>> = Mutex::new(BTreeSet::new());

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
        let rows = self.merge(&table, small).await?;
        Ok(StatementOutput::Done(format!(
            "OK: merged {merged} small files of {}.{} ({rows} rows) into one",
            table.project, table.name
        )))
    }

    /// The automatic policy, after an INSERT into `project.table`
    /// committed: merges a size tier once it holds [`AUTO_MERGE_FILES`]
    /// files. Never fails the INSERT, whose rows are committed: a
    /// concurrent merge or rewrite that got there first is the merge done,
    /// and another failure leaves the files as they are for the next time.
    pub(super) async fn merge_if_due(&self, project: &str, table: &str) {
        let Ok(table) = self.catalog.table(project, table) else {
            return;
        };
        let Ok(files) = self.catalog.files(&table) else {
            return;
        };
        let Some(due) = due(files) else {
            return;
        };
        let Some(_merging) = Merging::start(table.id) else {
            return;
        };
        match self.merge(&table, due).await {
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
struct Merging(i64);

impl Merging {
    fn start(table: i64) -> Option<Self> {
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
        let first = Merging::start(-7).expect("free");
        assert!(Merging::start(-7).is_none());
        assert!(Merging::start(-8).is_some());
        drop(first);
        assert!(Merging::start(-7).is_some());
    }
}
