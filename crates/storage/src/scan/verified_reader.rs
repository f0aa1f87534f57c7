//! Reading plain data files with their block tags checked
//! (`crate::integrity::block_tags`): every byte DataFusion's
//! Parquet reader gets from a plain file was checked first, so a flipped
//! bit is an error rather than another value.
//!
//! The check rides on DataFusion's extension point for file access: each
//! plain file's [`PartitionedFile`] carries its [`BlockCheck`], and
//! [`VerifiedReaderFactory`] (a `ParquetFileReaderFactory`) reads such files
//! through a one-file object store that fetches whole blocks and checks
//! them. Footer metadata is still cached by DataFusion's metadata cache.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::integrity::block_tags::BlockVerifier;
use crate::scan::read_only_store::read_only_object_store;
use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReader, ParquetFileMetrics, ParquetFileReaderFactory,
};
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::stream::{self, StreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetObjectReader};

const STORE: &str = "sealhouse-verified";

/// A plain file's block check, attached to its `PartitionedFile`.
#[derive(Debug)]
pub(crate) struct BlockCheck(pub(crate) Arc<BlockVerifier>);

/// Opens files through [`VerifiedFileStore`] when they carry a
/// [`BlockCheck`], otherwise as DataFusion's cached factory does.
#[derive(Debug)]
pub(crate) struct VerifiedReaderFactory {
    store: Arc<dyn ObjectStore>,
    metadata_cache: Arc<dyn FileMetadataCache>,
}

impl VerifiedReaderFactory {
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        metadata_cache: Arc<dyn FileMetadataCache>,
    ) -> Self {
        Self {
            store,
            metadata_cache,
        }
    }
}

impl ParquetFileReaderFactory for VerifiedReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::error::Result<Box<dyn AsyncFileReader + Send>> {
        let store: Arc<dyn ObjectStore> = match file.extension::<BlockCheck>() {
            Some(check) => Arc::new(VerifiedFileStore {
                inner: Arc::clone(&self.store),
                verifier: Arc::clone(&check.0),
            }),
            None => Arc::clone(&self.store),
        };
        let file_metrics =
            ParquetFileMetrics::new(partition_index, file.object_meta.location.as_ref(), metrics);
        let mut inner =
            ParquetObjectReader::new(Arc::clone(&store), file.object_meta.location.clone())
                .with_file_size(file.object_meta.size);
        if let Some(hint) = metadata_size_hint {
            inner = inner.with_footer_size_hint(hint);
        }
        Ok(Box::new(CachedParquetFileReader::new(
            file_metrics,
            store,
            inner,
            file,
            Arc::clone(&self.metadata_cache),
            metadata_size_hint,
        )))
    }
}

/// One plain file, read in whole checked blocks.
struct VerifiedFileStore {
    inner: Arc<dyn ObjectStore>,
    verifier: Arc<BlockVerifier>,
}

impl fmt::Debug for VerifiedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedFileStore")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for VerifiedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

fn damaged(location: &Path, what: impl fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: format!("data file /{location} is damaged: {what}; restore it from a backup")
            .into(),
    }
}

impl VerifiedFileStore {
    /// The object's metadata (its length checked against the committed one)
    /// and the bytes of each range: the whole blocks every range touches,
    /// fetched in one call to the inner store (one file open for a row
    /// group's column chunks, as without the check) and checked before any
    /// byte is handed out.
    async fn checked_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<(ObjectMeta, Vec<Bytes>)> {
        let meta = self.inner.head(location).await?;
        self.verifier
            .check_len(meta.size)
            .map_err(|e| damaged(location, e))?;
        let blocks = ranges
            .iter()
            .map(|r| self.verifier.blocks_for(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| damaged(location, e))?;
        let wanted: Vec<Range<u64>> = blocks.iter().filter(|b| !b.is_empty()).cloned().collect();
        let mut fetched = self.inner.get_ranges(location, &wanted).await?.into_iter();
        let mut out = Vec::with_capacity(ranges.len());
        for (range, blocks) in ranges.iter().zip(&blocks) {
            if blocks.is_empty() {
                out.push(Bytes::new());
                continue;
            }
            let bytes = fetched
                .next()
                .ok_or_else(|| damaged(location, "the store returned fewer ranges than asked"))?;
            self.verifier
                .verify(blocks.start, &bytes)
                .map_err(|e| damaged(location, e))?;
            let from = (range.start - blocks.start) as usize;
            out.push(bytes.slice(from..from + (range.end - range.start) as usize));
        }
        Ok((meta, out))
    }
}

read_only_object_store!(VerifiedFileStore, STORE, {
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let size = self.verifier.len();
        let range = match &options.range {
            None => 0..size,
            Some(r) => r.as_range(size).map_err(|e| damaged(location, e))?,
        };
        let wanted = if options.head {
            Vec::new()
        } else {
            vec![range.clone()]
        };
        let (meta, mut bytes) = self.checked_ranges(location, &wanted).await?;
        let payload = match bytes.pop() {
            Some(bytes) => stream::once(async move { Ok(bytes) }).boxed(),
            None => stream::empty().boxed(),
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta,
            range: if options.head { 0..size } else { range },
            attributes: Default::default(),
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        Ok(self.checked_ranges(location, ranges).await?.1)
    }
});
