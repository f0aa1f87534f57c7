//! Block tags: the integrity check of plain (unencrypted) data files.
//!
//! The parquet crate writes no page checksums, and a plain Parquet file
//! authenticates nothing, so a flipped bit in a page would be read as other
//! values. Instead, every [`BLOCK_LEN`] bytes of a plain file get a 16-byte
//! tag when it is written, kept in the catalog (whose MAC covers them):
//!
//! ```text
//! K_file = HKDF-SHA256(PRK_tags, info = "block tags" || file id)          (32 bytes)
//! version 2, every file written now:
//!   K_gmac = HKDF-SHA256-Expand(PRK = K_file, info = "block tags gmac")   (32 bytes)
//!   tag_i  = AES-256-GCM(K_gmac, nonce = 0 (u32) || i (u64 BE), plaintext = empty,
//!                        associated data = block_i).tag                   (GMAC)
//!   list   = 0x02 || tag_0 || tag_1 || ...
//! version 1, files written before:
//!   tag_i  = BLAKE3-keyed(K_file, i (u64 BE) || block_i)[0..16]
//!   list   = tag_0 || tag_1 || ...            (no version byte: a multiple of 16 bytes)
//! ```
//!
//! Both are MACs: unlike a CRC they cannot be forged without the key, so
//! whoever can write the file cannot make an edit pass. GMAC needs each
//! (key, nonce) pair to tag one message only: its key is the file's (a file
//! id is a fresh random UUID and a file is written once) and its nonce the
//! block's index. GMAC replaced BLAKE3 because aws-lc hashes associated data
//! with its wide VPCLMULQDQ code: 31 GB/s on one core against 5.6 GB/s for
//! keyed BLAKE3 (BENCHMARKS.md, "Block tags by GMAC"), which was a fifth of
//! a scan of 1 KiB values. The version byte is inside what the catalog MAC
//! covers, so a list cannot be passed off as the other version.
//!
//! A read fetches the whole blocks its range touches and checks each before
//! returning any byte. The file stays standard Parquet: the tags live beside
//! it, not in it.

use std::fmt;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use aws_lc_rs::aead;
use ring::hkdf;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes per tagged block: 256 KiB keeps the tag list at 64 KiB per GiB of
/// data and a range read's extra bytes (to the block edges) small next to
/// the column chunks Parquet reads.
pub const BLOCK_LEN: u64 = 256 * 1024;
/// Length of one tag.
pub const TAG_LEN: usize = 16;
/// The first byte of a version-2 (GMAC) tag list.
const GMAC_LIST: u8 = 0x02;

/// Why a plain file's bytes failed their check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockTagError {
    /// A block's bytes differ from those written.
    #[error("bytes {start}..{end} differ from those written (block {index} fails its tag)")]
    Mismatch {
        /// The block.
        index: u64,
        /// Its first byte.
        start: u64,
        /// One past its last byte.
        end: u64,
    },
    /// The file's length is not the one the tags were made for.
    #[error("the file has {actual} bytes, but {expected} were written")]
    Length {
        /// The committed length.
        expected: u64,
        /// What is there now.
        actual: u64,
    },
    /// The tag list does not fit the committed length.
    #[error("its tag list has {tags} tags, but a file of {len} bytes needs {needed}")]
    TagCount {
        /// Tags recorded.
        tags: usize,
        /// Tags needed.
        needed: u64,
        /// The committed length.
        len: u64,
    },
    /// The tag list starts with a version this build does not know.
    #[error(
        "its tag list is of unknown version {version} (written by a newer Sealhouse? \
         read it with that version)"
    )]
    UnknownVersion {
        /// The list's first byte.
        version: u8,
    },
    /// A range outside the file.
    #[error("bytes {start}..{end} lie outside the file's {len} bytes")]
    OutOfRange {
        /// First byte asked for.
        start: u64,
        /// One past the last.
        end: u64,
        /// The file's length.
        len: u64,
    },
}

/// One file's tag key. No `Clone`, no printing; zeroed on drop.
pub struct BlockTagKey(Zeroizing<[u8; 32]>);

