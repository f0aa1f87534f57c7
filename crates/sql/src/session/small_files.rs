//! Small files: every INSERT commits at least one file of its own (with its
//! own data key in an encrypted project), and a scan opens every file, so a
//! table filled by many single-row INSERTs reads slowly. `ALTER TABLE t
//! MERGE SMALLFILES` (the original service's statement) and an automatic
//! merge after INSERTs rewrite a table's small files into one, encrypted as
//! the project says, and swap them in atomically: rows committed meanwhile
//! stay, and a reader planned on the old files keeps them until it is done.

use std::sync::Arc;

use datafusion::physical_plan::collect;
use sealhouse_storage::{DataFile, StorageError, TableInfo};

use super::{StatementOutput, Warehouse};
use crate::SqlError;
use crate::access::Privilege;
use crate::tables::{SinkTarget, StoredTable, project_keys};

/// A file smaller than this is small: merging it is cheap and saves a file
/// open (and, encrypted, a data key) per scan.
pub(crate) const SMALL_FILE_BYTES: u64 = 32 << 20;

/// After an INSERT, a table with this many small files has them merged.
pub(crate) const AUTO_MERGE_SMALL_FILES: usize = 64;

impl Warehouse {
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
    /// committed: merges once the table holds [`AUTO_MERGE_SMALL_FILES`]
    /// small files. Never fails the INSERT, whose rows are committed: a
    /// concurrent merge or rewrite that got there first is the merge done,
    /// and another failure leaves the files as they are for the next time.
    pub(super) async fn merge_if_due(&self, project: &str, table: &str) {
        let Ok(table) = self.catalog.table(project, table) else {
            return;
        };
        let Ok(files) = self.catalog.files(&table) else {
            return;
        };
        let small = small_files(files);
        if small.len() < AUTO_MERGE_SMALL_FILES {
            return;
        }
        match self.merge(&table, small).await {
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

/// The files below [`SMALL_FILE_BYTES`].
fn small_files(files: Vec<DataFile>) -> Vec<DataFile> {
    files
        .into_iter()
        .filter(|f| f.bytes < SMALL_FILE_BYTES)
        .collect()
}
