//! Reading a Parquet file through its frame check (`file_check.rs`).
//!
//! The first read of a file fetches its ends in one request: the whole file
//! when it is small, else its first four bytes and the suffix the reader's
//! footer read asks for (the metadata size hint). Those bytes are checked
//! (magic, footer length, pinned footer digest), then they answer the
//! reader's footer read and, for a small file, every read. A small file is
//! one request to the store where a check made while planning (a HEAD, the
//! two ends, the footer) and the reader's own reads (footer, column chunks)
//! took five; and the footer the reader decodes is the one checked, with
//! nothing between the check and the read.
//!
//! A file longer than the catalog says keeps its committed bytes: only
//! those are read (appended bytes are never seen). Missing, shorter, or
//! otherwise different where it is read, the file is refused, named with
//! its table.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::sync::OnceCell;

use super::file_check::FrameCheck;
use crate::StorageError;
use crate::scan::read_only_store::{get_result, read_only_object_store};

const STORE: &str = "sealhouse-checked-frame";

/// Files up to this long are read whole by their first read: one request
/// instead of three (footer, column chunks, and the check's), and the
/// few kilobytes a single-row INSERT writes are no cost to read twice over.
const WHOLE_FILE_BYTES: u64 = 128 << 10;

/// The suffix read with the first four bytes when the reader gives no
/// footer size hint.
const DEFAULT_TAIL_BYTES: u64 = 64 << 10;

/// A Parquet file's frame check, attached to its `PartitionedFile`.
#[derive(Debug)]
pub(crate) struct CheckFrame(pub(crate) Arc<FrameCheck>);

/// One Parquet file, read through its frame check.
pub(crate) struct CheckedFrameStore {
    inner: Arc<dyn ObjectStore>,
    check: Arc<FrameCheck>,
    tail_bytes: u64,
    ends: OnceCell<Ends>,
}

/// The checked bytes of a file: its first four (or more), and a suffix.
struct Ends {
    head: Bytes,
    tail_start: u64,
    tail: Bytes,
}

