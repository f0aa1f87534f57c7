//! Where an INSERT writes a new data file's bytes: straight to disk (plain
//! and AES256 Parquet, which encrypts inside the format), or through the
//! segmented encryptor (AESCTR, RC4) with a fresh data key from the KMS.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use datafusion::error::{DataFusionError, Result};
use sealhouse_storage::StorageAlgorithm;
use sealhouse_storage::segmented::{DEFAULT_SEGMENT_SIZE, SegmentCipher, SegmentedWriter};

use super::ProjectKeys;

/// A new data file being written.
pub(crate) enum FileWriter {
    /// Bytes go to the file as they are.
    Plain(BufWriter<File>),
    /// Bytes are encrypted in segments.
    Segmented(Box<SegmentedWriter<BufWriter<File>>>),
}

impl FileWriter {
    /// Creates the file at `path`, encrypting whole if the project's
    /// algorithm says so.
    pub(crate) fn create(path: &Path, keys: Option<&ProjectKeys>) -> Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let cipher = match keys.map(ProjectKeys::algorithm) {
            None | Some(StorageAlgorithm::Aes256) => return Ok(Self::Plain(file)),
            Some(StorageAlgorithm::AesCtr) => SegmentCipher::AesCtr,
            Some(StorageAlgorithm::Rc4) => SegmentCipher::Rc4,
        };
        let Some(keys) = keys else {
            return Ok(Self::Plain(file));
        };
        let (data_key, wrapped) = keys.new_data_key()?;
        let writer = SegmentedWriter::new(file, cipher, &data_key, &wrapped, DEFAULT_SEGMENT_SIZE)
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        Ok(Self::Segmented(Box::new(writer)))
    }

    /// Ends the file (the final segment) and flushes it to the OS; the
    /// commit syncs it to disk.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            Self::Plain(mut file) => file.flush(),
            Self::Segmented(writer) => writer.finish()?.flush(),
        }
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Segmented(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Segmented(w) => w.flush(),
        }
    }
}
