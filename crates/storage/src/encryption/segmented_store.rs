//! An object store over the local data directory that serves segmented
//! files (AESCTR, RC4) as the Parquet files they hold: a range read fetches
//! and authenticates only the segments it touches, so DataFusion reads
//! footers and column chunks as it does from plain files, without
//! decrypting whole files. Read-only: writes go through `FileWriter`.

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use crate::segmented::{FileIdentity, MAX_HEADER_LEN, SegmentedHeader, SegmentedReader};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetResult, GetResultPayload, ObjectMeta};
use sealhouse_kms::Kms;

use super::keys::open_data_key;
use crate::scan::read_only_store::read_only_object_store;

const STORE: &str = "sealhouse-segmented";

/// The decrypting store of one account's keys.
pub(crate) struct SegmentedStore {
    kms: Arc<dyn Kms>,
}

impl SegmentedStore {
    pub(crate) fn new(kms: Arc<dyn Kms>) -> Self {
        Self { kms }
    }
}

impl fmt::Debug for SegmentedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SegmentedStore")
    }
}

impl fmt::Display for SegmentedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

fn generic(path: &FsPath, message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: format!("{}: {message}", path.display()).into(),
    }
}

/// A segmented file's header and the file's length, read without any key.
fn read_header(file: &File, path: &FsPath) -> object_store::Result<(SegmentedHeader, u64)> {
    let len = file
        .metadata()
        .map_err(|e| generic(path, e.to_string()))?
        .len();
    let mut prefix = Vec::with_capacity(MAX_HEADER_LEN);
    file.take(MAX_HEADER_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| generic(path, e.to_string()))?;
    let header = SegmentedHeader::parse(&prefix).map_err(|e| generic(path, e.to_string()))?;
    Ok((header, len))
}

/// The plaintext length of the segmented file at `path` (no key needed: it
/// follows from the header and the file's length), after checking that its
/// header is the one pinned at commit, if one was.
pub(crate) fn segmented_plaintext_len(
    path: &FsPath,
    pinned: Option<&[u8; 32]>,
) -> datafusion::error::Result<u64> {
    let failed = |e: String| {
        datafusion::error::DataFusionError::Execution(format!(
            "cannot read encrypted file {}: {e}",
            path.display()
        ))
    };
    let file = File::open(path)?;
    let (header, len) = read_header(&file, path).map_err(|e| failed(e.to_string()))?;
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
/// metadata-only read), the plaintext size, and the file's modification time.
type Read = (Option<(Bytes, Range<u64>)>, u64, std::time::SystemTime);

impl SegmentedStore {
    /// Reads `range` of the plaintext of the file at `path` (`None`: the
    /// object's metadata only).
    fn read(&self, path: &FsPath, options: &GetOptions) -> object_store::Result<Read> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => object_store::Error::NotFound {
                path: path.display().to_string(),
                source: e.into(),
            },
            _ => generic(path, e.to_string()),
        })?;
        let modified = file
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| generic(path, e.to_string()))?;
        let (header, file_len) = read_header(&file, path)?;
        let place = FileIdentity::of_path(path)
            .ok_or_else(|| generic(path, "is not where the warehouse keeps data files".into()))?;
        let data_key = open_data_key(self.kms.as_ref(), header.wrapped_key())
            .map_err(|e| generic(path, format!("cannot open the file's data key: {e}")))?;
        let reader = SegmentedReader::new(header, &data_key, file_len)
            .map_err(|e| generic(path, e.to_string()))?;
        // Authenticated now: a file copied here from another place under
        // the same key says where it belongs.
        reader
            .header()
            .check_identity(&place)
            .map_err(|e| generic(path, e.to_string()))?;
        let size = reader.plaintext_len();
        if options.head {
            return Ok((None, size, modified));
        }
        let range = match &options.range {
            None => 0..size,
            Some(r) => r.as_range(size).map_err(|e| generic(path, e.to_string()))?,
        };
        let needed = reader
            .ciphertext_range_for(range.clone())
            .map_err(|e| generic(path, e.to_string()))?;
        let mut fetched = vec![0u8; (needed.end - needed.start) as usize];
        file.read_exact_at(&mut fetched, needed.start)
            .map_err(|e| generic(path, format!("reading bytes {needed:?}: {e}")))?;
        let plaintext = reader
            .read_range(range.clone(), &fetched)
            .map_err(|e| generic(path, e.to_string()))?;
        Ok((Some((Bytes::from(plaintext), range)), size, modified))
    }
}

read_only_object_store!(SegmentedStore, STORE, {
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let path = PathBuf::from(format!("/{location}"));
        let kms = Arc::clone(&self.kms);
        let head = options.head;
        let (read, size, modified) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || SegmentedStore { kms }.read(&path, &options)
        })
        .await
        .map_err(|e| generic(&path, e.to_string()))??;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: chrono::DateTime::<chrono::Utc>::from(modified),
            size,
            e_tag: None,
            version: None,
        };
        let (payload, range) = match read {
            Some((bytes, range)) => (stream::once(async move { Ok(bytes) }).boxed(), range),
            None => {
                debug_assert!(head);
                (stream::empty().boxed(), 0..size)
            }
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta,
            range,
            attributes: Default::default(),
        })
    }
});