impl fmt::Debug for CheckedFrameStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedFrameStore")
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl CheckedFrameStore {
    /// `inner`'s file checked by `check`; the reader's footer reads ask for
    /// the last `footer_hint` bytes (DataFusion's metadata size hint).
    pub(crate) fn new(
        inner: Arc<dyn ObjectStore>,
        check: Arc<FrameCheck>,
        footer_hint: Option<usize>,
    ) -> Self {
        Self {
            inner,
            check,
            tail_bytes: footer_hint.map_or(DEFAULT_TAIL_BYTES, |h| h as u64),
            ends: OnceCell::new(),
        }
    }

    fn damaged(&self, what: impl fmt::Display) -> object_store::Error {
        typed(StorageError::DamagedFile(format!(
            "{} is damaged: {what}; restore it from a backup",
            self.check.named
        )))
    }

    /// A failed read of the file's committed bytes, said as what it means:
    /// the file is missing, shorter than committed, damaged (the inner
    /// store's own check), or out of reach.
    async fn unreadable(&self, location: &Path, e: object_store::Error) -> object_store::Error {
        let what = match e {
            object_store::Error::NotFound { .. } => "is missing".to_owned(),
            object_store::Error::Generic { source, .. } if source.is::<StorageError>() => {
                return object_store::Error::Generic {
                    store: STORE,
                    source,
                };
            }
            e => match self.inner.head(location).await {
                Ok(meta) if meta.size < self.check.len => format!(
                    "is {} bytes, shorter than the {} committed",
                    meta.size, self.check.len
                ),
                // A block-checked file's store says what its length is.
                Err(object_store::Error::Generic { source, .. }) if source.is::<StorageError>() => {
                    return object_store::Error::Generic {
                        store: STORE,
                        source,
                    };
                }
                _ => format!("cannot be read ({e})"),
            },
        };
        typed(StorageError::DamagedFile(format!(
            "{} {what}, though the catalog lists it; restore it from a backup",
            self.check.named
        )))
    }

    /// The file's checked ends, fetched and checked by the first read.
    async fn ends(&self, location: &Path) -> object_store::Result<&Ends> {
        self.ends.get_or_try_init(|| self.fetch(location)).await
    }

    async fn fetch(&self, location: &Path) -> object_store::Result<Ends> {
        let len = self.check.len;
        if len < 12 {
            return Err(self.damaged(format!("{len} bytes is too short for a Parquet file")));
        }
        let tail_start = if len <= WHOLE_FILE_BYTES {
            0
        } else {
            len - self.tail_bytes.clamp(8, len)
        };
        // The first four bytes, unless the tail is the whole file.
        let mut ranges = Vec::with_capacity(2);
        if tail_start > 0 {
            ranges.push(0..4);
        }
        ranges.push(tail_start..len);
        let mut fetched = match self.inner.get_ranges(location, &ranges).await {
            Ok(fetched) => fetched,
            Err(e) => return Err(self.unreadable(location, e).await),
        };
        for (range, bytes) in ranges.iter().zip(&fetched) {
            if bytes.len() as u64 != range.end - range.start {
                return Err(self.damaged(format!(
                    "reading bytes {range:?} gave {} bytes (the file is shorter than committed)",
                    bytes.len()
                )));
            }
        }
        let tail = fetched
            .pop()
            .ok_or_else(|| self.damaged("the store returned no bytes"))?;
        let head = fetched.pop().unwrap_or_else(|| tail.clone());
        let region = self
            .check
            .check_ends(&head, &tail)
            .map_err(|e| self.damaged(e))?;
        let footer = if region.start >= tail_start {
            tail.slice((region.start - tail_start) as usize..)
        } else {
            match self.inner.get_range(location, region).await {
                Ok(footer) => footer,
                Err(e) => return Err(self.unreadable(location, e).await),
            }
        };
        self.check
            .check_footer(&footer)
            .map_err(|e| self.damaged(e))?;
        Ok(Ends {
            head,
            tail_start,
            tail,
        })
    }

    /// `range` from the checked ends, if they hold it.
    fn cached(&self, ends: &Ends, range: &Range<u64>) -> Option<Bytes> {
        if range.start >= ends.tail_start && range.end <= self.check.len {
            let from = (range.start - ends.tail_start) as usize;
            let to = (range.end - ends.tail_start) as usize;
            Some(ends.tail.slice(from..to))
        } else if range.end <= ends.head.len() as u64 {
            Some(ends.head.slice(range.start as usize..range.end as usize))
        } else {
            None
        }
    }

    /// The bytes of each range (within the committed length): from the
    /// checked ends where they hold it, the others in one request.
    async fn ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let ends = self.ends(location).await?;
        let len = self.check.len;
        if let Some(r) = ranges.iter().find(|r| r.end > len || r.start > r.end) {
            return Err(self.damaged(format!(
                "the reader asked for bytes {r:?} of a {len}-byte file"
            )));
        }
        let mut out: Vec<Option<Bytes>> = ranges.iter().map(|r| self.cached(ends, r)).collect();
        let missing: Vec<Range<u64>> = ranges
            .iter()
            .zip(&out)
            .filter(|(_, b)| b.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        if !missing.is_empty() {
            let mut fetched = match self.inner.get_ranges(location, &missing).await {
                Ok(fetched) => fetched.into_iter(),
                Err(e) => return Err(self.unreadable(location, e).await),
            };
            for slot in out.iter_mut().filter(|b| b.is_none()) {
                *slot = fetched.next();
            }
        }
        out.into_iter()
            .map(|b| b.ok_or_else(|| self.damaged("the store returned fewer ranges than asked")))
            .collect()
    }
}

fn typed(error: StorageError) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(error),
    }
}