impl BlockTagKey {
    pub(crate) fn derive(prk: &hkdf::Prk, file_id: &str) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        expand(
            prk,
            &[b"block tags".as_slice(), file_id.as_bytes()],
            &mut key,
        );
        Self(key)
    }

    /// The key from its bytes (as a plan's sealed tag keys carry it).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Zeroizing::new(*bytes))
    }

    /// Its bytes, to seal for another process.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The MAC of a version-2 list: GMAC under the key expanded from this one.
    fn gmac(&self) -> Mac {
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &self.0[..]);
        let mut key = Zeroizing::new([0u8; 32]);
        expand(&prk, &[b"block tags gmac".as_slice()], &mut key);
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &key[..])
            // Invariant: AES-256-GCM takes any 32-byte key.
            .expect("a 32-byte AES-256-GCM key");
        Mac::Gmac(aead::LessSafeKey::new(key))
    }

    /// The MAC of a version-1 list: keyed BLAKE3 under this key.
    fn blake3(self) -> Mac {
        Mac::Blake3(self.0)
    }
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8; 32]) {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    prk.expand(info, Len32)
        .and_then(|okm| okm.fill(&mut out[..]))
        // Invariant: 32 bytes of HKDF-SHA256, far below its limit.
        .expect("HKDF-SHA256 expansion of 32 bytes");
}

impl fmt::Debug for BlockTagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockTagKey(redacted)")
    }
}

/// A tag list's MAC, keyed.
enum Mac {
    Blake3(Zeroizing<[u8; 32]>),
    Gmac(aead::LessSafeKey),
}

impl Mac {
    /// Block `index`'s tag, `None` if the MAC refused to compute one.
    fn tag(&self, index: u64, block: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut out = [0u8; TAG_LEN];
        match self {
            Self::Blake3(key) => {
                let mut hasher = blake3::Hasher::new_keyed(key);
                hasher.update(&index.to_be_bytes());
                hasher.update(block);
                out.copy_from_slice(&hasher.finalize().as_bytes()[..TAG_LEN]);
            }
            Self::Gmac(key) => {
                let mut nonce = [0u8; aead::NONCE_LEN];
                nonce[4..].copy_from_slice(&index.to_be_bytes());
                let tag = key
                    .seal_in_place_separate_tag(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(block),
                        &mut [],
                    )
                    .ok()?;
                out.copy_from_slice(tag.as_ref());
            }
        }
        Some(out)
    }
}

/// Writes a plain file through to `inner`, tagging each block on the way
/// (version 2, GMAC).
pub struct BlockTagWriter<W: Write> {
    inner: W,
    mac: Mac,
    block: Vec<u8>,
    tags: Vec<u8>,
    index: u64,
}

impl<W: Write> BlockTagWriter<W> {
    /// A writer of the file whose tag key is `key`
    /// ([`crate::Catalog::block_tag_key`]).
    pub fn new(inner: W, key: BlockTagKey) -> Self {
        Self::with_mac(inner, key.gmac(), vec![GMAC_LIST])
    }

    /// A writer of a version-1 (keyed BLAKE3) list, as files were written
    /// before version 2: only to test (and fuzz) that they still read.
    pub(crate) fn version_1(inner: W, key: BlockTagKey) -> Self {
        Self::with_mac(inner, key.blake3(), Vec::new())
    }

    fn with_mac(inner: W, mac: Mac, tags: Vec<u8>) -> Self {
        Self {
            inner,
            mac,
            block: Vec::with_capacity(BLOCK_LEN as usize),
            tags,
            index: 0,
        }
    }

    fn emit_block(&mut self) -> io::Result<()> {
        let tag = self
            .mac
            .tag(self.index, &self.block)
            .ok_or_else(|| io::Error::other("a block's tag could not be computed"))?;
        self.inner.write_all(&self.block)?;
        self.tags.extend_from_slice(&tag);
        self.index += 1;
        self.block.clear();
        Ok(())
    }

    /// Writes the last (partial) block, flushes `inner` and returns it with
    /// the tag list to record with the file (its version byte first).
    pub fn finish(mut self) -> io::Result<(W, Vec<u8>)> {
        if !self.block.is_empty() {
            self.emit_block()?;
        }
        self.inner.flush()?;
        Ok((self.inner, self.tags))
    }
}

impl<W: Write> Write for BlockTagWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK_LEN as usize - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK_LEN as usize {
            self.emit_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // A partial block cannot be tagged yet; what is complete is written.
        self.inner.flush()
    }
}

/// Checks ranges of one committed plain file against its tags.
pub struct BlockVerifier {
    mac: Mac,
    /// The tag list as recorded, version byte included.
    list: Arc<[u8]>,
    /// Where its tags start (after the version byte, if any).
    first_tag: usize,
    len: u64,
}

impl fmt::Debug for BlockVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockVerifier")
            .field("len", &self.len)
            .field("blocks", &((self.list.len() - self.first_tag) / TAG_LEN))
            .finish_non_exhaustive()
    }
}

