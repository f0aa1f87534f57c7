//! A table of the storage catalog as a DataFusion table: scans read its
//! committed Parquet files, inserts write one new file and commit it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use sealhouse_storage::{Catalog, CommitMode, TableInfo};

use super::sink::StoredTableSink;

#[derive(Debug)]
pub(crate) struct StoredTable {
    catalog: Arc<Catalog>,
    info: TableInfo,
}

impl StoredTable {
    pub(crate) fn new(catalog: Arc<Catalog>, info: TableInfo) -> Self {
        Self { catalog, info }
    }

    /// The table (access control reads its project and name).
    pub(crate) fn info(&self) -> &TableInfo {
        &self.info
    }
}

#[async_trait]
impl TableProvider for StoredTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.info.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The files committed as of planning: a consistent snapshot.
        let files = self
            .catalog
            .files(&self.info)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.info.schema.project(p)?),
                None => Arc::clone(&self.info.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source =
            format.file_source(TableSchema::from_file_schema(Arc::clone(&self.info.schema)));
        // Row counts recorded at commit give the optimiser exact sizes, so a
        // join with a one-row keyset table builds on the small side and
        // streams the large one.
        let group: Vec<PartitionedFile> = files
            .iter()
            .map(|f| {
                let stats = Statistics::new_unknown(&self.info.schema)
                    .with_num_rows(Precision::Exact(f.rows as usize))
                    .with_total_byte_size(Precision::Inexact(f.bytes as usize));
                // Local object store paths are absolute paths without the leading '/'.
                let path = f.path.to_string_lossy();
                PartitionedFile::new(path.trim_start_matches('/'), f.bytes)
                    .with_statistics(Arc::new(stats))
            })
            .collect();
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let stats = Statistics::new_unknown(&self.info.schema)
            .with_num_rows(Precision::Exact(rows as usize))
            .with_total_byte_size(Precision::Inexact(bytes as usize));
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(vec![FileGroup::new(group)])
            .with_statistics(stats)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mode = match insert_op {
            InsertOp::Append => CommitMode::Append,
            InsertOp::Overwrite => CommitMode::Overwrite,
            InsertOp::Replace => {
                return Err(DataFusionError::Plan(
                    "REPLACE INTO is not supported; use INSERT OVERWRITE to replace a table's contents".into(),
                ));
            }
        };
        let sink = StoredTableSink::new(Arc::clone(&self.catalog), self.info.clone(), mode);
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}