read_only_object_store!(CheckedFrameStore, STORE, {
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let size = self.check.len;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: Default::default(),
            size,
            e_tag: None,
            version: None,
        };
        let range = match &options.range {
            None => 0..size,
            Some(r) => r.as_range(size).map_err(|e| self.damaged(e))?,
        };
        if options.head {
            self.ends(location).await?;
            return Ok(get_result(meta, None));
        }
        let mut bytes = self.ranges(location, std::slice::from_ref(&range)).await?;
        Ok(get_result(
            meta,
            Some((bytes.pop().unwrap_or_default(), range)),
        ))
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.ranges(location, ranges).await
    }
});

#[cfg(test)]
mod tests {
    use object_store::local::LocalFileSystem;

    use super::super::file_check::ParquetMagic;
    use super::*;

    /// A frame of `footer` zero bytes between the magics, with `body`
    /// bytes of data before the footer.
    fn frame(body: usize, footer: u32) -> Vec<u8> {
        let mut bytes = b"PARE".to_vec();
        bytes.extend((0..body).map(|i| i as u8));
        bytes.extend(vec![0u8; footer as usize]);
        bytes.extend(footer.to_le_bytes());
        bytes.extend(b"PARE");
        bytes
    }

    fn checked(dir: &tempfile::TempDir, bytes: &[u8], len: u64) -> (CheckedFrameStore, Path) {
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, bytes).expect("write");
        let location = Path::from(path.to_string_lossy().trim_start_matches('/'));
        let check = FrameCheck {
            magic: ParquetMagic::Encrypted,
            len,
            footer_sha256: None,
            named: "data file f of table p.t".into(),
        };
        let store = CheckedFrameStore::new(
            Arc::new(LocalFileSystem::new()),
            Arc::new(check),
            Some(16 << 10),
        );
        (store, location)
    }

    #[tokio::test]
    async fn small_and_large_files_read_the_same_bytes_as_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        for body in [10, 300 << 10] {
            let bytes = frame(body, 100);
            let (store, location) = checked(&dir, &bytes, bytes.len() as u64);
            let len = bytes.len() as u64;
            let ranges = [0..4, 4..20, len - 108..len, len / 2..len / 2 + 10, 0..len];
            let got = store.get_ranges(&location, &ranges).await.expect("ranges");
            for (r, b) in ranges.iter().zip(got) {
                assert_eq!(&b[..], &bytes[r.start as usize..r.end as usize], "{r:?}");
            }
            let tail = store
                .get_range(&location, len - 50..len)
                .await
                .expect("range");
            assert_eq!(&tail[..], &bytes[bytes.len() - 50..]);
        }
    }

    #[tokio::test]
    async fn a_missing_short_or_damaged_file_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = frame(1000, 100);
        let len = bytes.len() as u64;
        let (store, location) = checked(&dir, &bytes[..bytes.len() - 1], len);
        let e = store.get_range(&location, 0..4).await.expect_err("short");
        assert!(
            e.to_string().contains(&format!(
                "data file f of table p.t is {} bytes, shorter",
                len - 1
            )),
            "{e}"
        );
        let mut flipped = bytes.clone();
        flipped[0] ^= 1;
        let (store, location) = checked(&dir, &flipped, len);
        let e = store.get_range(&location, 10..20).await.expect_err("magic");
        assert!(e.to_string().contains("start and end with PARE"), "{e}");
        // Longer than committed: the committed bytes are read.
        let longer = [bytes.clone(), vec![0x41; 100]].concat();
        let (store, location) = checked(&dir, &longer, len);
        let got = store.get_range(&location, 0..len).await.expect("committed");
        assert_eq!(&got[..], &bytes[..]);
        let e = store
            .get_ranges(&location, std::slice::from_ref(&(0..len + 1)))
            .await
            .expect_err("past the committed length");
        assert!(e.to_string().contains("asked for bytes"), "{e}");
        std::fs::remove_file(dir.path().join("f.parquet")).expect("remove");
        let (store, location) = (
            CheckedFrameStore::new(
                Arc::new(LocalFileSystem::new()),
                Arc::clone(&store.check),
                None,
            ),
            location,
        );
        let e = store.get_range(&location, 0..4).await.expect_err("missing");
        assert!(e.to_string().contains("is missing"), "{e}");
    }
}
