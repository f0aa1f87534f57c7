//! An object store over the table files' store (the local disk today) that
//! serves segmented files (AESCTR, RC4) as the Parquet files they hold: a
//! range read fetches and authenticates only the segments it touches, so
//! DataFusion reads footers and column chunks as it does from plain files,
//! without decrypting whole files. Read-only: writes go through `NewFile`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};
use sealhouse_kms::KmsData;

use super::keys::open_data_key;
use crate::StorageError;
use crate::scan::read_only_store::{get_result, read_only_object_store};
use crate::segmented::{FileIdentity, MAX_HEADER_LEN, SegmentedHeader, SegmentedReader};

const STORE: &str = "sealhouse-segmented";

/// The decrypting store of one account's keys over the files' store.
pub(crate) struct SegmentedStore {
    kms: Arc<dyn KmsData>,
    files: Arc<dyn ObjectStore>,
}

impl SegmentedStore {
    pub(crate) fn new(kms: Arc<dyn KmsData>, files: Arc<dyn ObjectStore>) -> Self {
        Self { kms, files }
    }
}

impl fmt::Debug for SegmentedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SegmentedStore")
    }
}

fn generic(location: &Path, message: impl fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: format!("/{location}: {message}").into(),
    }
}

/// A file that fails to authenticate or is not where it belongs, as the
/// storage error it is (it comes out of the query typed).
fn damaged(location: &Path, message: impl fmt::Display) -> object_store::Error {
    typed(StorageError::DamagedFile(format!(
        "/{location}: {message}; restore it from a backup"
    )))
}

fn typed(error: StorageError) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(error),
    }
}

/// The header of the segmented file at `location` (`len` bytes long), read
/// without any key.
async fn read_header(
    files: &dyn ObjectStore,
    location: &Path,
    len: u64,
) -> object_store::Result<SegmentedHeader> {
    let prefix = files
        .get_range(location, 0..len.min(MAX_HEADER_LEN as u64))
        .await?;
    SegmentedHeader::parse(&prefix).map_err(|e| damaged(location, e))
}

/// The plaintext length of the segmented file at `location` in `files`
/// (`len` bytes long; no key needed: it follows from the header and the
/// length), after checking that its header is the one pinned at commit, if
/// one was.
pub(crate) async fn segmented_plaintext_len(
    files: &dyn ObjectStore,
    location: &Path,
    len: u64,
    pinned: Option<&[u8; 32]>,
) -> datafusion::error::Result<u64> {
    let failed = |e: String| {
        datafusion::error::DataFusionError::External(Box::new(StorageError::DamagedFile(format!(
            "cannot read encrypted file /{location}: {e}"
        ))))
    };
    let header = read_header(files, location, len)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if pinned.is_some_and(|p| *p != header.sha256()) {
        return Err(failed(
            "its header differs from the one committed (another file, or another version of it, \
             was put in its place); restore it from a backup"
                .into(),
        ));
    }
    header.plaintext_len(len).map_err(|e| failed(e.to_string()))
}

/// What one read gives: the bytes and plaintext range read (`None` for a
/// metadata-only read), the plaintext size, and the file's metadata.
type Read = (Option<(Bytes, Range<u64>)>, u64, ObjectMeta);

impl SegmentedStore {
    /// Reads `range` of the plaintext of the file at `location` (`None`:
    /// the object's metadata only).
    async fn read(&self, location: &Path, options: &GetOptions) -> object_store::Result<Read> {
        let meta = self.files.head(location).await?;
        let header = read_header(self.files.as_ref(), location, meta.size).await?;
        let place = FileIdentity::of_path(std::path::Path::new(location.as_ref()))
            .ok_or_else(|| generic(location, "is not where the warehouse keeps data files"))?;
        // The KMS may be a network call: off the runtime's threads.
        let kms = Arc::clone(&self.kms);
        let blob = header.wrapped_key().to_vec();
        let data_key = tokio::task::spawn_blocking(move || open_data_key(kms.as_ref(), &blob))
            .await
            .map_err(|e| generic(location, e))?
            .map_err(|e| {
                typed(StorageError::Kms {
                    code: e.code(),
                    message: format!("/{location}: cannot open the file's data key: {e}"),
                })
            })?;
        let reader =
            SegmentedReader::new(header, &data_key, meta.size).map_err(|e| damaged(location, e))?;
        // Authenticated now: a file copied here from another place under
        // the same key says where it belongs.
        reader
            .header()
            .check_identity(&place)
            .map_err(|e| damaged(location, e))?;
        let size = reader.plaintext_len();
        if options.head {
            return Ok((None, size, meta));
        }
        let range = match &options.range {
            None => 0..size,
            Some(r) => r.as_range(size).map_err(|e| generic(location, e))?,
        };
        let needed = reader
            .ciphertext_range_for(range.clone())
            .map_err(|e| generic(location, e))?;
        let fetched = self.files.get_range(location, needed.clone()).await?;
        if fetched.len() as u64 != needed.end - needed.start {
            return Err(damaged(
                location,
                format!("reading bytes {needed:?} gave {} bytes", fetched.len()),
            ));
        }
        let plaintext = reader
            .read_range(range.clone(), &fetched)
            .map_err(|e| damaged(location, e))?;
        Ok((Some((Bytes::from(plaintext), range)), size, meta))
    }
}

read_only_object_store!(SegmentedStore, STORE, {
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let head = options.head;
        let (read, size, stored) = self.read(location, &options).await?;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: stored.last_modified,
            size,
            e_tag: None,
            version: None,
        };
        debug_assert!(read.is_some() || head);
        Ok(get_result(meta, read))
    }
});
