//! The catalog: projects, tables and their columns, in SQLite.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::datatypes::{Field, Schema, SchemaRef};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::checked_tables::{CheckedTables, TableState};
use crate::column_type::table_schema;
use crate::encryption::ProjectEncryption;
use crate::encryption::setting as encryption;
use crate::integrity::CatalogKey;
use crate::location::{FileStore, StorageOptions, record_location, settle_location};
use crate::names::normalize_name;
use crate::retired::{self, Leases, SnapshotLease};
use crate::schema;
use crate::sealed::{self, FileRow};
use crate::staging::StagingDir;
use crate::table_columns::ColumnEntry;
use crate::{ColumnType, StorageError};

/// The project every data directory starts with and sessions start in.
pub const DEFAULT_PROJECT: &str = "default";

/// A project.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectInfo {
    /// Its name (lowercase).
    pub name: String,
    /// When it was created, seconds since the Unix epoch.
    pub created_at: i64,
    /// Its settings, a JSON object (storage encryption lives here).
    pub properties: serde_json::Value,
}

impl ProjectInfo {
    /// Its storage encryption, if enabled.
    pub fn encryption(&self) -> Result<Option<ProjectEncryption>, StorageError> {
        encryption::from_properties(&self.properties).map_err(StorageError::Corrupt)
    }
}

/// A table: one incarnation of a name (dropping and recreating a table gives
/// a new `id`).
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Unique across the data directory, never reused.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name (lowercase).
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<(String, ColumnType)>,
    /// The Arrow schema its files hold.
    pub schema: SchemaRef,
    /// Mean bytes per value of each column, as the writes since the table
    /// was created or last overwritten measured them (the widest of their
    /// samples; 0 where none was measured, and for fixed-width types). It
    /// decides how scans read text ([`ColumnType::scan_type`]).
    pub widths: Vec<u32>,
    /// When it was created, seconds since the Unix epoch.
    pub created_at: i64,
}

impl TableInfo {
    /// The schema scans of this table produce (BINARY as `BinaryView`,
    /// wide text as `Utf8View`: [`ColumnType::scan_type`]);
    /// [`TableInfo::schema`] is what its files hold.
    pub fn scan_schema(&self) -> SchemaRef {
        crate::column_type::scan_schema(
            self.columns
                .iter()
                .enumerate()
                .map(|(i, (n, t))| (n.as_str(), *t, self.width(i))),
        )
    }

    /// The mean bytes per value of column `i` (0: not measured).
    pub fn width(&self, i: usize) -> u32 {
        self.widths.get(i).copied().unwrap_or(0)
    }
}

/// The catalog of one data directory. Cheap to share: one SQLite connection
/// behind a mutex, held only for the length of each catalog operation.
pub struct Catalog {
    root: PathBuf,
    /// Where the table files are (the data directory, or a bucket).
    files: FileStore,
    conn: Mutex<Connection>,
    key: CatalogKey,
    /// This process's staging directory, made on the first write.
    staging: Mutex<Option<StagingDir>>,
    /// The files this process's queries are reading.
    leases: Leases,
    /// Tables already checked against their MACs, while the catalog is
    /// unchanged. Locked after `conn`, never before.
    checked: Mutex<CheckedTables>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("root", &self.root)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens the data directory at `root`, creating it, the catalog and the
    /// default project on first use, and removing what interrupted writes
    /// left behind. The catalog's MACs are made and checked with `key`
    /// (derived from the KMS root key, kept outside the data directory).
    ///
    /// A catalog made before integrity protection is refused
    /// ([`StorageError::Unsealed`]): anyone who can write the data directory
    /// could make a sealed catalog look like one. [`Self::open_sealing_legacy`]
    /// seals it, for a caller that can vouch for it.
    ///
    /// The table files are where the catalog recorded them (the data
    /// directory unless it was first opened with a bucket); a bucket is
    /// reached with the process's `AWS_*` environment.
    pub fn open(root: &Path, key: CatalogKey) -> Result<Arc<Self>, StorageError> {
        Self::open_with(root, key, false, &StorageOptions::from_env())
    }

    /// As [`Self::open`], with the table files where `options` say: a new
    /// data directory records its location; an existing one must match it.
    pub fn open_with_storage(
        root: &Path,
        key: CatalogKey,
        options: &StorageOptions,
    ) -> Result<Arc<Self>, StorageError> {
        Self::open_with(root, key, false, options)
    }

    /// As [`Self::open`], but a catalog made before integrity protection is
    /// sealed as it is found: MACs are made over its current state. Only for
    /// a caller that knows the data directory predates this version (the
    /// CLI, when it moves a legacy root key out of the data directory).
    pub fn open_sealing_legacy(root: &Path, key: CatalogKey) -> Result<Arc<Self>, StorageError> {
        Self::open_with(root, key, true, &StorageOptions::from_env())
    }

