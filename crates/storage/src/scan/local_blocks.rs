//! A plain file's checked blocks read straight from the local disk.
//!
//! The local file system's object store reads each range into a buffer it
//! zero-fills first (a memset of every byte read: 8% of a scan of 1 KiB
//! values), and the block check then runs over the whole range, by when its
//! first blocks have left the cache. Here a range is read into memory that
//! is not zeroed first, a few blocks at a time, and each few are checked as
//! soon as they are read, while the CPU's cache still holds them. (Reading
//! a whole range by one `pread` first, then checking it, made the check's
//! GMAC 75% slower a byte on a 2 MB row group's range: measured in session
//! 30, BENCHMARKS.md.) The bytes are read once into memory of this process
//! and checked there, so what is handed out is what was checked (a file
//! changed afterwards cannot change them; mapping the file instead would
//! allow that).
//!
//! A read may start with checked bytes the caller already holds ([`Read`]):
//! consecutive row groups share the block at their edge, and the caller
//! keeps it from one row group's read for the next (`held_blocks.rs`).

use std::fs::File;
use std::io::{self, Read as _, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

use crate::integrity::block_tags::{BLOCK_LEN, BlockTagError, BlockVerifier};

/// Bytes read and checked at a time: a few blocks, well inside the CPU's
/// second-level cache, in a handful of reads.
const CHECK_BYTES: u64 = 4 * BLOCK_LEN;

/// Why a range could not be read checked.
#[derive(Debug)]
pub(crate) enum LocalReadError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// Bytes that fail their check, or fewer than the file was committed with.
    Damaged(String),
}

impl From<io::Error> for LocalReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<BlockTagError> for LocalReadError {
    fn from(e: BlockTagError) -> Self {
        Self::Damaged(e.to_string())
    }
}

/// One contiguous piece of a file to hand out: checked bytes already held,
/// then whole blocks to read and check.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    /// Checked bytes of the file that end where `blocks` start (possibly
    /// none).
    pub(crate) held: Bytes,
    /// Whole blocks (as [`BlockVerifier::blocks_for`] gives them), possibly
    /// none.
    pub(crate) blocks: Range<u64>,
}

