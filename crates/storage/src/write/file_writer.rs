//! Where a new data file's bytes go, as its [`FileEncryption`] says: to
//! disk with block tags (plain Parquet), straight to disk (AES256 Parquet,
//! which encrypts and authenticates inside the format), or through the
//! segmented encryptor (AESCTR, RC4) with the file's fresh data key and its
//! place in its header.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::encryption::FileEncryption;
use crate::integrity::block_tags::BlockTagWriter;
use crate::segmented::{DEFAULT_SEGMENT_SIZE, FileIdentity, SegmentedWriter};
use crate::{Catalog, StagedFile};
use datafusion::error::{DataFusionError, Result};

/// A new data file being written.
pub(crate) enum FileWriter {
    /// Plain Parquet: bytes go to the file as they are, and each block is
    /// tagged for the catalog (integrity::block_tags).
    Tagged(Box<BlockTagWriter<BufWriter<File>>>),
    /// AES256: Parquet encrypts inside the format, bytes go as they are.
    Parquet(BufWriter<File>),
    /// Bytes are encrypted in segments.
    Segmented(Box<SegmentedWriter<BufWriter<File>>>),
}

impl FileWriter {
    /// Creates the staged file of table `table_id`, encrypted as
    /// `encryption` says.
    pub(crate) fn create(
        catalog: &Catalog,
        staged: &StagedFile,
        table_id: i64,
        encryption: FileEncryption,
    ) -> Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, File::create(staged.path())?);
        let (cipher, data_key, wrapped) = match encryption {
            FileEncryption::None => {
                return Ok(Self::Tagged(Box::new(BlockTagWriter::new(
                    file,
                    catalog.block_tag_key(staged),
                ))));
            }
            FileEncryption::Parquet(_) => return Ok(Self::Parquet(file)),
            FileEncryption::Segmented {
                cipher,
                data_key,
                wrapped,
            } => (cipher, data_key, wrapped),
        };
        let identity = FileIdentity::new(table_id, staged.id()).ok_or_else(|| {
            DataFusionError::Internal(format!("staged file id '{}' is not a UUID", staged.id()))
        })?;
        let writer = SegmentedWriter::new(
            file,
            cipher,
            &data_key,
            &wrapped,
            DEFAULT_SEGMENT_SIZE,
            identity,
        )
        .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        Ok(Self::Segmented(Box::new(writer)))
    }

    /// Ends the file (the final segment, the last tagged block) and flushes
    /// it to the OS; the commit syncs it to disk. Returns a plain file's
    /// block tags.
    pub(crate) fn finish(self) -> io::Result<Option<Vec<u8>>> {
        match self {
            Self::Tagged(writer) => writer.finish().map(|(_, tags)| Some(tags)),
            Self::Parquet(mut file) => file.flush().map(|()| None),
            Self::Segmented(writer) => writer.finish()?.flush().map(|()| None),
        }
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tagged(w) => w.write(buf),
            Self::Parquet(w) => w.write(buf),
            Self::Segmented(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tagged(w) => w.flush(),
            Self::Parquet(w) => w.flush(),
            Self::Segmented(w) => w.flush(),
        }
    }
}
