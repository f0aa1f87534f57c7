//! Writing a segmented file as a stream, in memory bounded by one segment.

use std::fmt;
use std::io::{self, Write};

use sealhouse_crypto::SecretBytes;

use super::SegmentedError;
use super::cipher::SegmentCipher;
use super::format::{FORMAT_VERSION, FileIdentity, SegmentedHeader};
use super::keys::{NONCE_LEN, SegmentKeys};

/// Encrypts whatever is written to it into a segmented file written to
/// `inner`.
///
/// It buffers one segment of plaintext (the segment size, 64 KiB by default)
/// and writes each segment, encrypted and tagged, once it knows whether more
/// follows: a segment is "final" only if [`Self::finish`] comes after it.
/// The header is written with the first segment.
///
/// **Call [`Self::finish`].** A writer dropped without it leaves a file
/// without its final segment, which every read rejects as truncated (which
/// is the point: a crash mid-write cannot pass for a complete file).
/// `flush` flushes `inner` but cannot write a partial segment.
///
/// After any error from `inner` the writer refuses further writes: what
/// reached `inner` is incomplete and must be discarded.
pub struct SegmentedWriter<W: Write> {
    inner: W,
    keys: SegmentKeys,
    header: SegmentedHeader,
    header_written: bool,
    /// Plaintext of the segment being filled; encrypted in place when it is
    /// written.
    buffer: Vec<u8>,
    segment_size: usize,
    next_index: u64,
    failed: bool,
}

impl<W: Write> SegmentedWriter<W> {
    /// A writer of a new file into `inner`, encrypted with `cipher` under
    /// `data_key` (the plaintext data key of a KMS GenerateDataKey call,
    /// 32 bytes), storing `wrapped_key` (that call's ciphertext blob, 1 to
    /// 4096 bytes) in the header, with `segment_size` plaintext bytes per
    /// segment (1 to 16 MiB; [`super::DEFAULT_SEGMENT_SIZE`] unless there is
    /// a reason), for the place `identity` (the table and file id it is
    /// committed as, which the header carries under its MAC).
    ///
    /// Each file gets a fresh random nonce, so its keys are its own even if a
    /// data key were used twice. Nothing is written to `inner` yet.
    pub fn new(
        inner: W,
        cipher: SegmentCipher,
        data_key: &SecretBytes,
        wrapped_key: &[u8],
        segment_size: u32,
        identity: FileIdentity,
    ) -> Result<Self, SegmentedError> {
        Self::of_version(
            FORMAT_VERSION,
            inner,
            cipher,
            data_key,
            wrapped_key,
            segment_size,
            identity,
        )
    }

    /// As [`Self::new`], writing format `version` (2 or 3): version 2 for
    /// readers older than version 3 (their AESCTR segments are HMAC'd, and
    /// slower to read), and for the benchmark that compares the two.
    pub fn of_version(
        version: u8,
        inner: W,
        cipher: SegmentCipher,
        data_key: &SecretBytes,
        wrapped_key: &[u8],
        segment_size: u32,
        identity: FileIdentity,
    ) -> Result<Self, SegmentedError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SegmentedError::RandomUnavailable)?;
        Self::with_nonce(
            inner,
            cipher,
            data_key,
            wrapped_key,
            segment_size,
            identity,
            Start { version, nonce },
        )
    }

    /// As [`Self::of_version`] with a given nonce, for known-answer tests
    /// only: a nonce used twice under one data key gives two files the same
    /// keys and keystreams.
    pub(crate) fn with_nonce(
        inner: W,
        cipher: SegmentCipher,
        data_key: &SecretBytes,
        wrapped_key: &[u8],
        segment_size: u32,
        identity: FileIdentity,
        Start { version, nonce }: Start,
    ) -> Result<Self, SegmentedError> {
        let keys = SegmentKeys::derive(version, cipher, data_key, &nonce)?;
        let header = SegmentedHeader::seal(
            version,
            cipher,
            segment_size,
            nonce,
            identity,
            wrapped_key,
            &keys,
        )?;
        let segment_size = segment_size as usize;
        Ok(Self {
            inner,
            keys,
            header,
            header_written: false,
            buffer: Vec::with_capacity(segment_size),
            segment_size,
            next_index: 0,
            failed: false,
        })
    }

    /// Writes the last segment (possibly empty, for an empty file; never an
    /// empty one after full ones), flushes `inner` and returns it.
    pub fn finish(mut self) -> io::Result<W> {
        self.check_usable()?;
        // A full buffer is written only once more data follows it, so the
        // buffer is empty here only if nothing was ever written.
        debug_assert!(!self.buffer.is_empty() || self.next_index == 0);
        self.write_segment(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Encrypts the buffered segment in place and writes it with its tag
    /// (and the header before the first one).
    fn write_segment(&mut self, is_final: bool) -> io::Result<()> {
        let index = self.next_index;
        let tag = self
            .keys
            .seal_segment(self.header.mac(), index, is_final, &mut self.buffer);
        self.failed = true;
        if !self.header_written {
            self.inner.write_all(&self.header.to_bytes())?;
            self.header_written = true;
        }
        self.inner.write_all(&self.buffer)?;
        self.inner.write_all(tag.as_ref())?;
        self.failed = false;
        self.buffer.clear();
        self.next_index += 1;
        Ok(())
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            Err(io::Error::other(
                "an earlier write of this segmented file failed; the file is incomplete and must be discarded",
            ))
        } else {
            Ok(())
        }
    }
}

/// How a new file starts: its format version and its nonce.
pub(crate) struct Start {
    pub(crate) version: u8,
    pub(crate) nonce: [u8; NONCE_LEN],
}

impl<W: Write> Write for SegmentedWriter<W> {
    /// Takes all of `data` (returns its length) unless `inner` fails.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_usable()?;
        let mut rest = data;
        while !rest.is_empty() {
            // A full buffer is written only now that more data follows it,
            // so it is not the final segment.
            if self.buffer.len() == self.segment_size {
                self.write_segment(false)?;
            }
            let take = rest.len().min(self.segment_size - self.buffer.len());
            let (now, later) = rest.split_at(take);
            self.buffer.extend_from_slice(now);
            rest = later;
        }
        Ok(data.len())
    }

    /// Flushes `inner`; the segment being filled stays buffered.
    fn flush(&mut self) -> io::Result<()> {
        self.check_usable()?;
        self.inner.flush()
    }
}

impl<W: Write> fmt::Debug for SegmentedWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentedWriter")
            .field("cipher", &self.header.cipher())
            .field("segment_size", &self.segment_size)
            .field("segments_written", &self.next_index)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}
