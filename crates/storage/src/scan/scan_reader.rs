//! How a process reads the table files of scans it is given (a cluster's
//! executors, and a coordinator planning them): its file store, the key
//! scans are checked with, and its keys.

use std::fmt;
use std::sync::Arc;

use datafusion::error::DataFusionError;

use super::{CapabilityKey, PlanOpener, PlanSealer};
use crate::encryption::{ProjectKeys, StorageKeys};
use crate::{Catalog, FileStore};

/// How a process reads the table files of scans it is given: where the
/// files are, the public key their capabilities must verify under, how it
/// gets plain files' block-tag keys and, for encrypted projects, its keys.
pub struct ScanReader {
    files: Files,
    capability_key: CapabilityKey,
    /// Seals plain files' tag keys into the scans this process plans for a
    /// cluster.
    sealer: Option<Arc<dyn PlanSealer>>,
    /// Opens them in the scans it is given.
    opener: Option<Arc<dyn PlanOpener>>,
    pub(super) keys: ReaderKeys,
}

/// Where a reader's files are, and whether it holds the catalog.
enum Files {
    /// The warehouse's own process: the catalog's file store and key (it
    /// signs scans and derives tag keys).
    Catalog(Arc<Catalog>),
    /// A process without the catalog (a cluster's executor).
    Own(FileStore),
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
            .field("location", self.file_store().location())
            .field("catalog", &matches!(self.files, Files::Catalog(_)))
            .field("keys", &!matches!(self.keys, ReaderKeys::None))
            .finish_non_exhaustive()
    }
}

impl ScanReader {
    /// Reads through `catalog`'s file store; encrypted projects' files with
    /// `keys` (without them, such a scan fails naming the table).
    pub fn new(catalog: Arc<Catalog>, keys: ReaderKeys) -> Self {
        Self {
            capability_key: catalog.key().capability_key(),
            files: Files::Catalog(catalog),
            sealer: None,
            opener: None,
            keys,
        }
    }

    /// The reader of a process that holds no key of the catalog (a
    /// cluster's executor): it reads `files`, only scans whose capability
    /// verifies under `capability_key`, plain files with the tag keys their
    /// plan carries (opened with `opener`), and encrypted files with
    /// `keys`.
    pub fn without_catalog(
        files: FileStore,
        capability_key: CapabilityKey,
        opener: Arc<dyn PlanOpener>,
        keys: ReaderKeys,
    ) -> Self {
        Self {
            files: Files::Own(files),
            capability_key,
            sealer: None,
            opener: Some(opener),
            keys,
        }
    }

    /// The reader with the tag keys of plain files sealed with `sealer`
    /// into each scan it plans (a coordinator of a cluster).
    #[must_use]
    pub fn sealing_tag_keys(mut self, sealer: Arc<dyn PlanSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    pub(super) fn file_store(&self) -> &FileStore {
        match &self.files {
            Files::Catalog(catalog) => catalog.file_store(),
            Files::Own(files) => files,
        }
    }

    pub(super) fn catalog(&self) -> Option<&Arc<Catalog>> {
        match &self.files {
            Files::Catalog(catalog) => Some(catalog),
            Files::Own(_) => None,
        }
    }

    pub(super) fn capability_key(&self) -> &CapabilityKey {
        &self.capability_key
    }

    pub(super) fn sealer(&self) -> Option<&Arc<dyn PlanSealer>> {
        self.sealer.as_ref()
    }

    pub(super) fn opener(&self) -> Option<&Arc<dyn PlanOpener>> {
        self.opener.as_ref()
    }
}
