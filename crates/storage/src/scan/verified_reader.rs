//! Reading plain data files with their block tags checked
//! (`crate::integrity::block_tags`): every byte DataFusion's
//! Parquet reader gets from a plain file was checked first, so a flipped
//! bit is an error rather than another value.
//!
//! The check rides on DataFusion's extension point for file access: each
//! plain file's `PartitionedFile` carries its [`BlockCheck`], and the
//! scan's reader factory (`reader_factory.rs`) reads such files through
//! [`VerifiedFileStore`], a one-file object store that fetches whole blocks
//! and checks them (from the local disk itself, `local_blocks.rs`).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::integrity::block_tags::BlockVerifier;
use crate::scan::held_blocks::HeldBlocks;
use crate::scan::local_blocks::{self, LocalReadError};
use crate::scan::read_only_store::{get_result, read_only_object_store};

const STORE: &str = "sealhouse-verified";

/// A plain file's block check, attached to its `PartitionedFile`.
#[derive(Debug)]
pub(crate) struct BlockCheck(pub(crate) Arc<BlockVerifier>);

/// One plain file, read in whole checked blocks: an object store any
/// DataFusion reader of the file can be given (scans get theirs from
/// the reader factory; [`Self::on_local_disk`] makes one for another reader,
/// such as the benchmark that times the check against the same scan
/// without it).
pub struct VerifiedFileStore {
    inner: Arc<dyn ObjectStore>,
    /// When `inner` is the local disk: the same files, whose blocks are
    /// read without it (`local_blocks.rs`).
    local: Option<Arc<LocalFileSystem>>,
    verifier: Arc<BlockVerifier>,
    /// The last checked block of each range the last local read returned
    /// (`held_blocks.rs`).
    held: HeldBlocks,
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
    /// `inner`'s file checked by `verifier`; `local` when `inner` is the
    /// local disk.
    pub(crate) fn new(
        inner: Arc<dyn ObjectStore>,
        local: Option<Arc<LocalFileSystem>>,
        verifier: Arc<BlockVerifier>,
    ) -> Self {
        Self {
            inner,
            local,
            verifier,
            held: HeldBlocks::default(),
        }
    }

    /// The plain file on the local disk that `verifier` checks (any
    /// path: the store serves whichever file it is asked for, and the
    /// verifier fails any other), read as a local scan reads it.
    pub fn on_local_disk(verifier: BlockVerifier) -> Self {
        let local = Arc::new(LocalFileSystem::new());
        Self::new(Arc::clone(&local) as _, Some(local), Arc::new(verifier))
    }

    /// The object's metadata, its length checked against the committed one.
    async fn checked_head(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        let meta = self.inner.head(location).await?;
        self.verifier
            .check_len(meta.size)
            .map_err(|e| damaged(location, e))?;
        Ok(meta)
    }

