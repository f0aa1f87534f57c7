//! Reading a segmented file: whole, or any plaintext byte range from the
//! ciphertext bytes of just the segments that hold it.
//!
//! A read over an object store goes:
//!
//! 1. fetch `0..min(MAX_HEADER_LEN, file_len)` (or 34 bytes, then
//!    [`SegmentedHeader::required_len`]) and [`SegmentedHeader::parse`] it;
//! 2. ask the KMS to decrypt [`SegmentedHeader::wrapped_key`];
//! 3. [`SegmentedReader::new`] with the data key and the file length (this
//!    checks the header MAC: a wrong key fails here, before any segment);
//! 4. for each plaintext range wanted: fetch
//!    [`SegmentedReader::ciphertext_range_for`] and pass those bytes to
//!    [`SegmentedReader::read_range`].
//!
//! Every segment a read touches is authenticated before any of its plaintext
//! is returned; nothing unauthenticated is ever handed out.

use std::ops::Range;

use sealhouse_crypto::SecretBytes;

use super::SegmentedError;
use super::format::SegmentedHeader;
use super::keys::SegmentKeys;
use super::layout::Layout;

/// A segmented file opened for reading: its authenticated header, keys and
/// layout. It holds no file bytes; the caller fetches what
/// [`Self::ciphertext_range_for`] names, so one reader serves many range
/// reads, from any number of threads (`&self` only).
#[derive(Debug)]
pub struct SegmentedReader {
    header: SegmentedHeader,
    keys: SegmentKeys,
    layout: Layout,
}

impl SegmentedReader {
    /// Opens the file whose `header` was parsed, under `data_key` (the KMS's
    /// decryption of the header's wrapped key), with `file_len` the file's
    /// total length in bytes.
    ///
    /// Fails with [`SegmentedError::HeaderAuthentication`] for a wrong data
    /// key or a modified header, and with
    /// [`SegmentedError::InvalidFileLength`] for a length no writer makes.
    pub fn new(
        header: SegmentedHeader,
        data_key: &SecretBytes,
        file_len: u64,
    ) -> Result<Self, SegmentedError> {
        let keys = SegmentKeys::derive(
            header.version(),
            header.cipher(),
            data_key,
            header.file_nonce(),
        )?;
        header.verify(&keys)?;
        let layout = Layout::new(
            header.header_len(),
            header.segment_size(),
            header.tag_len(),
            file_len,
        )?;
        Ok(Self {
            header,
            keys,
            layout,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &SegmentedHeader {
        &self.header
    }

    /// The plaintext's length, from the file length.
    pub fn plaintext_len(&self) -> u64 {
        self.layout.plaintext_len()
    }

    /// How many segments the file has (at least one).
    pub fn segment_count(&self) -> u64 {
        self.layout.segment_count()
    }

    /// The file bytes to fetch to read `plaintext`: whole segments with their
    /// tags. Empty for an empty range.
    pub fn ciphertext_range_for(
        &self,
        plaintext: Range<u64>,
    ) -> Result<Range<u64>, SegmentedError> {
        self.layout.check_range(&plaintext)?;
        if plaintext.is_empty() {
            return Ok(0..0);
        }
        Ok(self
            .layout
            .file_range(&self.layout.segments_for(&plaintext)))
    }

    /// Exactly the plaintext bytes of `plaintext`, from `fetched`, the file
    /// bytes [`Self::ciphertext_range_for`] named for the same range. Every
    /// segment in `fetched` is authenticated first.
    pub fn read_range(
        &self,
        plaintext: Range<u64>,
        fetched: &[u8],
    ) -> Result<Vec<u8>, SegmentedError> {
        let needed = self.ciphertext_range_for(plaintext.clone())?;
        let expected = needed.end - needed.start;
        if fetched.len() as u64 != expected {
            return Err(SegmentedError::FetchedLenMismatch {
                expected,
                got: fetched.len() as u64,
            });
        }
        if plaintext.is_empty() {
            return Ok(Vec::new());
        }
        let first = *self.layout.segments_for(&plaintext).start();
        let mut out = self.decrypt_segments(first, fetched)?;
        // Both bounds lie within the decrypted segments, which start at
        // plaintext_offset(first) and cover the whole range.
        let skip = usize::try_from(plaintext.start - self.layout.plaintext_offset(first))
            .expect("an offset within one segment fits in usize");
        let len = usize::try_from(plaintext.end - plaintext.start)
            .expect("decrypted, so it fits in memory");
        out.drain(..skip);
        out.truncate(len);
        Ok(out)
    }

    /// The plaintext of consecutive whole segments starting at segment
    /// `first_index`: `bytes` is their ciphertext and tags as stored, and must
    /// end at a segment's end. Each is authenticated before it is decrypted;
    /// the first that fails is named in the error and nothing is returned.
    pub fn decrypt_segments(
        &self,
        first_index: u64,
        bytes: &[u8],
    ) -> Result<Vec<u8>, SegmentedError> {
        let count = self.layout.segment_count();
        if first_index >= count {
            return Err(SegmentedError::NoSuchSegment {
                index: first_index,
                count,
            });
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        let mut index = first_index;
        let tag_len = self.header.tag_len();
        while !rest.is_empty() {
            if index >= count {
                return Err(SegmentedError::NoSuchSegment { index, count });
            }
            let ciphertext_len = usize::try_from(self.layout.segment_len(index))
                .expect("a segment of at most 16 MiB fits in usize");
            let stored = ciphertext_len + tag_len;
            if rest.len() < stored {
                return Err(SegmentedError::FetchedLenMismatch {
                    expected: (bytes.len() - rest.len() + stored) as u64,
                    got: bytes.len() as u64,
                });
            }
            let (segment, next) = rest.split_at(stored);
            let (ciphertext, tag) = segment.split_at(ciphertext_len);
            self.keys.open_segment(
                self.header.mac(),
                index,
                self.layout.is_final(index),
                ciphertext,
                tag,
                &mut out,
            )?;
            rest = next;
            index += 1;
        }
        Ok(out)
    }
}

/// The whole plaintext of a segmented file held in memory, under
/// `data_key`. For files too large for memory, use [`SegmentedReader`] with
/// range reads.
pub fn decrypt_all(file: &[u8], data_key: &SecretBytes) -> Result<Vec<u8>, SegmentedError> {
    let header = SegmentedHeader::parse(file)?;
    let body = header.header_len();
    let reader = SegmentedReader::new(header, data_key, file.len() as u64)?;
    reader.decrypt_segments(0, &file[body..])
}
