//! Writes an INSERT's rows into one new Parquet file and commits it. In an
//! encrypted project the file is encrypted as the project says: Parquet
//! modular encryption (AES256), or the whole file in authenticated segments
//! (AESCTR, RC4).

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
use parquet::arrow::ArrowWriter;
use sealhouse_storage::{Catalog, CommitMode, DataFile, StorageAlgorithm, TableInfo};

use super::column_layout::{base_properties, with_column_layouts};
use crate::storage_encryption::{FileWriter, ProjectKeys};

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
        let mut props = base_properties();
        if let Some(sample) = &first {
            props = with_column_layouts(props, sample);
        }
        let algorithm = self.keys.as_ref().map(|k| k.algorithm());
        if let (Some(keys), Some(StorageAlgorithm::Aes256)) = (&self.keys, algorithm) {
            let location = object_store::path::Path::from(staged.path().to_string_lossy().as_ref());
            props = props.with_file_encryption_properties(
                keys.parquet_encryption(&self.table.schema, &location)
                    .await?,
            );
        }
        // Any error below drops `staged`, which deletes the partial file:
        // nothing reaches the table.
        let file = FileWriter::create(&self.catalog, &staged, self.table.id, self.keys.as_deref())?;
        let mut writer =
            ArrowWriter::try_new(file, Arc::clone(&self.table.schema), Some(props.build()))?;
        let mut rows = 0u64;
        if let Some(batch) = first {
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        while let Some(batch) = data.next().await {
            let batch = self.conform(batch?)?;
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        if let Some(tags) = writer.into_inner()?.finish()? {
            staged.set_block_tags(tags);
        }
        staged.set_rows(rows);
        staged.set_encryption(algorithm);
        let files = if rows > 0 { vec![staged] } else { Vec::new() };
        match &self.target {
            SinkTarget::Mode(CommitMode::Append) if files.is_empty() => {}
            SinkTarget::Mode(mode) => self
                .catalog
                .commit(&self.table, files, *mode)
                .map_err(external)?,
            SinkTarget::Replacing(old) => self
                .catalog
                .commit_replacing(&self.table, old, files)
                .map_err(external)?,
        }
        Ok(rows)
    }
}