    /// The bytes of each range: the whole blocks the ranges touch, merged
    /// where they overlap or meet (a block two column chunks share is
    /// fetched and checked once, not once for each), fetched in one call to
    /// the inner store (one request for a row group's column chunks, as
    /// without the check) and checked before any byte is handed out. (No
    /// HEAD first: that would be a round trip per row group on object
    /// storage, and a file that changed length fails its blocks' tags or
    /// the range read anyway.)
    async fn checked_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let mut wanted = Vec::with_capacity(ranges.len());
        for range in ranges {
            let blocks = self
                .verifier
                .blocks_for(range)
                .map_err(|e| damaged(location, e))?;
            if !blocks.is_empty() {
                wanted.push(blocks);
            }
        }
        let wanted = merged(wanted);
        // Each merged range's bytes, and the offset in the file they start at.
        let fetched: Vec<(u64, Bytes)> = match &self.local {
            Some(local) => self.read_local(local, location, ranges, &wanted).await?,
            None => {
                let fetched = self.fetch_checked(location, &wanted).await?;
                wanted
                    .iter()
                    .map(|blocks| blocks.start)
                    .zip(fetched)
                    .collect()
            }
        };
        Ok(ranges
            .iter()
            .map(|range| {
                if range.is_empty() {
                    return Bytes::new();
                }
                // The merged blocks holding `range`: the first to end after
                // its start (they are sorted and apart).
                let i = wanted.partition_point(|blocks| blocks.end <= range.start);
                let (base, bytes) = &fetched[i];
                let from = (range.start - base) as usize;
                bytes.slice(from..from + (range.end - range.start) as usize)
            })
            .collect())
    }

    /// `wanted` (merged whole blocks) from the inner store, checked.
    async fn fetch_checked(
        &self,
        location: &Path,
        wanted: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let fetched = self.inner.get_ranges(location, wanted).await?;
        if fetched.len() != wanted.len() {
            return Err(damaged(
                location,
                "the store returned fewer ranges than asked",
            ));
        }
        for (blocks, bytes) in wanted.iter().zip(&fetched) {
            // A short answer (a store that cut the body) would pass the
            // tags of the blocks it has, and then be sliced past its end.
            if bytes.len() as u64 != blocks.end - blocks.start {
                return Err(damaged(
                    location,
                    format!(
                        "bytes {}..{} came back as {} bytes",
                        blocks.start,
                        blocks.end,
                        bytes.len()
                    ),
                ));
            }
            self.verifier
                .verify(blocks.start, bytes)
                .map_err(|e| damaged(location, e))?;
        }
        Ok(fetched)
    }

    /// `wanted` (merged whole blocks, holding `ranges`) read from the local
    /// disk and checked, on a blocking thread (as the local store reads):
    /// each merged range's bytes and the offset they start at. A merged
    /// range whose first block this store holds starts with the part of it
    /// `ranges` need, and only its blocks after that are read.
    async fn read_local(
        &self,
        local: &LocalFileSystem,
        location: &Path,
        ranges: &[Range<u64>],
        wanted: &[Range<u64>],
    ) -> object_store::Result<Vec<(u64, Bytes)>> {
        let path = local.path_to_filesystem(location)?;
        let mut planned = self.held.plan(ranges, wanted);
        let reads = std::mem::take(&mut planned.reads);
        let verifier = Arc::clone(&self.verifier);
        let read = tokio::task::spawn_blocking(move || {
            let read = local_blocks::read_checked(&path, &reads, &verifier);
            (path, read)
        })
        .await
        .map_err(|e| object_store::Error::Generic {
            store: STORE,
            source: Box::new(e),
        })?;
        let fetched = match read {
            (_, Ok(fetched)) => fetched,
            (_, Err(LocalReadError::Damaged(what))) => return Err(damaged(location, what)),
            (path, Err(LocalReadError::Io(e))) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(object_store::Error::NotFound {
                    path: path.to_string_lossy().into_owned(),
                    source: Box::new(e),
                });
            }
            (_, Err(LocalReadError::Io(e))) => {
                return Err(object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                });
            }
        };
        self.held.hold(wanted, &planned, &fetched);
        Ok(planned.bases.into_iter().zip(fetched).collect())
    }
}

