//! Writes an INSERT's rows into one new Parquet file and commits it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSink;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;
use parquet::arrow::AsyncArrowWriter;
use sealhouse_storage::{Catalog, CommitMode, TableInfo};

use super::column_layout::{base_properties, with_column_layouts};

/// Rows per Parquet row group: large enough for efficient scans, small
/// enough that a scan of one file splits across cores.
const ROW_GROUP_ROWS: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct StoredTableSink {
    catalog: Arc<Catalog>,
    table: TableInfo,
    mode: CommitMode,
}

impl StoredTableSink {
    pub(crate) fn new(catalog: Arc<Catalog>, table: TableInfo, mode: CommitMode) -> Self {
        Self {
            catalog,
            table,
            mode,
        }
    }

    /// The batch with the table's column names and stored types.
    fn conform(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = &self.table.schema;
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(column, field)| {
                if column.data_type() == field.data_type() {
                    Ok(Arc::clone(column))
                } else {
                    cast(column, field.data_type()).map_err(DataFusionError::from)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

impl DisplayAs for StoredTableSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StoredTableSink: {}.{} ({:?})",
            self.table.project, self.table.name, self.mode
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
        let external = |e: sealhouse_storage::StorageError| DataFusionError::External(Box::new(e));
        let mut staged = self.catalog.stage().map_err(external)?;
        // The first rows decide each column's encoding (column_layout.rs).
        // Empty batches (joins emit them) say nothing: skip them.
        let mut first = None;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            if batch.num_rows() > 0 {
                first = Some(self.conform(batch)?);
                break;
            }
        }
        let mut props = base_properties().set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        if let Some(sample) = &first {
            props = with_column_layouts(props, sample);
        }
        let file = tokio::fs::File::create(staged.path()).await?;
        let mut writer =
            AsyncArrowWriter::try_new(file, Arc::clone(&self.table.schema), Some(props.build()))?;
        let mut rows = 0u64;
        // Any error below drops `staged`, which deletes the partial file:
        // nothing reaches the table.
        if let Some(batch) = first {
            rows += batch.num_rows() as u64;
            writer.write(&batch).await?;
        }
        while let Some(batch) = data.next().await {
            let batch = self.conform(batch?)?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).await?;
        }
        writer.close().await?;
        staged.set_rows(rows);
        let files = if rows > 0 { vec![staged] } else { Vec::new() };
        if !files.is_empty() || self.mode == CommitMode::Overwrite {
            self.catalog
                .commit(&self.table, files, self.mode)
                .map_err(external)?;
        }
        Ok(rows)
    }
}
