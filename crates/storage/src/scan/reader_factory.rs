//! How a scan opens each Parquet file: through its block check if it is a
//! plain file with block tags (`verified_reader.rs`), through its frame
//! check if it is a Parquet file of the table (`checked_frame.rs`; every
//! file but a segmented one's plaintext), one row group ahead if
//! it is in a bucket (`read_ahead.rs`), and with DataFusion's metadata cache
//! and metrics either way, keeping footer errors typed (`typed_metadata.rs`).
//! (One factory for every kind of file, so that
//! DataFusion's own cannot be substituted for it.)

use std::sync::Arc;

use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReader, ParquetFileMetrics, ParquetFileReaderFactory,
};
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetObjectReader};

use super::checked_frame::{CheckFrame, CheckedFrameStore};
use super::read_ahead::ReadAhead;
use super::typed_metadata::TypedMetadataReader;
use super::verified_reader::{BlockCheck, VerifiedFileStore};

/// Opens the files of one scan of one kind.
#[derive(Debug)]
pub(crate) struct ReaderFactory {
    /// Where the files are read from (the location's store, or the
    /// decrypting store of segmented files).
    store: Arc<dyn ObjectStore>,
    metadata_cache: Arc<dyn FileMetadataCache>,
    /// Fetch the next row group while one is decoded (object storage).
    read_ahead: bool,
    /// The local disk, when the files are there: plain files' checked
    /// blocks are read from it directly (`local_blocks.rs`).
    local: Option<Arc<LocalFileSystem>>,
}

impl ReaderFactory {
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        metadata_cache: Arc<dyn FileMetadataCache>,
        read_ahead: bool,
        local: Option<Arc<LocalFileSystem>>,
    ) -> Self {
        Self {
            store,
            metadata_cache,
            read_ahead,
            local,
        }
    }
}

impl ParquetFileReaderFactory for ReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::error::Result<Box<dyn AsyncFileReader + Send>> {
        let mut store: Arc<dyn ObjectStore> = match file.extension::<BlockCheck>() {
            Some(check) => Arc::new(VerifiedFileStore::new(
                Arc::clone(&self.store),
                self.local.clone(),
                Arc::clone(&check.0),
            )),
            None => Arc::clone(&self.store),
        };
        // The frame is checked on the bytes the block check passed.
        if let Some(check) = file.extension::<CheckFrame>() {
            store = Arc::new(CheckedFrameStore::new(
                store,
                Arc::clone(&check.0),
                metadata_size_hint,
            ));
        }
        let location = file.object_meta.location.clone();
        let range = file.range.clone();
        let file_metrics = ParquetFileMetrics::new(partition_index, location.as_ref(), metrics);
        let mut inner = ParquetObjectReader::new(Arc::clone(&store), location.clone())
            .with_file_size(file.object_meta.size);
        if let Some(hint) = metadata_size_hint {
            inner = inner.with_footer_size_hint(hint);
        }
        let object_meta = file.object_meta.clone();
        let reader = Box::new(TypedMetadataReader {
            inner: CachedParquetFileReader::new(
                file_metrics,
                Arc::clone(&store),
                inner,
                file,
                Arc::clone(&self.metadata_cache),
                metadata_size_hint,
            ),
            store: Arc::clone(&store),
            object_meta,
            metadata_cache: Arc::clone(&self.metadata_cache),
            metadata_size_hint,
        });
        Ok(if self.read_ahead {
            Box::new(ReadAhead::new(reader, store, location, range))
        } else {
            reader
        })
    }
}