/// The bytes of each of `reads` of the file at `path`, each block read
/// checked by `verifier` before it is returned: `held` followed by the
/// blocks, in one buffer.
pub(crate) fn read_checked(
    path: &Path,
    reads: &[Read],
    verifier: &BlockVerifier,
) -> Result<Vec<Bytes>, LocalReadError> {
    let mut file = File::open(path)?;
    reads
        .iter()
        .map(|read| {
            let Read { held, blocks } = read;
            if blocks.is_empty() {
                return Ok(held.clone());
            }
            let len = usize::try_from(blocks.end - blocks.start)
                .ok()
                .and_then(|len| len.checked_add(held.len()))
                .ok_or_else(|| LocalReadError::Damaged("a range too large to read".into()))?;
            let mut buf = Vec::with_capacity(len);
            buf.extend_from_slice(held);
            file.seek(SeekFrom::Start(blocks.start))?;
            let mut at = blocks.start;
            while at < blocks.end {
                let end = (at + CHECK_BYTES).min(blocks.end);
                // `read_to_end` reads into the vector's spare capacity
                // without zeroing it; `take` stops it at `end`.
                let got = (&mut file).take(end - at).read_to_end(&mut buf)?;
                if got as u64 != end - at {
                    return Err(LocalReadError::Damaged(format!(
                        "bytes {}..{} came back as {} bytes",
                        blocks.start,
                        blocks.end,
                        at - blocks.start + got as u64
                    )));
                }
                let from = held.len() + (at - blocks.start) as usize;
                verifier.verify(at, &buf[from..])?;
                at = end;
            }
            Ok(Bytes::from(buf))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::integrity::block_tags::{BlockTagKey, BlockTagWriter};

    fn key() -> BlockTagKey {
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"test").extract(&[9; 32]);
        BlockTagKey::derive(&prk, "local")
    }

    /// `data` written to a file with its tags; the file and its checker.
    fn tagged_file(data: &[u8]) -> (tempfile::NamedTempFile, BlockVerifier) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let mut writer = BlockTagWriter::new(file.reopen().expect("reopen"), key());
        writer.write_all(data).expect("write");
        let (_, tags) = writer.finish().expect("finish");
        let verifier = BlockVerifier::new(key(), tags.into(), data.len() as u64).expect("fits");
        (file, verifier)
    }

    /// Reads of whole blocks, nothing held.
    fn blocks(ranges: &[Range<u64>]) -> Vec<Read> {
        ranges
            .iter()
            .map(|blocks| Read {
                held: Bytes::new(),
                blocks: blocks.clone(),
            })
            .collect()
    }

    fn data() -> Vec<u8> {
        let block = BLOCK_LEN as usize;
        (0..block * 9 + 123).map(|i| (i * 13 % 239) as u8).collect()
    }

    #[test]
    fn ranges_of_whole_blocks_read_as_written() {
        let data = data();
        let (file, verifier) = tagged_file(&data);
        let len = data.len() as u64;
        let wanted = [
            0..BLOCK_LEN,
            2 * BLOCK_LEN..8 * BLOCK_LEN,
            8 * BLOCK_LEN..len,
        ];
        let got = read_checked(file.path(), &blocks(&wanted), &verifier).expect("read");
        for (range, bytes) in wanted.iter().zip(&got) {
            assert_eq!(
                bytes.as_ref(),
                &data[range.start as usize..range.end as usize]
            );
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_fails_the_read() {
        let data = data();
        let (file, verifier) = tagged_file(&data);
        let len = data.len() as u64;
        for at in [0, BLOCK_LEN * 5 - 1, len - 1] {
            let mut damaged = data.clone();
            damaged[at as usize] ^= 0x20;
            std::fs::write(file.path(), &damaged).expect("damage");
            let e = read_checked(
                file.path(),
                &blocks(std::slice::from_ref(&(0..len))),
                &verifier,
            )
            .expect_err("damaged");
            let LocalReadError::Damaged(what) = e else {
                panic!("not reported as damage: {e:?}");
            };
            assert!(
                what.contains(&format!("block {}", at / BLOCK_LEN)),
                "{what}"
            );
        }
    }

    /// Held bytes come first, as given (they were checked when read), and
    /// only the blocks after them are read and checked: a block held is
    /// not read again, whatever the file holds there now.
    #[test]
    fn held_bytes_start_the_read_and_are_not_read_again() {
        let data = data();
        let (file, verifier) = tagged_file(&data);
        let len = data.len() as u64;
        let mut damaged = data.clone();
        damaged[BLOCK_LEN as usize * 3 - 2] ^= 1;
        std::fs::write(file.path(), &damaged).expect("damage block 2");
        let from = BLOCK_LEN * 2 + 77;
        let held = Bytes::copy_from_slice(&data[from as usize..3 * BLOCK_LEN as usize]);
        let reads = [
            Read {
                held: held.clone(),
                blocks: 3 * BLOCK_LEN..len,
            },
            Read {
                held,
                blocks: 3 * BLOCK_LEN..3 * BLOCK_LEN,
            },
        ];
        let got = read_checked(file.path(), &reads, &verifier).expect("read");
        assert_eq!(got[0].as_ref(), &data[from as usize..]);
        assert_eq!(
            got[1].as_ref(),
            &data[from as usize..3 * BLOCK_LEN as usize]
        );
        // Read again rather than held, the damaged block fails.
        let e = read_checked(
            file.path(),
            &blocks(std::slice::from_ref(&(2 * BLOCK_LEN..len))),
            &verifier,
        )
        .expect_err("damaged");
        assert!(matches!(e, LocalReadError::Damaged(_)), "{e:?}");
    }

    #[test]
    fn a_truncated_or_missing_file_is_an_error() {
        let data = data();
        let (file, verifier) = tagged_file(&data);
        let len = data.len() as u64;
        std::fs::write(file.path(), &data[..data.len() - 200]).expect("truncate");
        let e = read_checked(
            file.path(),
            &blocks(std::slice::from_ref(&(8 * BLOCK_LEN..len))),
            &verifier,
        )
        .expect_err("short");
        assert!(
            matches!(&e, LocalReadError::Damaged(what) if what.contains("came back as")),
            "{e:?}"
        );
        let gone = file.path().with_extension("gone");
        let e = read_checked(
            &gone,
            &blocks(std::slice::from_ref(&(0..BLOCK_LEN))),
            &verifier,
        )
        .expect_err("missing");
        assert!(
            matches!(&e, LocalReadError::Io(io) if io.kind() == io::ErrorKind::NotFound),
            "{e:?}"
        );
    }
}
