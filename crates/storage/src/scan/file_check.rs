//! A cheap check of a Parquet file's frame before DataFusion reads it: the
//! leading and trailing magic and a footer length that fits the file.
//!
//! Why: Parquet readers never read the leading magic, so a damaged one
//! would go unnoticed (in an AES256 file those are the only four bytes
//! modular encryption does not authenticate); and parquet 58.4's metadata
//! decoder subtracts an unchecked footer length from the file length, which
//! overflows — a panic in debug builds — for a damaged length. Two small
//! reads per file per query, from the page cache in practice.

use datafusion::error::{DataFusionError, Result};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::StorageError;

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

/// Fails, naming the file and what is wrong, unless the file at `location`
/// in `files` (`len` bytes long) starts and ends with `magic`, its footer
/// length fits, and its footer region has the digest recorded at commit
/// (when one was).
pub(crate) async fn check_parquet_frame(
    files: &dyn ObjectStore,
    location: &Path,
    len: u64,
    magic: ParquetMagic,
    footer_sha256: Option<&[u8; 32]>,
) -> Result<()> {
    let damaged = |what: String| {
        DataFusionError::External(Box::new(StorageError::DamagedFile(format!(
            "data file /{location} is damaged: {what}; restore it from a backup"
        ))))
    };
    if len < 12 {
        return Err(damaged(format!(
            "{len} bytes is too short for a Parquet file"
        )));
    }
    let ends = files.get_ranges(location, &[0..4, len - 8..len]).await?;
    let (head, tail) = (&ends[0], &ends[1]);
    let expected = magic.bytes();
    if head.as_ref() != expected || &tail[4..] != expected {
        return Err(damaged(format!(
            "it should start and end with {}, it starts with {:02x?} and ends with {:02x?}",
            String::from_utf8_lossy(expected),
            head.as_ref(),
            &tail[4..]
        )));
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer + 12 > len {
        return Err(damaged(format!(
            "its footer claims {footer} bytes, more than the file's {len}"
        )));
    }
    if let Some(expected) = footer_sha256 {
        // The footer region: the footer and the 8 bytes after it, as
        // `parquet_footer_sha256` pinned it at commit.
        let region = files.get_range(location, len - 8 - footer..len).await?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &region);
        if digest.as_ref() != expected {
            return Err(damaged(
                "its footer differs from the one committed (modified, or another file put in its \
                 place)"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use object_store::local::LocalFileSystem;

    use super::*;

    #[tokio::test]
    async fn frames_are_checked_at_both_ends_and_for_the_footer_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.parquet");
        let files = LocalFileSystem::new();
        // As scans name local files: the absolute path without its '/'.
        let location = Path::from(path.to_string_lossy().trim_start_matches('/'));
        let write = |bytes: &[u8]| std::fs::write(&path, bytes).expect("write");
        let check = |magic, pinned: Option<[u8; 32]>| {
            let len = std::fs::metadata(&path).expect("len").len();
            let (files, location) = (&files, &location);
            async move { check_parquet_frame(files, location, len, magic, pinned.as_ref()).await }
        };
        let mut good = b"PARE".to_vec();
        good.extend([0u8; 10]);
        good.extend(10u32.to_le_bytes());
        good.extend(b"PARE");
        write(&good);
        check(ParquetMagic::Encrypted, None)
            .await
            .expect("good frame");
        let digest = crate::parquet_footer_sha256(&path)
            .expect("read")
            .expect("parquet tail");
        check(ParquetMagic::Encrypted, Some(digest))
            .await
            .expect("same footer");
        let mut other = good.clone();
        other[5] ^= 1;
        write(&other);
        let e = check(ParquetMagic::Encrypted, Some(digest))
            .await
            .expect_err("footer changed");
        assert!(
            e.to_string().contains("differs from the one committed"),
            "{e}"
        );
        write(&good);
        let e = check(ParquetMagic::Plain, None)
            .await
            .expect_err("wrong magic");
        assert!(e.to_string().contains("start and end with PAR1"), "{e}");
        let mut long = good.clone();
        long[14..18].copy_from_slice(&11u32.to_le_bytes());
        write(&long);
        let e = check(ParquetMagic::Encrypted, None)
            .await
            .expect_err("footer too long");
        assert!(e.to_string().contains("footer claims 11 bytes"), "{e}");
        let mut head = good;
        head[0] ^= 1;
        write(&head);
        assert!(check(ParquetMagic::Encrypted, None).await.is_err());
        write(b"PAR1");
        assert!(check(ParquetMagic::Plain, None).await.is_err());
    }
}
