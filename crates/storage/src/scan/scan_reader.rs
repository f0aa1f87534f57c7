//! How a process reads the table files of scans it is given (a cluster's
//! executors, and a coordinator planning them): its catalog and its keys.

use std::fmt;
use std::sync::Arc;

use datafusion::error::DataFusionError;

use crate::Catalog;
use crate::encryption::{ProjectKeys, StorageKeys};

/// How a process reads the table files of scans it is given: the catalog
/// of its data directory (its file store, and the key that checks plain
/// files' block tags) and, for encrypted projects, its keys.
pub struct ScanReader {
    pub(super) catalog: Arc<Catalog>,
    pub(super) keys: ReaderKeys,
}

/// The keys a [`ScanReader`] holds.
#[derive(Clone)]
pub enum ReaderKeys {
    /// None: it reads unencrypted projects only.
    None,
    /// Any project's, through this process's KMS connection.
    Any(Arc<StorageKeys>),
    /// One project's.
    Project(Arc<ProjectKeys>),
    /// The project is encrypted and its keys are out of reach: why.
    OutOfReach(Arc<DataFusionError>),
}

impl fmt::Debug for ScanReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanReader")
            .field("location", self.catalog.file_store().location())
            .field("keys", &!matches!(self.keys, ReaderKeys::None))
            .finish()
    }
}

impl ScanReader {
    /// Reads through `catalog`'s file store; encrypted projects' files with
    /// `keys` (without them, such a scan fails naming the table).
    pub fn new(catalog: Arc<Catalog>, keys: ReaderKeys) -> Self {
        Self { catalog, keys }
    }
}