impl BlockVerifier {
    /// The checker of a file of `len` bytes whose tag list is `list`
    /// (either version) and whose tag key is `key`.
    pub(crate) fn new(key: BlockTagKey, list: Arc<[u8]>, len: u64) -> Result<Self, BlockTagError> {
        // Version 1 lists have no version byte: a multiple of 16 bytes
        // (the empty list included); a version byte makes any other length.
        let (mac, first_tag) = if list.len().is_multiple_of(TAG_LEN) {
            (key.blake3(), 0)
        } else if list[0] == GMAC_LIST {
            (key.gmac(), 1)
        } else {
            return Err(BlockTagError::UnknownVersion { version: list[0] });
        };
        let tags = list.len() - first_tag;
        let needed = len.div_ceil(BLOCK_LEN);
        if !tags.is_multiple_of(TAG_LEN) || (tags / TAG_LEN) as u64 != needed {
            return Err(BlockTagError::TagCount {
                tags: tags / TAG_LEN,
                needed,
                len,
            });
        }
        Ok(Self {
            mac,
            list,
            first_tag,
            len,
        })
    }

    /// The committed length of the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fails unless `actual`, the file's length now, is the committed one.
    pub fn check_len(&self, actual: u64) -> Result<(), BlockTagError> {
        if actual == self.len {
            Ok(())
        } else {
            Err(BlockTagError::Length {
                expected: self.len,
                actual,
            })
        }
    }

    /// The bytes to fetch to check `range`: the whole blocks it touches.
    pub fn blocks_for(&self, range: &Range<u64>) -> Result<Range<u64>, BlockTagError> {
        if range.start > range.end || range.end > self.len {
            return Err(BlockTagError::OutOfRange {
                start: range.start,
                end: range.end,
                len: self.len,
            });
        }
        if range.is_empty() {
            return Ok(range.start..range.start);
        }
        let start = range.start / BLOCK_LEN * BLOCK_LEN;
        let end = (range.end.div_ceil(BLOCK_LEN) * BLOCK_LEN).min(self.len);
        Ok(start..end)
    }

