//! Reading a table snapshot: a [`ScanDescriptor`] says what to read (the
//! table, its files with their encryption and pinned digests, the
//! projection, limit and predicate) and holds no key; [`ScanDescriptor::plan`] turns
//! it into a DataFusion plan that reads the files with every integrity
//! check the warehouse makes: each file's frame and pinned digest, on the
//! bytes the reader decodes (`file_check`, `checked_frame`), plain files' block tags (`verified_reader`), AES256
//! files through Parquet modular encryption, segmented files through their
//! decrypting store. Every byte a scan reads comes through the table
//! files' object store (the data directory or a bucket). The warehouse's own
//! scans go through it, and any process holding a KMS connection can read a
//! descriptor it was given.

mod batch_rows;
mod capability;
pub use capability::CapabilityKey;
mod checked_frame;
mod descriptor;
mod exec;
mod file_check;
mod held_blocks;
mod local_blocks;
mod plan;
mod predicate;
mod read_ahead;
pub(crate) mod read_only_store;
mod reader_factory;
mod scan_reader;
mod tag_keys;
mod typed_metadata;
mod verified_reader;

pub use descriptor::{ScanDescriptor, ScanFile};
pub use exec::SnapshotScanExec;
pub use plan::{ProjectKeyAccess, ScanKeys};
pub use predicate::{Comparison, ScanPredicate};
pub use scan_reader::{ReaderKeys, ScanReader};
pub use tag_keys::{BlockTagKeys, GivenTagKeys, PlanOpener, PlanSealer};
pub use verified_reader::VerifiedFileStore;
