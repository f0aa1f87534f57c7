//! A table of the storage catalog as a DataFusion table: scans read the
//! snapshot its name resolved to (through the storage crate's scan
//! descriptor, which carries the query's conditions on its columns), inserts write one new file and commit it.

use std::sync::Arc;

use super::provider::ProjectKeysHeld;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::default_table_source::DefaultTableSource;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableSource};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use sealhouse_storage::{
    BlockTagKeys, Catalog, CommitMode, DataFile, ScanDescriptor, ScanKeys, ScanPredicate,
    ScanReader, SnapshotScanExec, TableInfo,
};

use super::sink::{SinkTarget, StoredTableSink};

#[derive(Debug)]
pub(crate) struct StoredTable {
    catalog: Arc<Catalog>,
    info: TableInfo,
    /// What its scans produce and queries see (BINARY as `BinaryView`:
    /// `ColumnType::scan_type`); inserts are cast back to the stored types.
    scan_schema: SchemaRef,
    /// What a scan reads: the table's files when its name was resolved,
    /// read with it and leased until the statement ends (a DROP or commit
    /// meanwhile leaves them readable; `StatementLeases`).
    snapshot: Vec<DataFile>,
    /// The project's keys when it is encrypted, or why they cannot be had
    /// (a session without a KMS), reported when a file needs them.
    keys: ProjectKeysHeld,
}

impl StoredTable {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        (info, snapshot): (TableInfo, Vec<DataFile>),
        keys: ProjectKeysHeld,
    ) -> Self {
        Self {
            catalog,
            scan_schema: info.scan_schema(),
            info,
            snapshot,
            keys,
        }
    }

    /// A scan of `files` of this table, projected and limited: the storage
    /// crate's scan descriptor, read with this session's keys.
    async fn scan_all(
        &self,
        state: &dyn Session,
        files: &[DataFile],
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let encryption = match &self.keys {
            ProjectKeysHeld::Held(keys) => Some(keys.setting().clone()),
            _ => None,
        };
        let file_store = self.catalog.file_store();
        let descriptor = ScanDescriptor::new(file_store.location(), &self.info, encryption, files)
            .with_projection(projection.cloned())
            .with_predicate(ScanPredicate::all_of(filters, &self.scan_schema))
            .with_limit(limit);
        if let Some(distributed) = state
            .config()
            .get_extension::<crate::session::DistributedScans>()
        {
            // The plan runs elsewhere: the scan travels as its descriptor,
            // split into the session's partitions (and still readable here,
            // for statements that run in this process).
            let mut reader = ScanReader::new(Arc::clone(&self.catalog), self.keys.reader_keys());
            if let Some(sealer) = &distributed.sealer {
                reader = reader.sealing_tag_keys(Arc::clone(sealer));
            }
            let partitions = state.config().target_partitions();
            return Ok(Arc::new(SnapshotScanExec::new(
                descriptor,
                partitions,
                Some(Arc::new(reader)),
            )?));
        }
        let keys = ScanKeys {
            file_store,
            project: self.keys.access(),
            block_tags: Some(BlockTagKeys::Catalog(&self.catalog)),
        };
        descriptor.plan(state, keys).await
    }

    /// A plan writing `input` into the table: appended, replacing all, or
    /// replacing exactly `replacing` (a rewrite).
    pub(crate) fn writer(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        target: SinkTarget,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let keys = match &self.keys {
            ProjectKeysHeld::Held(keys) => {
                keys.register(state.runtime_env())?;
                Some(Arc::clone(keys))
            }
            ProjectKeysHeld::Unencrypted => None,
            ProjectKeysHeld::OutOfReach(why) => {
                return Err(DataFusionError::Shared(Arc::clone(why)));
            }
        };
        let sink = StoredTableSink::new(Arc::clone(&self.catalog), self.info.clone(), target, keys);
        // A sink writes its input's first partition only; a merge or
        // rewrite hands it a scan of several (a snapshot scan splits its
        // files), so they are gathered first, or rows would be lost.
        let input = if input.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(input))
        } else {
            input
        };
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    /// A scan of exactly `files` of this table (a rewrite reads them).
    pub(crate) async fn scan_exactly(
        &self,
        state: &dyn Session,
        files: &[DataFile],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.scan_all(state, files, None, &[], None).await
    }

    /// The stored table behind a plan's table source, if it is one.
    pub(crate) fn behind(source: &dyn TableSource) -> Option<&StoredTable> {
        let source = (source as &dyn std::any::Any).downcast_ref::<DefaultTableSource>()?;
        source.table_provider.downcast_ref::<StoredTable>()
    }

    /// The table (access control reads its project and name).
    pub(crate) fn info(&self) -> &TableInfo {
        &self.info
    }
}

#[async_trait]
impl TableProvider for StoredTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.scan_schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.scan_all(state, &self.snapshot, projection, filters, limit)
            .await
    }

    /// Conditions on the table's columns travel in the scan descriptor for
    /// the reader to skip row groups and pages with; the query still
    /// filters every row (inexact), and every other condition stays with it.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match ScanPredicate::from_filter(f, &self.scan_schema) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
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
        self.writer(state, input, SinkTarget::Mode(mode))
    }
}
