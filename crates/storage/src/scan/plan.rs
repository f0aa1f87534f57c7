//! A [`ScanDescriptor`] as a DataFusion plan: one Parquet scan per kind of
//! file (plain, AES256, segmented) under a union, each file checked before
//! DataFusion reads it.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};

use super::ScanDescriptor;
use super::batch_rows::batch_rows;
use super::checked_frame::CheckFrame;
use super::file_check::{FrameCheck, ParquetMagic};
use super::reader_factory::ReaderFactory;
use super::tag_keys::BlockTagKeys;
use super::verified_reader::BlockCheck;
use crate::encryption::{ProjectKeys, StorageAlgorithm, segmented_plaintext_len};
use crate::{DataFile, FileStore, StorageError, StorageLocation};

/// What reading a descriptor's files takes besides the descriptor.
#[derive(Debug, Clone, Copy)]
pub struct ScanKeys<'a> {
    /// The files' location, reached as this process may (it must be the
    /// descriptor's).
    pub file_store: &'a FileStore,
    /// The project's keys, for its encrypted files.
    pub project: ProjectKeyAccess<'a>,
    /// The keys that check plain files' block tags. Without them, a plain
    /// file with block tags is refused, never read unchecked.
    pub block_tags: Option<BlockTagKeys<'a>>,
}

