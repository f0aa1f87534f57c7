//! Plain files on the local disk, read block by block and each block's tag
//! checked as soon as it is read.
//!
//! Through object_store's `LocalFileSystem` a range is read in one piece
//! into a buffer the store first fills with zeros, and the block tags are
//! then checked over the whole range: for a row group's column chunks (tens
//! of MiB) that is a pass of zeros, the kernel's copy, and a second pass
//! over memory that has long left the cache. Here each 256 KiB block is
//! read into the buffer's spare capacity (std's `read_to_end` writes into
//! it without zeroing) and hashed while it is still in the core's cache.
//! Measured in BENCHMARKS.md ("Plain files read block by block").

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

use crate::integrity::block_tags::{BLOCK_LEN, BlockTagError, BlockVerifier};

/// Why a local read gave no bytes.
#[derive(Debug)]
pub(crate) enum LocalReadError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The file ended inside a range: it is shorter than committed.
    Short {
        /// The range asked for.
        range: Range<u64>,
        /// How many of its bytes were there.
        got: u64,
    },
    /// A block failed its check.
    Damaged(BlockTagError),
}

/// The bytes of each of `ranges` (whole blocks, as
/// [`BlockVerifier::blocks_for`] gives them) of the file at `path`, every
/// block checked by `verifier` before any byte is handed out.
pub(crate) fn read_checked_blocks(
    path: &Path,
    ranges: &[Range<u64>],
    verifier: &BlockVerifier,
) -> Result<Vec<Bytes>, LocalReadError> {
    let mut file = File::open(path).map_err(LocalReadError::Io)?;
    ranges
        .iter()
        .map(|range| {
            let len = usize::try_from(range.end - range.start)
                .map_err(|_| LocalReadError::Io(io::Error::other("a range larger than memory")))?;
            let mut bytes = Vec::with_capacity(len);
            file.seek(SeekFrom::Start(range.start))
                .map_err(LocalReadError::Io)?;
            let mut at = range.start;
            while at < range.end {
                let block = BLOCK_LEN.min(range.end - at);
                let from = bytes.len();
                (&mut file)
                    .take(block)
                    .read_to_end(&mut bytes)
                    .map_err(LocalReadError::Io)?;
                if (bytes.len() - from) as u64 != block {
                    return Err(LocalReadError::Short {
                        range: range.clone(),
                        got: bytes.len() as u64,
                    });
                }
                verifier
                    .verify(at, &bytes[from..])
                    .map_err(LocalReadError::Damaged)?;
                at += block;
            }
            Ok(Bytes::from(bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::integrity::block_tags::{BlockTagKey, BlockTagWriter};

    fn key() -> BlockTagKey {
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"test").extract(&[9; 32]);
        BlockTagKey::derive(&prk, "local")
    }

    /// A file holding `stored` whose tags were made over `tagged`, and its
    /// verifier.
    fn file(
        tagged: &[u8],
        stored: &[u8],
    ) -> (tempfile::TempDir, std::path::PathBuf, BlockVerifier) {
        let mut writer = BlockTagWriter::new(Vec::new(), key());
        writer.write_all(tagged).expect("write");
        let (_, tags) = writer.finish().expect("finish");
        let verifier = BlockVerifier::new(key(), tags.into(), tagged.len() as u64).expect("fits");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, stored).expect("write file");
        (dir, path, verifier)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn ranges_of_whole_blocks_come_back_as_written() {
        let len = 3 * BLOCK_LEN as usize + 1000;
        let written = data(len);
        let (_dir, path, verifier) = file(&written, &written);
        let ranges = [
            0..BLOCK_LEN,
            BLOCK_LEN..3 * BLOCK_LEN + 1000,
            2 * BLOCK_LEN..3 * BLOCK_LEN + 1000,
        ];
        let got = read_checked_blocks(&path, &ranges, &verifier).expect("read");
        for (range, bytes) in ranges.iter().zip(&got) {
            assert_eq!(
                &bytes[..],
                &written[range.start as usize..range.end as usize]
            );
        }
    }

    #[test]
    fn a_flipped_byte_a_short_file_and_a_missing_file_are_errors() {
        let len = 2 * BLOCK_LEN as usize + 10;
        let written = data(len);
        let whole = [0..len as u64];
        // One byte of the second block flipped: that block is named.
        let mut flipped = written.clone();
        flipped[BLOCK_LEN as usize + 5] ^= 1;
        let (_dir, path, verifier) = file(&written, &flipped);
        match read_checked_blocks(&path, &whole, &verifier) {
            Err(LocalReadError::Damaged(BlockTagError::Mismatch { index: 1, .. })) => {}
            other => panic!("{other:?}"),
        }
        // Cut inside the last block.
        let (_dir, path, verifier) = file(&written, &written[..len - 3]);
        match read_checked_blocks(&path, &whole, &verifier) {
            Err(LocalReadError::Short { got, .. }) => assert_eq!(got, len as u64 - 3),
            other => panic!("{other:?}"),
        }
        // Gone.
        let (dir, path, verifier) = file(&written, &written);
        drop(dir);
        match read_checked_blocks(&path, &whole, &verifier) {
            Err(LocalReadError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
    }
}