    fn open_with(
        root: &Path,
        key: CatalogKey,
        seal_legacy: bool,
        options: &StorageOptions,
    ) -> Result<Arc<Self>, StorageError> {
        // Readers address files by absolute path (DataFusion's object store
        // resolves a relative one from `/`), so keep the root absolute.
        let root = &std::path::absolute(root)
            .map_err(StorageError::io("cannot resolve data directory", root))?;
        if !root.exists() {
            std::fs::create_dir_all(root)
                .map_err(StorageError::io("cannot create data directory", root))?;
            // Tables hold data users chose to protect: only the owner reads the directory.
            restrict_to_owner(root)?;
        }
        let db = root.join("catalog.db");
        let mut conn = Connection::open(&db)?;
        // First: another process opening the catalog makes us wait, not fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Every statement a single-row INSERT runs stays prepared
        // (`prepare_cached`; rusqlite keeps 16 by default).
        conn.set_prepared_statement_cache_capacity(64);
        // WAL keeps readers and the writer out of each other's way; FULL
        // makes each commit durable once it returns.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::upgrade(&mut conn, &key, seal_legacy)?;
        let (location, to_record) = settle_location(&mut conn, root, options.location.as_ref())?;
        let files = FileStore::open(&location, &options.s3)?;
        if to_record {
            record_location(&mut conn, &key, root, &location)?;
        }
        let catalog = Arc::new(Self {
            root: root.to_owned(),
            files,
            conn: Mutex::new(conn),
            key,
            staging: Mutex::new(None),
            leases: Leases::default(),
            checked: Mutex::default(),
        });
        catalog.create_project(DEFAULT_PROJECT, true)?;
        catalog.collect_garbage()?;
        Ok(catalog)
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the table files are.
    pub fn file_store(&self) -> &FileStore {
        &self.files
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back on drop), so a poisoned lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a table with the columns of `schema` (types mapped to the
    /// stored ones). With `if_not_exists`, returns the existing table instead
    /// of failing.
    pub fn create_table(
        &self,
        project: &str,
        name: &str,
        schema: &Schema,
        if_not_exists: bool,
    ) -> Result<TableInfo, StorageError> {
        let project = normalize_name("project", project)?;
        let name = normalize_name("table", name)?;
        let (_, columns) = table_schema(schema)?;
        let columns_json = ColumnEntry::to_json(
            &columns
                .into_iter()
                .map(|(name, column_type)| ColumnEntry {
                    name,
                    column_type,
                    width: 0,
                })
                .collect::<Vec<_>>(),
        );
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT count(*) FROM projects WHERE name = ?1",
                [&project],
                |r| r.get::<_, i64>(0),
            )? > 0;
            if !exists {
                return Err(StorageError::ProjectNotFound(project));
            }
            let inserted = tx.execute(
                "INSERT INTO tables (project, name, columns, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project, name) DO NOTHING",
                params![project, name, columns_json, now()],
            )?;
            if inserted > 0 {
                sealed::reseal_table(&tx, &self.key, tx.last_insert_rowid())?;
            }
            tx.commit()?;
            if inserted == 0 && !if_not_exists {
                return Err(StorageError::TableExists {
                    project,
                    table: name,
                });
            }
        }
        self.table(&project, &name)
    }