/// The keys of a scanned table's project, as this process holds them.
#[derive(Debug, Clone, Copy)]
pub enum ProjectKeyAccess<'a> {
    /// The project has no storage encryption.
    Unencrypted,
    /// Its keys.
    Held(&'a ProjectKeys),
    /// The project is encrypted and this process cannot reach its keys:
    /// the error to report when a file needs them (shared, so a caller's
    /// typed error comes back out as itself).
    OutOfReach(&'a Arc<DataFusionError>),
}

impl ScanDescriptor {
    /// The plan reading this snapshot's rows (projected and limited as the
    /// descriptor says).
    pub async fn plan(
        &self,
        state: &dyn Session,
        keys: ScanKeys<'_>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.check().map_err(external)?;
        if keys.file_store.location() != &self.location {
            return Err(DataFusionError::Execution(format!(
                "the scan of {}.{} reads files at {}, but this process reaches {}",
                self.project,
                self.table,
                self.location,
                keys.file_store.location()
            )));
        }
        let schema = self.schema().map_err(external)?;
        let files = self.data_files().map_err(external)?;
        if files.is_empty() {
            let schema = match &self.projection {
                Some(p) => Arc::new(schema.project(p)?),
                None => schema,
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        // The predicate prunes row groups and pages; the query above still
        // filters every row.
        let predicate = match &self.predicate {
            Some(p) => Some(p.to_physical(state, &schema)?),
            None => None,
        };
        let scan = Scan {
            descriptor: self,
            schema,
            keys,
            predicate,
        };
        let mut plans = Vec::new();
        for kind in [FileKind::Plain, FileKind::Aes256, FileKind::Segmented] {
            let of_kind: Vec<&DataFile> =
                files.iter().filter(|f| FileKind::of(f) == kind).collect();
            if !of_kind.is_empty() {
                plans.push(scan.files(state, &of_kind, kind).await?);
            }
        }
        UnionExec::try_new(plans)
    }
}

fn external(e: StorageError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

struct Scan<'a> {
    descriptor: &'a ScanDescriptor,
    schema: SchemaRef,
    keys: ScanKeys<'a>,
    predicate: Option<Arc<dyn PhysicalExpr>>,
}

impl Scan<'_> {
    /// The project's keys, for a file that needs them.
    fn keys(&self) -> Result<&ProjectKeys> {
        match self.keys.project {
            ProjectKeyAccess::Held(keys) => Ok(keys),
            ProjectKeyAccess::Unencrypted => Err(external(StorageError::Corrupt(format!(
                "table {}.{} holds encrypted files but its project has no storage encryption \
                 setting",
                self.descriptor.project, self.descriptor.table
            )))),
            ProjectKeyAccess::OutOfReach(why) => Err(DataFusionError::Shared(Arc::clone(why))),
        }
    }

    /// A file the catalog lists that is missing or fails its check. `what`
    /// follows the table's name: it starts with a space or a colon.
    fn damaged(&self, file: &DataFile, what: String) -> DataFusionError {
        external(StorageError::DamagedFile(self.about(file, what)))
    }

    /// `what` said of `file`, naming it and its table.
    fn about(&self, file: &DataFile, what: String) -> String {
        format!(
            "data file {} of table {}.{}{what}",
            self.keys.file_store.external_url(&file.key),
            self.descriptor.project,
            self.descriptor.table
        )
    }

    /// A scan of `files` (all of one kind: plain, AES256, or segmented).
    async fn files(
        &self,
        state: &dyn Session,
        files: &[&DataFile],
        kind: FileKind,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut options = state.table_options().parquet.clone();
        // Where the files are read from; each is checked through it before
        // DataFusion reads it.
        let file_store = self.keys.file_store;
        file_store.register(state.runtime_env());
        let store = Arc::clone(file_store.object_store());
        let mut url = file_store.url().clone();
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
        // One reader factory for every kind (block checks for plain files,
        // read-ahead from a bucket); the decryption of AES256 files is the
        // encryption factory the project's keys registered.
        let runtime = state.runtime_env();
        let factory = ReaderFactory::new(
            runtime.object_store(&url)?,
            runtime.cache_manager.get_file_metadata_cache(),
            matches!(file_store.location(), StorageLocation::S3 { .. }),
            file_store.local_files(),
        );
        let mut parquet =
            ParquetSource::new(TableSchema::from_file_schema(Arc::clone(&self.schema)))
                .with_table_parquet_options(format.options().clone())
                .with_parquet_file_reader_factory(Arc::new(factory));
        if let Some(hint) = format.metadata_size_hint() {
            parquet = parquet.with_metadata_size_hint(hint);
        }
        if let Some(id) = &format.options().crypto.factory_id {
            parquet = parquet.with_encryption_factory(runtime.parquet_encryption_factory(id)?);
        }
        if let Some(predicate) = &self.predicate {
            parquet = parquet.with_predicate(Arc::clone(predicate));
        }
        // Row counts recorded at commit give the optimiser exact sizes, so a
        // join with a one-row keyset table builds on the small side and
        // streams the large one.
        // A segmented file's header is read and checked here; those reads
        // run side by side so a table of many files does not pay their
        // round trips one after another (an automatic merge scans every
        // small file of a table inside an INSERT). Parquet files need no
        // read here: their frames are checked as they are read.
        // (The futures are made first: a closure inside the stream would
        // not be general enough over lifetimes for a Send future.)
        let checks: Vec<_> = files
            .iter()
            .map(|f| self.checked_file(store.as_ref(), f, kind))
            .collect();
        let group: Vec<PartitionedFile> = futures::stream::iter(checks)
            .buffered(CHECKS_IN_FLIGHT)
            .try_collect()
            .await?;
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let stats = Statistics::new_unknown(&self.schema)
            .with_num_rows(Precision::Exact(rows as usize))
            .with_total_byte_size(Precision::Inexact(bytes as usize));
        // Wide rows come in batches of about 2 MiB (batch_rows.rs).
        let batch_rows = batch_rows(
            &self.schema,
            self.descriptor.projection.as_deref(),
            &self.descriptor.widths,
            state.config().batch_size(),
        );
        let config = FileScanConfigBuilder::new(url, Arc::new(parquet))
            .with_batch_size(batch_rows)
            .with_file_groups(vec![FileGroup::new(group)])
            .with_statistics(stats)
            .with_projection_indices(self.descriptor.projection.clone())?
            .with_limit(self.descriptor.limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    /// `f` as DataFusion reads it: its size as the reader sees it, its
    /// committed row count, and its checks. A segmented file's header is
    /// checked here (its plaintext length follows from it); a Parquet
    /// file's frame is checked by its first read (`checked_frame.rs`), on
    /// the bytes the reader decodes.
    async fn checked_file(
        &self,
        store: &dyn ObjectStore,
        f: &DataFile,
        kind: FileKind,
    ) -> Result<PartitionedFile> {
        let location = self.keys.file_store.object_path(&f.key);
        let stats = Statistics::new_unknown(&self.schema)
            .with_num_rows(Precision::Exact(f.rows as usize))
            .with_total_byte_size(Precision::Inexact(f.bytes as usize));
        let pinned = f.pinned_sha256.as_ref();
        let (size, frame) = match kind {
            FileKind::Segmented => {
                let len = match store.head(&location).await {
                    Ok(meta) => meta.size,
                    Err(e) => {
                        let what = if matches!(e, object_store::Error::NotFound { .. }) {
                            "is missing".to_owned()
                        } else {
                            format!("cannot be read ({e})")
                        };
                        return Err(self.damaged(
                            f,
                            format!(
                                " {what}, though the catalog lists it; restore it from a backup"
                            ),
                        ));
                    }
                };
                // The reader sees a segmented file's plaintext, so its size.
                let size = segmented_plaintext_len(store, &location, len, pinned).await?;
                (size, None)
            }
            FileKind::Aes256 | FileKind::Plain => {
                let magic = if kind == FileKind::Plain {
                    ParquetMagic::Plain
                } else {
                    ParquetMagic::Encrypted
                };
                let check = FrameCheck {
                    magic,
                    len: f.bytes,
                    footer_sha256: f.pinned_sha256,
                    named: self.about(f, String::new()),
                };
                (f.bytes, Some(CheckFrame(Arc::new(check))))
            }
        };
        let mut file =
            PartitionedFile::new(location.to_string(), size).with_statistics(Arc::new(stats));
        if let Some(frame) = frame {
            file = file.with_extension(frame);
        }
        if kind == FileKind::Plain && f.block_tags.is_some() {
            let Some(tag_keys) = self.keys.block_tags else {
                return Err(DataFusionError::Execution(self.about(
                    f,
                    " is checked with the catalog's key, which this process does not hold".into(),
                )));
            };
            let verifier = tag_keys.verifier(f).map_err(|e| {
                self.damaged(
                    f,
                    format!(": {e}; restore the data directory from a backup"),
                )
            })?;
            if let Some(verifier) = verifier {
                file = file.with_extension(BlockCheck(Arc::new(verifier)));
            }
        }
        Ok(file)
    }
}

/// How many files' checks run at once.
const CHECKS_IN_FLIGHT: usize = 16;

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
