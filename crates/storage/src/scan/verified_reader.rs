//! Reading plain data files with their block tags checked
//! (`crate::integrity::block_tags`): every byte DataFusion's
//! Parquet reader gets from a plain file was checked first, so a flipped
//! bit is an error rather than another value.
//!
//! The check rides on DataFusion's extension point for file access: each
//! plain file's `PartitionedFile` carries its [`BlockCheck`], and the
//! scan's reader factory (`reader_factory.rs`) reads such files through
//! [`VerifiedFileStore`], a one-file object store that fetches whole blocks
//! and checks them.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::integrity::block_tags::BlockVerifier;
use crate::scan::read_only_store::{get_result, read_only_object_store};

const STORE: &str = "sealhouse-verified";

/// A plain file's block check, attached to its `PartitionedFile`.
#[derive(Debug)]
pub(crate) struct BlockCheck(pub(crate) Arc<BlockVerifier>);

/// One plain file, read in whole checked blocks.
pub(crate) struct VerifiedFileStore {
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

/// A block that fails its check, as the storage error it is (it comes out
/// of the query typed).
fn damaged(location: &Path, what: impl fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(crate::StorageError::DamagedFile(format!(
            "data file /{location} is damaged: {what}; restore it from a backup"
        ))),
    }
}

impl VerifiedFileStore {
    /// `inner`'s file checked by `verifier`.
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, verifier: Arc<BlockVerifier>) -> Self {
        Self { inner, verifier }
    }

    /// The object's metadata, its length checked against the committed one.
    async fn checked_head(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        let meta = self.inner.head(location).await?;
        self.verifier
            .check_len(meta.size)
            .map_err(|e| damaged(location, e))?;
        Ok(meta)
    }

    /// The bytes of each range: the whole blocks every range touches,
    /// fetched in one call to the inner store (one request for a row
    /// group's column chunks, as without the check) and checked before any
    /// byte is handed out. (No HEAD first: that would be a round trip per
    /// row group on object storage, and a file that changed length fails
    /// its blocks' tags or the range read anyway.)
    async fn checked_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
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
        Ok(out)
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
        let meta = self.checked_head(location).await?;
        let mut bytes = self.checked_ranges(location, &wanted).await?;
        Ok(get_result(meta, bytes.pop().map(|bytes| (bytes, range))))
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.checked_ranges(location, ranges).await
    }
});