    /// Checks `fetched`, the bytes [`Self::blocks_for`] named starting at
    /// `start` (a block boundary), block by block.
    pub fn verify(&self, start: u64, fetched: &[u8]) -> Result<(), BlockTagError> {
        let end = start + fetched.len() as u64;
        if !start.is_multiple_of(BLOCK_LEN)
            || end > self.len
            || (!end.is_multiple_of(BLOCK_LEN) && end != self.len)
        {
            return Err(BlockTagError::OutOfRange {
                start,
                end,
                len: self.len,
            });
        }
        for (i, block) in fetched.chunks(BLOCK_LEN as usize).enumerate() {
            let index = start / BLOCK_LEN + i as u64;
            let at = self.first_tag + index as usize * TAG_LEN;
            let expected = &self.list[at..at + TAG_LEN];
            let good = self
                .mac
                .tag(index, block)
                .is_some_and(|tag| bool::from(tag.as_slice().ct_eq(expected)));
            if !good {
                let block_start = index * BLOCK_LEN;
                return Err(BlockTagError::Mismatch {
                    index,
                    start: block_start,
                    end: block_start + block.len() as u64,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prk() -> hkdf::Prk {
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"test").extract(&[7; 32])
    }

    fn key(file_id: &str) -> BlockTagKey {
        BlockTagKey::derive(&prk(), file_id)
    }

    /// The tag list of `data` written as file `file_id`: version 2 as
    /// files are written now, or version 1 as they were before.
    fn written_as(data: &[u8], file_id: &str, version_1: bool) -> Vec<u8> {
        let mut w = if version_1 {
            BlockTagWriter::version_1(Vec::new(), key(file_id))
        } else {
            BlockTagWriter::new(Vec::new(), key(file_id))
        };
        // Odd-sized writes cross block boundaries.
        for chunk in data.chunks(100_003) {
            w.write_all(chunk).expect("write");
        }
        let (out, tags) = w.finish().expect("finish");
        assert_eq!(out, data);
        tags
    }

    fn written(data: &[u8], file_id: &str) -> Vec<u8> {
        written_as(data, file_id, false)
    }

    fn verifier(tags: Vec<u8>, len: u64, file_id: &str) -> BlockVerifier {
        BlockVerifier::new(key(file_id), tags.into(), len).expect("fits")
    }

    #[test]
    fn every_block_checks_and_any_flip_fails_in_both_versions() {
        let data: Vec<u8> = (0..(BLOCK_LEN * 2 + 1000))
            .map(|i| (i % 251) as u8)
            .collect();
        for version_1 in [false, true] {
            let tags = written_as(&data, "f1", version_1);
            let header = usize::from(!version_1);
            assert_eq!(tags.len(), header + 3 * TAG_LEN);
            assert_eq!(tags.first() == Some(&GMAC_LIST), !version_1);
            let v = verifier(tags, data.len() as u64, "f1");
            let all = v.blocks_for(&(0..data.len() as u64)).expect("range");
            assert_eq!(all, 0..data.len() as u64);
            v.verify(0, &data).expect("untouched");
            for at in [0, 1, BLOCK_LEN as usize, data.len() - 1] {
                let mut bad = data.clone();
                bad[at] ^= 0x10;
                let err = v.verify(0, &bad).expect_err("flipped");
                assert!(
                    matches!(err, BlockTagError::Mismatch { index, .. } if index == at as u64 / BLOCK_LEN)
                );
            }
        }
    }

    #[test]
    fn the_versions_differ_and_neither_passes_for_the_other() {
        let data = vec![3u8; 1000];
        let v2 = written(&data, "a");
        let v1 = written_as(&data, "a", true);
        assert_ne!(&v2[1..], &v1[..]);
        // A version-2 list without its version byte is read as version 1
        // (keyed BLAKE3), and its GMAC tags fail; the catalog's MAC, which
        // covers the byte, refuses such an edit before this.
        assert!(
            verifier(v2[1..].to_vec(), 1000, "a")
                .verify(0, &data)
                .is_err()
        );
        let mut upgraded = vec![GMAC_LIST];
        upgraded.extend_from_slice(&v1);
        assert!(verifier(upgraded, 1000, "a").verify(0, &data).is_err());
        let mut unknown = v2.clone();
        unknown[0] = 0x03;
        assert!(matches!(
            BlockVerifier::new(key("a"), unknown.into(), 1000),
            Err(BlockTagError::UnknownVersion { version: 3 })
        ));
    }

    #[test]
    fn ranges_expand_to_blocks() {
        let data: Vec<u8> = (0..BLOCK_LEN * 3 - 10).map(|i| (i % 253) as u8).collect();
        let v = verifier(written(&data, "f"), data.len() as u64, "f");
        let r = v
            .blocks_for(&(BLOCK_LEN + 5..BLOCK_LEN + 6))
            .expect("range");
        assert_eq!(r, BLOCK_LEN..2 * BLOCK_LEN);
        v.verify(r.start, &data[r.start as usize..r.end as usize])
            .expect("block 1");
        let tail = v
            .blocks_for(&(data.len() as u64 - 1..data.len() as u64))
            .expect("tail");
        assert_eq!(tail.end, data.len() as u64);
        v.verify(tail.start, &data[tail.start as usize..])
            .expect("last block");
        assert!(v.blocks_for(&(0..data.len() as u64 + 1)).is_err());
        // A block checked as if it were another fails (the index is bound).
        assert!(
            v.verify(0, &data[BLOCK_LEN as usize..2 * BLOCK_LEN as usize])
                .is_err()
        );
    }

    #[test]
    fn tags_are_bound_to_the_file() {
        let data = vec![1u8; 1000];
        for version_1 in [false, true] {
            let tags = written_as(&data, "a", version_1);
            verifier(tags.clone(), 1000, "a")
                .verify(0, &data)
                .expect("own");
            assert!(verifier(tags, 1000, "b").verify(0, &data).is_err());
        }
    }

    #[test]
    fn tag_count_must_fit_the_length() {
        for version_1 in [false, true] {
            let tags = written_as(&[1u8; 10], "a", version_1);
            assert!(BlockVerifier::new(key("a"), tags.clone().into(), BLOCK_LEN + 1).is_err());
            // A list one byte short is refused, or (a version-2 list cut to
            // 16 bytes reads as version 1) fails its check.
            let cut = BlockVerifier::new(key("a"), tags[..tags.len() - 1].to_vec().into(), 10);
            assert!(!matches!(cut.map(|v| v.verify(0, &[1u8; 10])), Ok(Ok(()))));
            let v = BlockVerifier::new(key("a"), tags.into(), 10).expect("fits");
            assert!(v.check_len(11).is_err());
            v.check_len(10).expect("same");
            assert!(!format!("{v:?}").contains("key"));
        }
        // An empty file: no tags, and version 2's list is its version byte.
        BlockVerifier::new(key("e"), written(&[], "e").into(), 0).expect("empty v2");
        BlockVerifier::new(key("e"), written_as(&[], "e", true).into(), 0).expect("empty v1");
    }
}
