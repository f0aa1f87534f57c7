//! Where each segment of a segmented file lies, from three numbers: the
//! header length `H`, the segment size `S` and the file length `F`.
//!
//! Every segment but the last is stored as `S` ciphertext bytes plus a tag
//! of `T` bytes (16 or 32, by format version and cipher); the last (the
//! "final" one) holds `0..=S` bytes, and holds 0 only when it is the only
//! segment (an empty file). So with `B = F − H` and `n = B / (S + T)`,
//! `r = B % (S + T)`:
//!
//! - `r = 0`, `n ≥ 1`: `n` segments, the last one full; plaintext `n·S`.
//! - `r = T`, `n = 0`: the empty file, one empty final segment.
//! - `T < r < S + T`: `n + 1` segments, the last holding `r − T` bytes;
//!   plaintext `n·S + r − T`.
//! - anything else cannot have been written: `B < T`, a partial tag
//!   (`0 < r < T`), or an empty final segment after full ones (`r = T`,
//!   `n ≥ 1`). Such lengths are rejected before any segment is read.
//!
//! Only the caller's file length is trusted here; a length that lies (a
//! truncated or extended file) is caught by the final flag in the tags.

use std::ops::{Range, RangeInclusive};

use super::SegmentedError;

/// The segments of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    header_len: u64,
    segment_size: u64,
    /// Bytes of tag after each segment.
    tag: u64,
    segment_count: u64,
    plaintext_len: u64,
}

impl Layout {
    /// The layout of a file of `file_len` bytes, or an error if no writer
    /// makes a file of that length with this header.
    pub(crate) fn new(
        header_len: usize,
        segment_size: u32,
        tag_len: usize,
        file_len: u64,
    ) -> Result<Self, SegmentedError> {
        let invalid = SegmentedError::InvalidFileLength {
            file_len,
            header_len,
            segment_size,
        };
        let h = header_len as u64;
        let s = u64::from(segment_size);
        let tag = tag_len as u64;
        let body = file_len.checked_sub(h).ok_or(invalid.clone())?;
        let (full, rest) = (body / (s + tag), body % (s + tag));
        let (segment_count, plaintext_len) = match rest {
            0 if full >= 1 => (full, full * s),
            r if r == tag && full == 0 => (1, 0),
            r if r > tag => (full + 1, full * s + (r - tag)),
            _ => return Err(invalid),
        };
        Ok(Self {
            header_len: h,
            segment_size: s,
            tag,
            segment_count,
            plaintext_len,
        })
    }

    /// The file length a plaintext of `plaintext_len` bytes encrypts to.
    #[cfg(test)]
    pub(crate) fn file_len_for(
        header_len: usize,
        segment_size: u32,
        tag_len: usize,
        plaintext_len: u64,
    ) -> u64 {
        let s = u64::from(segment_size);
        let segments = plaintext_len.div_ceil(s).max(1);
        header_len as u64 + plaintext_len + segments * tag_len as u64
    }

    pub(crate) fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    pub(crate) fn segment_count(&self) -> u64 {
        self.segment_count
    }

    /// Whether segment `index` is the last one (tagged final).
    pub(crate) fn is_final(&self, index: u64) -> bool {
        index + 1 == self.segment_count
    }

    /// Plaintext (= ciphertext) bytes of segment `index`, which must exist.
    pub(crate) fn segment_len(&self, index: u64) -> u64 {
        if self.is_final(index) {
            self.plaintext_len - index * self.segment_size
        } else {
            self.segment_size
        }
    }

    /// Where segment `index`'s ciphertext starts in the plaintext.
    pub(crate) fn plaintext_offset(&self, index: u64) -> u64 {
        index * self.segment_size
    }

    /// The segments holding the bytes of `plaintext`, a non-empty range
    /// within the plaintext.
    pub(crate) fn segments_for(&self, plaintext: &Range<u64>) -> RangeInclusive<u64> {
        debug_assert!(plaintext.start < plaintext.end && plaintext.end <= self.plaintext_len);
        plaintext.start / self.segment_size..=(plaintext.end - 1) / self.segment_size
    }