/// `ranges` sorted, those that overlap or meet made one.
fn merged(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    ranges.dedup_by(|next, kept| {
        let joins = next.start <= kept.end;
        if joins {
            kept.end = kept.end.max(next.end);
        }
        joins
    });
    ranges
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Mutex;

    use object_store::memory::InMemory;

    use super::*;
    use crate::integrity::block_tags::{BLOCK_LEN, BlockTagKey, BlockTagWriter};

    #[test]
    fn ranges_that_overlap_or_meet_are_merged() {
        assert_eq!(merged(vec![8..12, 0..4, 4..6, 10..16]), vec![0..6, 8..16]);
        assert_eq!(merged(vec![0..4, 5..6]), vec![0..4, 5..6]);
        assert!(merged(Vec::new()).is_empty());
    }

    /// What the inner store was asked for, range by range.
    #[derive(Debug, Default)]
    struct Asked(Mutex<Vec<Range<u64>>>);

    /// An inner store that records the ranges asked of it, and returns
    /// each `cut` bytes short (a hostile or broken store).
    #[derive(Debug)]
    struct Recording {
        inner: InMemory,
        asked: Arc<Asked>,
        cut: usize,
    }

    read_only_object_store!(Recording, "recording", {
        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }

        async fn get_ranges(
            &self,
            location: &Path,
            ranges: &[Range<u64>],
        ) -> object_store::Result<Vec<Bytes>> {
            self.asked
                .0
                .lock()
                .expect("lock")
                .extend(ranges.iter().cloned());
            let got = self.inner.get_ranges(location, ranges).await?;
            Ok(got
                .into_iter()
                .map(|b| b.slice(..b.len().saturating_sub(self.cut)))
                .collect())
        }
    });

    fn key() -> BlockTagKey {
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"test").extract(&[7; 32]);
        BlockTagKey::derive(&prk, "f")
    }

    /// The checking store of a file whose tags were made over `tagged` and
    /// which holds `stored`; what its inner store was asked for.
    async fn store(tagged: &[u8], stored: &[u8]) -> (VerifiedFileStore, Arc<Asked>) {
        cut_store(tagged, stored, 0).await
    }

    /// As [`store`], its inner store answering each range `cut` bytes short.
    async fn cut_store(
        tagged: &[u8],
        stored: &[u8],
        cut: usize,
    ) -> (VerifiedFileStore, Arc<Asked>) {
        let writer = BlockTagWriter::new(Vec::new(), key());
        tagged_store(writer, tagged, stored, cut).await
    }

    /// As [`cut_store`], the tags made by `writer`.
    async fn tagged_store(
        mut writer: BlockTagWriter<Vec<u8>>,
        tagged: &[u8],
        stored: &[u8],
        cut: usize,
    ) -> (VerifiedFileStore, Arc<Asked>) {
        writer.write_all(tagged).expect("write");
        let (_, tags) = writer.finish().expect("finish");
        let verifier = BlockVerifier::new(key(), tags.into(), tagged.len() as u64).expect("fits");
        let inner = InMemory::new();
        inner
            .put(&Path::from("f"), Bytes::copy_from_slice(stored).into())
            .await
            .expect("put");
        let asked = Arc::new(Asked::default());
        let recording = Recording {
            inner,
            asked: Arc::clone(&asked),
            cut,
        };
        (
            VerifiedFileStore::new(Arc::new(recording), None, Arc::new(verifier)),
            asked,
        )
    }

    /// Two column chunks that share a block, and a third range in the last
    /// (short) block: each gets its own bytes, and the shared block is
    /// fetched (and checked) once.
    #[tokio::test]
    async fn a_block_two_ranges_share_is_fetched_once() {
        let block = BLOCK_LEN as usize;
        let data: Vec<u8> = (0..block * 7 / 2).map(|i| (i % 251) as u8).collect();
        let (store, asked) = store(&data, &data).await;
        let ranges = [
            10..(block + 100) as u64,
            (block + 100) as u64..(2 * block + 5) as u64,
            (3 * block + 1) as u64..(3 * block + 9) as u64,
            7..7,
        ];
        let got = store
            .get_ranges(&Path::from("f"), &ranges)
            .await
            .expect("read");
        for (range, bytes) in ranges.iter().zip(&got) {
            assert_eq!(
                bytes.as_ref(),
                &data[range.start as usize..range.end as usize]
            );
        }
        assert_eq!(
            *asked.0.lock().expect("lock"),
            vec![0..data.len() as u64],
            "every block once, in one range (the ranges' blocks meet)"
        );
    }

    /// A flipped byte in the shared block fails the read.
    #[tokio::test]
    async fn a_damaged_shared_block_fails_the_read() {
        let block = BLOCK_LEN as usize;
        let data: Vec<u8> = (0..block * 2).map(|i| (i % 251) as u8).collect();
        let mut damaged = data.clone();
        damaged[block - 1] ^= 1;
        let (store, _) = store(&data, &damaged).await;
        let e = store
            .get_ranges(
                &Path::from("f"),
                &[
                    10..(block - 10) as u64,
                    (block - 10) as u64..(block + 10) as u64,
                ],
            )
            .await
            .expect_err("damaged");
        assert!(e.to_string().contains("is damaged"), "{e}");
    }

    /// A store that answers a whole block short (the tags of what it
    /// returns would pass) gets an error, not a read past the answer.
    #[tokio::test]
    async fn a_short_answer_is_refused() {
        let block = BLOCK_LEN as usize;
        let data: Vec<u8> = (0..block * 3).map(|i| (i % 251) as u8).collect();
        let (store, _) = cut_store(&data, &data, block).await;
        let e = store
            .get_ranges(
                &Path::from("f"),
                std::slice::from_ref(&(10..(2 * block + 10) as u64)),
            )
            .await
            .expect_err("short");
        assert!(e.to_string().contains("came back as"), "{e}");
    }

    /// A file tagged before version 2 of the tag list (keyed BLAKE3) still
    /// reads, and a flipped byte in it still fails the read.
    #[tokio::test]
    async fn files_tagged_with_version_1_still_read_and_still_check() {
        let block = BLOCK_LEN as usize;
        let data: Vec<u8> = (0..block * 2 + 77).map(|i| (i % 241) as u8).collect();
        let old = || BlockTagWriter::version_1(Vec::new(), key());
        let (store, _) = tagged_store(old(), &data, &data, 0).await;
        let range = 5..(block + 9) as u64;
        let got = store
            .get_ranges(&Path::from("f"), std::slice::from_ref(&range))
            .await
            .expect("read");
        assert_eq!(got[0].as_ref(), &data[5..block + 9]);
        let mut damaged = data.clone();
        damaged[block + 3] ^= 4;
        let (store, _) = tagged_store(old(), &data, &damaged, 0).await;
        let e = store
            .get_ranges(&Path::from("f"), std::slice::from_ref(&range))
            .await
            .expect_err("damaged");
        assert!(e.to_string().contains("is damaged"), "{e}");
    }

    /// `data` in a local file with its tags: the file, the store a local
    /// scan reads it through, and its location.
    fn local_store(data: &[u8]) -> (tempfile::NamedTempFile, VerifiedFileStore, Path) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), data).expect("write");
        let mut writer = BlockTagWriter::new(Vec::new(), key());
        writer.write_all(data).expect("tag");
        let (_, tags) = writer.finish().expect("finish");
        let verifier = BlockVerifier::new(key(), tags.into(), data.len() as u64).expect("fits");
        let location = Path::from_absolute_path(file.path()).expect("path");
        (file, VerifiedFileStore::on_local_disk(verifier), location)
    }

    /// As a scan reads a file: its ends, then row groups in order, each
    /// starting in the block the previous one ended in. That block is held
    /// from the previous read, not read again: damage written into it
    /// afterwards changes nothing read (the bytes handed out are the ones
    /// checked), where a store that did not hold it fails.
    #[tokio::test]
    async fn a_block_row_groups_share_is_read_and_checked_once() {
        let block = BLOCK_LEN as usize;
        let data: Vec<u8> = (0..block * 15 / 2).map(|i| (i * 7 % 253) as u8).collect();
        let len = data.len() as u64;
        let (file, store, location) = local_store(&data);
        let (a, b) = ((block * 3 + 1000) as u64, (block * 5 + 17) as u64);
        let reads: [Vec<Range<u64>>; 4] = [
            vec![0..4, len - 100..len],
            vec![4..a / 2, a / 2..a],
            vec![a..a + 10, a + 10..b],
            std::iter::once(b..len - 100).collect(),
        ];
        for (i, ranges) in reads.iter().enumerate() {
            if i == 2 {
                // Damage the block the row groups share, on both sides of
                // where the next one starts.
                let mut damaged = data.clone();
                damaged[a as usize - 1] ^= 1;
                damaged[a as usize + 1] ^= 1;
                std::fs::write(file.path(), &damaged).expect("damage");
            }
            let got = store.get_ranges(&location, ranges).await.expect("read");
            for (range, bytes) in ranges.iter().zip(&got) {
                assert_eq!(
                    bytes.as_ref(),
                    &data[range.start as usize..range.end as usize],
                    "read {i}, {range:?}"
                );
            }
        }
        let fresh = local_store(&data).1;
        let e = fresh
            .get_ranges(&location, std::slice::from_ref(&(a..a + 10)))
            .await
            .expect_err("the damaged block read anew");
        assert!(e.to_string().contains("is damaged"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever ranges are read in whatever order, with blocks held
        /// between reads, each comes back as the file's bytes.
        #[test]
        fn reads_in_any_order_return_the_files_bytes(
            blocks in 1usize..6,
            extra in 0usize..1000,
            reads in proptest::collection::vec(
                proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 1..4),
                1..8,
            ),
        ) {
            let block = BLOCK_LEN as usize;
            let data: Vec<u8> = (0..block * blocks + extra).map(|i| (i * 31 % 251) as u8).collect();
            let len = data.len() as f64;
            let (_file, store, location) = local_store(&data);
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            for read in reads {
                let ranges: Vec<Range<u64>> = read
                    .iter()
                    .map(|&(a, b)| {
                        let (a, b) = ((a * len) as u64, (b * len) as u64);
                        a.min(b)..a.max(b)
                    })
                    .collect();
                let got = runtime
                    .block_on(store.get_ranges(&location, &ranges))
                    .expect("read");
                for (range, bytes) in ranges.iter().zip(&got) {
                    proptest::prop_assert_eq!(
                        bytes.as_ref(),
                        &data[range.start as usize..range.end as usize]
                    );
                }
            }
        }
    }
}
