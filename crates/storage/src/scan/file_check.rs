//! A cheap check of a Parquet file's frame before DataFusion reads it: the
//! leading and trailing magic and a footer length that fits the file.
//!
//! Why: Parquet readers never read the leading magic, so a damaged one
//! would go unnoticed (in an AES256 file those are the only four bytes
//! modular encryption does not authenticate); and parquet 58.4's metadata
//! decoder subtracts an unchecked footer length from the file length, which
//! overflows — a panic in debug builds — for a damaged length. Two small
//! reads per file per query, from the page cache in practice.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use datafusion::error::{DataFusionError, Result};

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

/// Fails, naming the file and what is wrong, unless the file at `path`
/// starts and ends with `magic`, its footer length fits, and its footer
/// region has the digest recorded at commit (when one was).
pub(crate) fn check_parquet_frame(
    path: &Path,
    magic: ParquetMagic,
    footer_sha256: Option<&[u8; 32]>,
) -> Result<()> {
    let damaged = |what: String| {
        DataFusionError::Execution(format!(
            "data file {} is damaged: {what}; restore it from a backup",
            path.display()
        ))
    };
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < 12 {
        return Err(damaged(format!(
            "{len} bytes is too short for a Parquet file"
        )));
    }
    let mut head = [0u8; 4];
    file.read_exact(&mut head)?;
    let mut tail = [0u8; 8];
    file.read_exact_at(&mut tail, len - 8)?;
    let expected = magic.bytes();
    if &head != expected || &tail[4..] != expected {
        return Err(damaged(format!(
            "it should start and end with {}, it starts with {head:02x?} and ends with {:02x?}",
            String::from_utf8_lossy(expected),
            &tail[4..]
        )));
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer + 12 > len {
        return Err(damaged(format!(
            "its footer claims {footer} bytes, more than the file's {len}"
        )));
    }
    if let Some(expected) = footer_sha256
        && crate::parquet_footer_sha256(path)?.as_ref() != Some(expected)
    {
        return Err(damaged(
            "its footer differs from the one committed (modified, or another file put in its place)"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked_at_both_ends_and_for_the_footer_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.parquet");
        let write = |bytes: &[u8]| std::fs::write(&path, bytes).expect("write");
        let mut good = b"PARE".to_vec();
        good.extend([0u8; 10]);
        good.extend(10u32.to_le_bytes());
        good.extend(b"PARE");
        write(&good);
        check_parquet_frame(&path, ParquetMagic::Encrypted, None).expect("good frame");
        let digest = crate::parquet_footer_sha256(&path)
            .expect("read")
            .expect("parquet tail");
        check_parquet_frame(&path, ParquetMagic::Encrypted, Some(&digest)).expect("same footer");
        let mut other = good.clone();
        other[5] ^= 1;
        write(&other);
        let e = check_parquet_frame(&path, ParquetMagic::Encrypted, Some(&digest))
            .expect_err("footer changed");
        assert!(
            e.to_string().contains("differs from the one committed"),
            "{e}"
        );
        write(&good);
        let e = check_parquet_frame(&path, ParquetMagic::Plain, None).expect_err("wrong magic");
        assert!(e.to_string().contains("start and end with PAR1"), "{e}");
        let mut long = good.clone();
        long[14..18].copy_from_slice(&11u32.to_le_bytes());
        write(&long);
        let e =
            check_parquet_frame(&path, ParquetMagic::Encrypted, None).expect_err("footer too long");
        assert!(e.to_string().contains("footer claims 11 bytes"), "{e}");
        let mut head = good;
        head[0] ^= 1;
        write(&head);
        assert!(check_parquet_frame(&path, ParquetMagic::Encrypted, None).is_err());
        write(b"PAR1");
        assert!(check_parquet_frame(&path, ParquetMagic::Plain, None).is_err());
    }
}