    /// The file bytes of `segments` (existing ones): each one's ciphertext
    /// and tag.
    pub(crate) fn file_range(&self, segments: &RangeInclusive<u64>) -> Range<u64> {
        let (first, last) = (*segments.start(), *segments.end());
        let (s, t) = (self.segment_size, self.tag);
        let start = self.header_len + first * (s + t);
        let end = self.header_len + last * (s + t) + self.segment_len(last) + t;
        start..end
    }

    /// Checks that `plaintext` is a forward range within the plaintext.
    pub(crate) fn check_range(&self, plaintext: &Range<u64>) -> Result<(), SegmentedError> {
        if plaintext.start <= plaintext.end && plaintext.end <= self.plaintext_len {
            Ok(())
        } else {
            Err(SegmentedError::RangeOutOfBounds {
                start: plaintext.start,
                end: plaintext.end,
                plaintext_len: self.plaintext_len,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: usize = 70;
    /// The HMAC tag length the fixed-number cases below are written for.
    const T: usize = 32;

    #[test]
    fn lengths_round_trip_through_the_file_length() {
        for (s, t) in [1u32, 2, 5, 64]
            .into_iter()
            .flat_map(|s| [(s, 16), (s, 32)])
        {
            for p in 0..(4 * u64::from(s) + 3) {
                let f = Layout::file_len_for(H, s, t, p);
                let layout = Layout::new(H, s, t, f).expect("a written length");
                assert_eq!(layout.plaintext_len(), p, "s={s} p={p}");
                assert_eq!(layout.segment_count(), p.div_ceil(u64::from(s)).max(1));
                assert_eq!(
                    layout.file_range(&(0..=layout.segment_count() - 1)),
                    H as u64..f
                );
            }
        }
    }

    #[test]
    fn only_written_lengths_are_accepted() {
        for (s, t) in [1u32, 2, 5, 64]
            .into_iter()
            .flat_map(|s| [(s, 16), (s, 32)])
        {
            let written: Vec<u64> = (0..(4 * u64::from(s) + 3))
                .map(|p| Layout::file_len_for(H, s, t, p))
                .collect();
            let max = *written.last().expect("some");
            for f in 0..max {
                let ok = Layout::new(H, s, t, f).is_ok();
                assert_eq!(ok, written.contains(&f), "s={s} f={f}");
            }
        }
    }

    #[test]
    fn impossible_lengths_named() {
        let err =
            Layout::new(H, 64, T, H as u64 + 96 + 32).expect_err("empty final after a full one");
        assert_eq!(
            err,
            SegmentedError::InvalidFileLength {
                file_len: H as u64 + 128,
                header_len: H,
                segment_size: 64
            }
        );
        assert!(Layout::new(H, 64, T, H as u64 + 31).is_err(), "partial tag");
        assert!(
            Layout::new(H, 64, T, H as u64 + 96 + 10).is_err(),
            "partial tag"
        );
        assert!(
            Layout::new(H, 64, T, 10).is_err(),
            "shorter than the header"
        );
        assert!(Layout::new(H, 64, T, H as u64).is_err(), "no segment");
    }

    #[test]
    fn ranges_map_to_segments() {
        // 64-byte segments, 200 bytes of plaintext: 64 + 64 + 64 + 8.
        let layout = Layout::new(H, 64, T, Layout::file_len_for(H, 64, T, 200)).expect("layout");
        assert_eq!(layout.segment_count(), 4);
        assert_eq!(layout.segment_len(3), 8);
        assert!(layout.is_final(3) && !layout.is_final(2));
        assert_eq!(layout.segments_for(&(0..1)), 0..=0);
        assert_eq!(layout.segments_for(&(63..65)), 0..=1);
        assert_eq!(layout.segments_for(&(128..200)), 2..=3);
        let h = H as u64;
        assert_eq!(layout.file_range(&(1..=1)), h + 96..h + 192);
        assert_eq!(layout.file_range(&(3..=3)), h + 288..h + 288 + 40);
        assert!(layout.check_range(&(0..200)).is_ok());
        assert!(layout.check_range(&(200..200)).is_ok());
        assert!(layout.check_range(&(0..201)).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 5..4;
        assert!(layout.check_range(&reversed).is_err());
    }
}
