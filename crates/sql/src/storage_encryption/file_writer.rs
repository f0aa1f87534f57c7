//! Where an INSERT writes a new data file's bytes: to disk with block tags
//! (plain Parquet), straight to disk (AES256 Parquet, which encrypts and
//! authenticates inside the format), or through the segmented encryptor
//! (AESCTR, RC4) with a fresh data key from the KMS and the file's place in
//! its header.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use datafusion::error::{DataFusionError, Result};
use sealhouse_storage::integrity::block_tags::BlockTagWriter;
use sealhouse_storage::segmented::{
    DEFAULT_SEGMENT_SIZE, FileIdentity, SegmentCipher, SegmentedWriter,
};
use sealhouse_storage::{Catalog, StagedFile, StorageAlgorithm};

use super::ProjectKeys;

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
    /// Creates the staged file of table `table_id`, encrypting whole if
    /// the project's algorithm says so.
    pub(crate) fn create(
        catalog: &Catalog,
        staged: &StagedFile,
        table_id: i64,
        keys: Option<&ProjectKeys>,
    ) -> Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, File::create(staged.path())?);
        let (keys, cipher) = match keys.map(|k| (k, k.algorithm())) {
            None => {
                return Ok(Self::Tagged(Box::new(BlockTagWriter::new(
                    file,
                    catalog.block_tag_key(staged),
                ))));
            }
            Some((_, StorageAlgorithm::Aes256)) => return Ok(Self::Parquet(file)),
            Some((keys, StorageAlgorithm::AesCtr)) => (keys, SegmentCipher::AesCtr),
            Some((keys, StorageAlgorithm::Rc4)) => (keys, SegmentCipher::Rc4),
        };
        let identity = FileIdentity::new(table_id, staged.id()).ok_or_else(|| {
            DataFusionError::Internal(format!("staged file id '{}' is not a UUID", staged.id()))
        })?;
        let (data_key, wrapped) = keys.new_data_key()?;
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