    /// Drops a table; its files are deleted at once, or when the last query
    /// of this process that planned on them ends (`retired.rs`). Returns
    /// whether a table was dropped.
    pub fn drop_table(
        &self,
        project: &str,
        name: &str,
        if_exists: bool,
    ) -> Result<bool, StorageError> {
        let table = match self.table(project, name) {
            Ok(t) => t,
            Err(StorageError::TableNotFound { .. }) if if_exists => return Ok(false),
            Err(e) => return Err(e),
        };
        let paths = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Queries planned before the drop may still read its files.
            let paths: Vec<String> = tx
                .prepare("SELECT path FROM files WHERE table_id = ?1")?
                .query_map([table.id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            retired::retire(&tx, paths.iter().map(String::as_str))?;
            tx.execute("DELETE FROM tables WHERE id = ?1", [table.id])?;
            Self::drop_table_grants(&tx, &table.project, &table.name)?;
            tx.commit()?;
            paths
        };
        // What no query of this process reads goes now; the rest when its
        // last reader ends. Failing only leaves them for a later open.
        let _ = self.delete_retired(&paths);
        Ok(true)
    }

    /// One table, or [`StorageError::TableNotFound`].
    pub fn table(&self, project: &str, name: &str) -> Result<TableInfo, StorageError> {
        self.read_table(project, name, |row, _, _| table_info(row))
    }

    /// One table and its files, read together, with a lease on them: the
    /// snapshot a query reads. While the lease lives, a commit or DROP of
    /// this process leaves the files in place (see `retired.rs`).
    pub fn table_snapshot(
        self: &Arc<Self>,
        project: &str,
        name: &str,
    ) -> Result<(TableInfo, Vec<crate::DataFile>, SnapshotLease), StorageError> {
        self.read_table(project, name, |row, files, conn| {
            let files = self.data_files(files)?;
            // Taken before the catalog is free to change: no commit can
            // delete these files between reading and leasing them.
            let lease = self.lease(&files);
            drop(conn);
            Ok((table_info(row)?, files, lease))
        })
    }

    /// Finds a table and hands its checked row and files to `then`, with
    /// the catalog still locked.
    fn read_table<T>(
        &self,
        project: &str,
        name: &str,
        then: impl FnOnce(
            sealed::TableRow,
            Vec<FileRow>,
            MutexGuard<'_, Connection>,
        ) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let project = normalize_name("project", project)?;
        let name = normalize_name("table", name)?;
        let conn = self.conn();
        let id = self.checked().table_id(&conn, &project, &name)?;
        let found = match id {
            Some(id) => self.checked_table(&conn, id)?,
            None => None,
        };
        match found {
            Some((row, files)) => then(row, files, conn),
            None => {
                drop(conn);
                self.project(&project)?;
                Err(StorageError::TableNotFound {
                    project,
                    table: name,
                })
            }
        }
    }

    /// The tables of a project, by name.
    pub fn tables(&self, project: &str) -> Result<Vec<TableInfo>, StorageError> {
        let project = self.project(project)?.name;
        let conn = self.conn();
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM tables WHERE project = ?1 ORDER BY name")?
            .query_map([&project], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut tables = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some((row, _)) = self.checked_table(&conn, id)? {
                tables.push(table_info(row)?);
            }
        }
        Ok(tables)
    }

    /// Table `id` and its files, checked against the table's MAC (once
    /// per change of the catalog: `checked_tables.rs`). `conn` is the
    /// catalog's connection, locked by the caller.
    pub(crate) fn checked_table(
        &self,
        conn: &Connection,
        id: i64,
    ) -> Result<Option<TableState>, StorageError> {
        self.checked().get(conn, &self.key, id)
    }

    /// The cache of checked catalog rows; taken after the connection's
    /// lock, never before it.
    pub(crate) fn checked(&self) -> MutexGuard<'_, CheckedTables> {
        self.checked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the checked-table cache that this process changed the
    /// database through `conn` (locked since `before` was read), changing
    /// a table's files if any, to the state given when known
    /// (`CheckedTables::changed_here`).
    pub(crate) fn changed_here(
        &self,
        conn: &Connection,
        before: u64,
        table: Option<(i64, Option<TableState>)>,
    ) -> Result<(), StorageError> {
        self.checked().changed_here(conn, before, table)
    }

    /// The catalog's key.
    pub(crate) fn key(&self) -> &CatalogKey {
        &self.key
    }

    /// The public key this warehouse's scan capabilities verify under: what
    /// a cluster's executors are given instead of the catalog key.
    pub fn capability_key(&self) -> crate::CapabilityKey {
        self.key.capability_key()
    }

    pub(crate) fn staging_dir(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// Where this process stages a new file (its directory made, and its
    /// lock taken, on first use).
    pub(crate) fn staging_path(&self, name: &str) -> Result<PathBuf, StorageError> {
        let mut staging = self
            .staging
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = match &mut *staging {
            Some(dir) => dir,
            None => staging.insert(StagingDir::create(&self.staging_dir())?),
        };
        Ok(dir.path().join(name))
    }

    pub(crate) fn leases(&self) -> &Leases {
        &self.leases
    }
}

fn table_info(row: sealed::TableRow) -> Result<TableInfo, StorageError> {
    let sealed::TableRow {
        id,
        project,
        name,
        columns: columns_json,
        created_at,
        ..
    } = row;
    let parsed = ColumnEntry::parse_all(&columns_json)
        .map_err(|e| StorageError::Corrupt(format!("columns of {project}.{name}: {e}")))?;
    let schema = Arc::new(Schema::new(
        parsed
            .iter()
            .map(|c| Field::new(&c.name, c.column_type.to_arrow(), true))
            .collect::<Vec<_>>(),
    ));
    Ok(TableInfo {
        id,
        project,
        name,
        widths: parsed.iter().map(|c| c.width).collect(),
        columns: parsed
            .into_iter()
            .map(|c| (c.name, c.column_type))
            .collect(),
        schema,
        created_at,
    })
}

/// A project's properties as the JSON object they must be.
pub(crate) fn properties_object<'a>(
    name: &str,
    properties: &'a mut serde_json::Value,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, StorageError> {
    properties.as_object_mut().ok_or_else(|| {
        StorageError::Corrupt(format!("properties of project '{name}' are not an object"))
    })
}

pub(crate) fn parse_properties(text: &str) -> Result<serde_json::Value, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("project properties: {e}")))
}

#[cfg(unix)]
fn restrict_to_owner(dir: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(StorageError::io("cannot restrict permissions of", dir))
}

#[cfg(not(unix))]
fn restrict_to_owner(_dir: &Path) -> Result<(), StorageError> {
    Ok(())
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
