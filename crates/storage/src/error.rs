//! Storage errors: each says what was wrong and what to do.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything storage operations can fail with. Cloneable (the database's
/// and the system's errors are shared), so one error can reach every
/// partition of a query that met it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A name that is not a valid identifier.
    #[error(
        "'{name}' is not a valid {kind} name: use letters, digits and underscores, starting with a letter or underscore, at most 128 characters"
    )]
    InvalidName {
        /// "project" or "table".
        kind: &'static str,
        /// The name given.
        name: String,
    },
    /// A database setting that does not exist, or a value it does not take.
    #[error("{0}")]
    InvalidSetting(String),
    /// A name kept for a system schema.
    #[error(
        "'{0}' is reserved for PostgreSQL's system schema and cannot name a project; choose another name"
    )]
    ReservedName(String),
    /// No such project.
    #[error(
        "project '{0}' does not exist; SHOW PROJECTS lists the projects, CREATE PROJECT makes one"
    )]
    ProjectNotFound(String),
    /// The project exists already.
    #[error("project '{0}' already exists")]
    ProjectExists(String),
    /// A project that still holds tables.
    #[error("project '{0}' still has tables; drop them first")]
    ProjectNotEmpty(String),
    /// No such table.
    #[error(
        "table '{project}.{table}' does not exist; SHOW TABLES lists the tables of the current project"
    )]
    TableNotFound {
        /// Its project.
        project: String,
        /// Its name.
        table: String,
    },
    /// The table exists already.
    #[error(
        "table '{project}.{table}' already exists; use CREATE TABLE IF NOT EXISTS, or DROP TABLE first"
    )]
    TableExists {
        /// Its project.
        project: String,
        /// Its name.
        table: String,
    },
    /// A column type tables cannot store.
    #[error(
        "column '{column}' has type {data_type}, which tables cannot store; cast it to STRING, BINARY, BIGINT, INT, DOUBLE, BOOLEAN, DECIMAL, DATE or TIMESTAMP"
    )]
    UnsupportedType {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// The table changed between a write's start and its commit in a way the
    /// write cannot be applied over (it was dropped or recreated).
    #[error(
        "table '{project}.{table}' was dropped or recreated while data was written to it; nothing was committed"
    )]
    TableChanged {
        /// Its project.
        project: String,
        /// Its name.
        table: String,
    },
    /// A project's storage encryption is already set: it cannot be turned
    /// off, and its algorithm and key cannot change (the spec's rule).
    #[error(
        "project '{project}' already has storage encryption ({algorithm} with key {key_arn}); storage encryption cannot be disabled, and its algorithm and key cannot be changed once set. To move data under another setting, create a new project with it and copy the tables (CREATE TABLE new.t AS SELECT * FROM old.t)"
    )]
    EncryptionFixed {
        /// The project.
        project: String,
        /// Its algorithm.
        algorithm: &'static str,
        /// Its key.
        key_arn: String,
    },
    /// The catalog database failed.
    #[error("catalog database error: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// A catalog entry does not match its MAC: it was changed outside
    /// Sealhouse. Nothing is read from or written to it.
    #[error(
        "{what} fails its integrity check: it was changed outside Sealhouse, so it is neither read nor written. Restore the data directory from a backup"
    )]
    Tampered {
        /// What failed, naming the table or project.
        what: String,
    },
    /// The catalog predates integrity protection and nobody vouched for it.
    #[error(
        "the catalog predates integrity protection (schema version 1) and this open cannot vouch that it was not changed; open it once with the sealhouse command that moves the data directory's legacy root key out (it seals the catalog as it finds it), or restore a data directory made by this version"
    )]
    Unsealed,
    /// The catalog was sealed under another key.
    #[error(
        "the catalog was sealed under another root key: this data directory belongs with another KMS root key (a copy of a data directory alone opens nothing). Point Sealhouse at the data directory's own root key"
    )]
    WrongCatalogKey,
    /// The object store holding the table files failed or refused.
    #[error("object storage {url}: {what}")]
    ObjectStore {
        /// The storage URL (`s3://bucket/prefix`), never credentials.
        url: String,
        /// What failed and what to do.
        what: String,
    },
    /// A data file the catalog lists that is missing, damaged, or not the
    /// file that was committed there: names the file (and its table where
    /// known) and says to restore it.
    #[error("{0}")]
    DamagedFile(String),
    /// The KMS refused or failed while reading or writing an encrypted
    /// project's files; its code says why (a disabled key, a missing grant).
    #[error("{message}")]
    Kms {
        /// The KMS's error code.
        code: sealhouse_kms::ErrorCode,
        /// Which project and key, and the KMS's answer.
        message: String,
    },
    /// The catalog holds something this version cannot read.
    #[error("the catalog is corrupt or from a newer version: {0}")]
    Corrupt(String),
}

impl StorageError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source: Arc::new(source),
        }
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(Arc::new(error))
    }
}
