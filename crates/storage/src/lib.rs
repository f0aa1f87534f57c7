//! Sealhouse storage: the catalog of projects and tables, the data files
//! behind each table, how they are encrypted and checked, and how a table
//! snapshot is read.
//!
//! Layout of a data directory:
//!
//! ```text
//! <data dir>/catalog.db                   SQLite: projects (and their settings), tables, their
//!                                         columns, their files, access control (owners, members,
//!                                         roles, grants), and the MACs that authenticate them
//! <data dir>/tables/<table id>/<id>.parquet   committed data files: plain or AES256 Parquet, or
//!                                         a segmented encrypted file (AESCTR, RC4) holding one
//! <data dir>/staging/<tag>/<id>.parquet.tmp   files a process is writing, not yet committed
//! <data dir>/staging/<tag>.lock               held by that process while it lives
//! ```
//!
//! With `--storage-url s3://bucket/prefix` the committed files are objects
//! `<prefix>/tables/<table id>/<id>.parquet` of the bucket instead, and the
//! catalog records the bucket (`location/`); staging stays local.
//!
//! A table's contents are exactly the files the catalog lists for it. Writers
//! stage a file, fsync it, move it into the table's directory, fsync that
//! (or upload it as a new object), and only then record it in one SQLite
//! transaction ([`Catalog::commit`]): a
//! write killed at any point leaves the table as it was, with at most an
//! unreferenced file that the next [`Catalog::open`] removes (a dead
//! process's staging directory at once, see `staging.rs`).
//!
//! Readers read the snapshot they planned on: files a commit replaces or a
//! DROP removes are deleted right after it unless a query of this process
//! holds a [`SnapshotLease`] on them, then when the last one ends; what a
//! process leaves behind is deleted by a later open after [`RETIRED_GRACE`]
//! (`retired.rs`).
//!
//! The rest, by folder: `location/` (where table files live: the data
//! directory or a bucket, and the object store over them), `encryption/` (a project's storage encryption: its
//! setting, the KMS calls that set it up, the keys of new and existing
//! files), `segmented/` (the AESCTR/RC4 file format), `integrity/` (the
//! catalog's MACs and plain files' block tags), `write/` (how a new file is
//! laid out and written), `scan/` (a [`ScanDescriptor`] of a snapshot and
//! the DataFusion plan that reads it, every file checked first). This crate
//! knows nothing of SQL statements; the catalog is synchronous and safe to
//! share between threads, scans are DataFusion's async plans.

#![forbid(unsafe_code)]

mod acl;
mod catalog;
mod checked_tables;
mod column_type;
pub mod encryption;
mod error;
mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod integrity;
pub mod location;
mod names;
mod project_settings;
mod projects;
mod retired;
pub mod scan;
mod schema;
mod sealed;
pub mod segmented;
mod staging;
mod table_columns;
pub mod write;

pub use acl::{Grant, ProjectOwner, role_grantee, user_grantee};
pub use catalog::{Catalog, DEFAULT_PROJECT, ProjectInfo, TableInfo};
pub use column_type::{ColumnType, VIEW_TEXT_BYTES, scan_schema, table_schema};
pub use encryption::{KeySource, ProjectEncryption, StorageAlgorithm};
pub use error::StorageError;
pub use files::{
    CommitMode, DataFile, StagedFile, file_id_of, parquet_footer_sha256, segmented_header_sha256,
};
pub use integrity::CatalogKey;
pub use location::{FileStore, S3Settings, StorageLocation, StorageOptions};
pub use names::{RESERVED_PROJECT_NAMES, normalize_name};
pub use project_settings::DatabaseSetting;
pub use retired::{RETIRED_GRACE, SnapshotLease};
pub use scan::{
    BlockTagKeys, CapabilityKey, Comparison, GivenTagKeys, PlanOpener, PlanSealer,
    ProjectKeyAccess, ReaderKeys, ScanDescriptor, ScanKeys, ScanPredicate, ScanReader,
    SnapshotScanExec,
};
