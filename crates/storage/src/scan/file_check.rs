//! A cheap check of a Parquet file's frame before its bytes are decoded:
//! the leading and trailing magic, a footer length that fits the file, and
//! the footer region's digest pinned at commit (when one was).
//!
//! Why: Parquet readers never read the leading magic, so a damaged one
//! would go unnoticed (in an AES256 file those are the only four bytes
//! modular encryption does not authenticate); parquet 58.4's metadata
//! decoder subtracts an unchecked footer length from the file length, which
//! overflows — a panic in debug builds — for a damaged length; and the
//! pinned digest tells another file of the same key (a swap, a rollback)
//! from the committed one. The check runs on the very bytes the reader then
//! decodes (`checked_frame.rs`), so nothing can change between the two.

use std::ops::Range;

/// Which Parquet magic a file must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParquetMagic {
    /// `PAR1`: a plain file (or a plaintext-footer one).
    Plain,
    /// `PARE`: a file with an encrypted footer (AES256 storage encryption).
    Encrypted,
}

impl ParquetMagic {
    fn bytes(self) -> &'static [u8; 4] {
        match self {
            Self::Plain => b"PAR1",
            Self::Encrypted => b"PARE",
        }
    }
}

/// What one committed Parquet file must look like at its ends.
#[derive(Debug, Clone)]
pub(crate) struct FrameCheck {
    pub(crate) magic: ParquetMagic,
    /// The committed length (the catalog's, which is authenticated).
    pub(crate) len: u64,
    /// The footer region's SHA-256, as `parquet_footer_sha256` pinned it.
    pub(crate) footer_sha256: Option<[u8; 32]>,
    /// The file as errors name it: "data file ... of table p.t".
    pub(crate) named: String,
}

impl FrameCheck {
    /// Checks the magic at both ends and the footer length, given the
    /// file's first four bytes and a suffix `tail` of it (at least 8
    /// bytes); the range of the footer region (the footer and the 8 bytes
    /// after it), whose digest [`FrameCheck::check_footer`] checks.
    pub(crate) fn check_ends(&self, head: &[u8], tail: &[u8]) -> Result<Range<u64>, String> {
        let len = self.len;
        if len < 12 || tail.len() < 8 || head.len() < 4 {
            return Err(format!("{len} bytes is too short for a Parquet file"));
        }
        let expected = self.magic.bytes();
        let ends = &tail[tail.len() - 8..];
        if &head[..4] != expected || &ends[4..] != expected {
            return Err(format!(
                "it should start and end with {}, it starts with {:02x?} and ends with {:02x?}",
                String::from_utf8_lossy(expected),
                &head[..4],
                &ends[4..]
            ));
        }
        let footer = u64::from(u32::from_le_bytes([ends[0], ends[1], ends[2], ends[3]]));
        if footer + 12 > len {
            return Err(format!(
                "its footer claims {footer} bytes, more than the file's {len}"
            ));
        }
        Ok(len - 8 - footer..len)
    }

    /// Checks the footer region's bytes against the pinned digest.
    pub(crate) fn check_footer(&self, region: &[u8]) -> Result<(), String> {
        let Some(expected) = &self.footer_sha256 else {
            return Ok(());
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, region);
        if digest.as_ref() == expected {
            Ok(())
        } else {
            Err(
                "its footer differs from the one committed (modified, or another file put in \
                 its place)"
                    .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(magic: ParquetMagic, bytes: &[u8], pinned: Option<[u8; 32]>) -> Result<(), String> {
        let check = FrameCheck {
            magic,
            len: bytes.len() as u64,
            footer_sha256: pinned,
            named: "f".into(),
        };
        let region = check.check_ends(&bytes[..4.min(bytes.len())], bytes)?;
        check.check_footer(&bytes[region.start as usize..])
    }

    #[test]
    fn frames_are_checked_at_both_ends_and_for_the_footer_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.parquet");
        let mut good = b"PARE".to_vec();
        good.extend([0u8; 10]);
        good.extend(10u32.to_le_bytes());
        good.extend(b"PARE");
        check(ParquetMagic::Encrypted, &good, None).expect("good frame");
        std::fs::write(&path, &good).expect("write");
        let digest = crate::parquet_footer_sha256(&path)
            .expect("read")
            .expect("parquet tail");
        check(ParquetMagic::Encrypted, &good, Some(digest)).expect("same footer");
        let mut other = good.clone();
        other[5] ^= 1;
        let e = check(ParquetMagic::Encrypted, &other, Some(digest)).expect_err("footer changed");
        assert!(e.contains("differs from the one committed"), "{e}");
        let e = check(ParquetMagic::Plain, &good, None).expect_err("wrong magic");
        assert!(e.contains("start and end with PAR1"), "{e}");
        let mut long = good.clone();
        long[14..18].copy_from_slice(&11u32.to_le_bytes());
        let e = check(ParquetMagic::Encrypted, &long, None).expect_err("footer too long");
        assert!(e.contains("footer claims 11 bytes"), "{e}");
        let mut head = good;
        head[0] ^= 1;
        assert!(check(ParquetMagic::Encrypted, &head, None).is_err());
        assert!(check(ParquetMagic::Plain, b"PAR1", None).is_err());
    }
}
