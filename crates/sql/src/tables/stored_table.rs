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
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use sealhouse_storage::{Catalog, CommitMode, DataFile, StorageAlgorithm, TableInfo};

use super::file_check::{ParquetMagic, check_parquet_frame};
use super::sink::{SinkTarget, StoredTableSink};
use super::verified_reader::{BlockCheck, VerifiedReaderFactory};
use crate::storage_encryption::ProjectKeys;

#[derive(Debug)]
pub(crate) struct StoredTable {
    catalog: Arc<Catalog>,
    info: TableInfo,
    /// What a scan reads: the table's files when its name was resolved,
    /// read with it and leased until the statement ends (a DROP or commit
    /// meanwhile leaves them readable; `StatementLeases`).
    snapshot: Vec<DataFile>,
    /// The project's keys when it is encrypted; `Err` says why they cannot
    /// be had (a session without a KMS), reported when a file needs them.
    keys: Result<Option<Arc<ProjectKeys>>, String>,
}

impl StoredTable {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        (info, snapshot): (TableInfo, Vec<DataFile>),
        keys: Result<Option<Arc<ProjectKeys>>, String>,
    ) -> Self {
        Self {
            catalog,
            info,
            snapshot,
            keys,
        }
    }

    /// The project's keys, for a file that needs them.
    fn keys(&self) -> Result<&Arc<ProjectKeys>> {
        match &self.keys {
            Ok(Some(keys)) => Ok(keys),
            Ok(None) => Err(DataFusionError::Execution(format!(
                "table {}.{} holds encrypted files but its project has no storage encryption \
                 setting: the catalog is damaged",
                self.info.project, self.info.name
            ))),
            Err(why) => Err(DataFusionError::Execution(why.clone())),
        }
    }

    /// A scan of `files` (all of one kind: plain, AES256, or segmented).
    async fn scan_files(
        &self,
        state: &dyn Session,
        files: &[&DataFile],
        kind: FileKind,
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut options = state.table_options().parquet.clone();
        let mut url = ObjectStoreUrl::local_filesystem();
        match kind {
            FileKind::Plain => {}
            FileKind::Aes256 => {
                let keys = self.keys()?;
                keys.register(state.runtime_env())?;
                options = keys.parquet_read_options(options);
            }
            FileKind::Segmented => {
                let keys = self.keys()?;
                keys.register(state.runtime_env())?;
                url = keys.segmented_url()?;
            }
        }
        let format = ParquetFormat::default().with_options(options);
        let source =
            format.file_source(TableSchema::from_file_schema(Arc::clone(&self.info.schema)));
        // Row counts recorded at commit give the optimiser exact sizes, so a
        // join with a one-row keyset table builds on the small side and
        // streams the large one.
        let mut group = Vec::with_capacity(files.len());
        for f in files {
            if let Err(e) = std::fs::metadata(&f.path) {
                let what = if e.kind() == std::io::ErrorKind::NotFound {
                    "is missing".to_owned()
                } else {
                    format!("cannot be read ({e})")
                };
                return Err(DataFusionError::Execution(format!(
                    "data file {} of table {}.{} {what}, though the catalog lists it; restore it \
                     from a backup",
                    f.path.display(),
                    self.info.project,
                    self.info.name
                )));
            }
            let stats = Statistics::new_unknown(&self.info.schema)
                .with_num_rows(Precision::Exact(f.rows as usize))
                .with_total_byte_size(Precision::Inexact(f.bytes as usize));
            // The reader sees a segmented file's plaintext, so its size.
            let size = match kind {
                FileKind::Segmented => crate::storage_encryption::segmented_plaintext_len(
                    &f.path,
                    f.pinned_sha256.as_ref(),
                )?,
                FileKind::Aes256 => {
                    check_parquet_frame(
                        &f.path,
                        ParquetMagic::Encrypted,
                        f.pinned_sha256.as_ref(),
                    )?;
                    f.bytes
                }
                FileKind::Plain => {
                    check_parquet_frame(&f.path, ParquetMagic::Plain, f.pinned_sha256.as_ref())?;
                    f.bytes
                }
            };
            // Object store paths are absolute paths without the leading '/'.
            let path = f.path.to_string_lossy();
            let mut file = PartitionedFile::new(path.trim_start_matches('/'), size)
                .with_statistics(Arc::new(stats));
            if kind == FileKind::Plain {
                let verifier = self.catalog.block_verifier(f).map_err(|e| {
                    DataFusionError::Execution(format!(
                        "data file {} of table {}.{}: {e}; restore the data directory from a backup",
                        f.path.display(),
                        self.info.project,
                        self.info.name
                    ))
                })?;
                if let Some(verifier) = verifier {
                    file = file.with_extension(BlockCheck(Arc::new(verifier)));
                }
            }
            group.push(file);
        }
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let stats = Statistics::new_unknown(&self.info.schema)
            .with_num_rows(Precision::Exact(rows as usize))
            .with_total_byte_size(Precision::Inexact(bytes as usize));
        let source = match kind {
            // Plain files are read through their block checks: the source
            // gets its reader factory here, as ParquetFormat would give it
            // DataFusion's own (which it cannot be told not to).
            FileKind::Plain => {
                let runtime = state.runtime_env();
                let factory = VerifiedReaderFactory::new(
                    runtime.object_store(&url)?,
                    runtime.cache_manager.get_file_metadata_cache(),
                );
                let mut source = ParquetSource::new(TableSchema::from_file_schema(Arc::clone(
                    &self.info.schema,
                )))
                .with_table_parquet_options(format.options().clone())
                .with_parquet_file_reader_factory(Arc::new(factory));
                if let Some(hint) = format.metadata_size_hint() {
                    source = source.with_metadata_size_hint(hint);
                }
                Arc::new(source)
            }
            FileKind::Aes256 | FileKind::Segmented => source,
        };
        let config = FileScanConfigBuilder::new(url, source)
            .with_file_groups(vec![FileGroup::new(group)])
            .with_statistics(stats)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        match kind {
            FileKind::Plain => Ok(DataSourceExec::from_data_source(config)),
            FileKind::Aes256 | FileKind::Segmented => {
                format.create_physical_plan(state, config).await
            }
        }
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
            Ok(Some(keys)) => {
                keys.register(state.runtime_env())?;
                Some(Arc::clone(keys))
            }
            Ok(None) => None,
            Err(why) => return Err(DataFusionError::Execution(why.clone())),
        };
        let sink = StoredTableSink::new(Arc::clone(&self.catalog), self.info.clone(), target, keys);
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    /// A scan of exactly `files` of this table (a rewrite reads them).
    pub(crate) async fn scan_exactly(
        &self,
        state: &dyn Session,
        files: &[DataFile],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.scan_all(state, files, None, None).await
    }

    async fn scan_all(
        &self,
        state: &dyn Session,
        files: &[DataFile],
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.info.schema.project(p)?),
                None => Arc::clone(&self.info.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let mut plans = Vec::new();
        for kind in [FileKind::Plain, FileKind::Aes256, FileKind::Segmented] {
            let of_kind: Vec<&DataFile> =
                files.iter().filter(|f| FileKind::of(f) == kind).collect();
            if !of_kind.is_empty() {
                plans.push(
                    self.scan_files(state, &of_kind, kind, projection, limit)
                        .await?,
                );
            }
        }
        UnionExec::try_new(plans)
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
        self.scan_all(state, &self.snapshot, projection, limit)
            .await
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

/// How a data file must be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// Plain Parquet.
    Plain,
    /// Parquet modular encryption.
    Aes256,
    /// Parquet inside a segmented file (AESCTR or RC4).
    Segmented,
}

impl FileKind {
    fn of(file: &DataFile) -> Self {
        match file.encryption {
            None => Self::Plain,
            Some(StorageAlgorithm::Aes256) => Self::Aes256,
            Some(StorageAlgorithm::AesCtr | StorageAlgorithm::Rc4) => Self::Segmented,
        }
    }
}
