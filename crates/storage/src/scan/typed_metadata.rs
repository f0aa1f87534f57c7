//! A Parquet file reader whose footer errors stay typed.
//!
//! DataFusion's `CachedParquetFileReader::get_metadata` turns every error of
//! reading a footer into text ("Failed to fetch metadata for file ..."). For
//! an AES256 file that error is often the KMS refusing the footer key (a
//! disabled key, a removed grant): as text it would reach the user as an
//! internal error instead of the KMS's refusal with its code. This reader
//! fetches the footer the same way (DataFusion's `DFParquetMetadata`, with
//! the same metadata cache) and hands the error on as it is.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReader;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::{ObjectMeta, ObjectStore};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;

/// DataFusion's reader (bytes and metrics), with typed footer errors.
pub(crate) struct TypedMetadataReader {
    pub(crate) inner: CachedParquetFileReader,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) object_meta: ObjectMeta,
    pub(crate) metadata_cache: Arc<dyn FileMetadataCache>,
    pub(crate) metadata_size_hint: Option<usize>,
}

impl AsyncFileReader for TypedMetadataReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            DFParquetMetadata::new(self.store.as_ref(), &self.object_meta)
                .with_decryption_properties(
                    options
                        .and_then(|o| o.file_decryption_properties())
                        .map(Arc::clone),
                )
                .with_file_metadata_cache(Some(Arc::clone(&self.metadata_cache)))
                .with_metadata_size_hint(self.metadata_size_hint)
                .with_page_index_policy(options.map(|o| o.column_index_policy()))
                .fetch_metadata()
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }
}
