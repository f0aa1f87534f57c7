//! Writes an INSERT's rows into one new Parquet file and commits it (a
//! small append is group-committed with others': group_commit.rs). In an
//! encrypted project the file is encrypted as the project says: Parquet
//! modular encryption (AES256), or the whole file in authenticated segments
//! (AESCTR, RC4).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;
use sealhouse_storage::{Catalog, CommitMode, DataFile, TableInfo};

use super::external;
use super::group_commit::{self, GROUP_APPEND_BYTES};
use sealhouse_storage::encryption::ProjectKeys;
use sealhouse_storage::write::{NewFile, conform, rows_bytes};

/// What a write's commit does to the table.
#[derive(Debug, Clone)]
pub(crate) enum SinkTarget {
    /// Append (INSERT INTO) or replace everything (INSERT OVERWRITE).
    Mode(CommitMode),
    /// Replace exactly these files, keeping any committed meanwhile (the
    /// rewrite command).
    Replacing(Vec<DataFile>),
}

#[derive(Debug)]
pub(crate) struct StoredTableSink {
    catalog: Arc<Catalog>,
    table: TableInfo,
    target: SinkTarget,
    /// The project's keys, when it is encrypted.
    keys: Option<Arc<ProjectKeys>>,
}

impl StoredTableSink {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        table: TableInfo,
        target: SinkTarget,
        keys: Option<Arc<ProjectKeys>>,
    ) -> Self {
        Self {
            catalog,
            table,
            target,
            keys,
        }
    }
}

impl DisplayAs for StoredTableSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            SinkTarget::Mode(mode) => format!("{mode:?}"),
            SinkTarget::Replacing(files) => format!("Rewrite of {} files", files.len()),
        };
        let encryption = self.keys.as_ref().map_or("", |k| k.algorithm().name());
        write!(
            f,
            "StoredTableSink: {}.{} ({target}) {encryption}",
            self.table.project, self.table.name
        )
    }
}

#[async_trait]
impl DataSink for StoredTableSink {
    fn schema(&self) -> &SchemaRef {
        &self.table.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        // Rows are held until the input ends or they outgrow a group
        // commit's share: a small append is committed with others'.
        // Empty batches (joins emit them) say nothing: skip them.
        let group = matches!(self.target, SinkTarget::Mode(CommitMode::Append));
        let mut held = Vec::new();
        let mut held_bytes = 0;
        let mut ended = true;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = conform(&self.table, batch)?;
            held_bytes += rows_bytes(&batch);
            held.push(batch);
            if !group || held_bytes > GROUP_APPEND_BYTES {
                ended = false;
                break;
            }
        }
        if group && ended {
            if held.is_empty() {
                return Ok(0);
            }
            return group_commit::append(
                Arc::clone(&self.catalog),
                self.table.clone(),
                self.keys.clone(),
                held,
            )
            .await;
        }
        // Any error below drops `file`, which deletes the partial file:
        // nothing reaches the table.
        let mut file = NewFile::create(
            &self.catalog,
            &self.table,
            self.keys.as_deref(),
            held.first(),
        )
        .await?;
        for batch in &held {
            file.write(batch)?;
        }
        while let Some(batch) = data.next().await {
            let batch = batch?;
            if batch.num_rows() > 0 {
                file.write(&conform(&self.table, batch)?)?;
            }
        }
        let staged = file.finish()?;
        let rows = staged.as_ref().map_or(0, |s| s.rows());
        let files = staged.into_iter().collect::<Vec<_>>();
        match &self.target {
            SinkTarget::Mode(CommitMode::Append) if files.is_empty() => {}
            SinkTarget::Mode(mode) => self
                .catalog
                .commit(&self.table, files, *mode)
                .await
                .map_err(external)?,
            SinkTarget::Replacing(old) => self
                .catalog
                .commit_replacing(&self.table, old, files)
                .await
                .map_err(external)?,
        }
        Ok(rows)
    }
}
