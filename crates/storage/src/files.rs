//! Data files: staging, atomic commit, listing, and removal of what
//! interrupted writes left behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{TransactionBehavior, params};

use crate::StorageError;
use crate::catalog::{Catalog, TableInfo};

/// A committed data file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Rows it holds.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A file being written. Write it at [`StagedFile::path`], then hand it to
/// [`Catalog::commit`]; dropped without commit, it is deleted.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    id: String,
    rows: u64,
    committed: bool,
}

impl StagedFile {
    /// Where to write the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records how many rows were written to it.
    pub fn set_rows(&mut self, rows: u64) {
        self.rows = rows;
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How a commit changes a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// Add the files to the table (INSERT INTO).
    Append,
    /// Make the files the table's whole content (INSERT OVERWRITE).
    Overwrite,
}

/// Files in staging or unreferenced in table directories younger than this
/// may belong to a write still in progress in another process.
const GARBAGE_AGE: Duration = Duration::from_secs(3600);

impl Catalog {
    /// A new file to write data into.
    pub fn stage(&self) -> Result<StagedFile, StorageError> {
        let dir = self.staging_dir();
        std::fs::create_dir_all(&dir)
            .map_err(StorageError::io("cannot create staging directory", &dir))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        Ok(StagedFile {
            path: dir.join(format!("{id}.parquet.tmp")),
            id,
            rows: 0,
            committed: false,
        })
    }

    /// Makes staged files part of `table`, atomically: afterwards the table
    /// holds all of them (and with [`CommitMode::Overwrite`] nothing else), or
    /// none of them if any step fails. Each file must be completely written.
    pub fn commit(
        &self,
        table: &TableInfo,
        mut staged: Vec<StagedFile>,
        mode: CommitMode,
    ) -> Result<(), StorageError> {
        let dir = self.table_dir(table.id);
        std::fs::create_dir_all(&dir)
            .map_err(StorageError::io("cannot create table directory", &dir))?;
        let mut moved = Vec::with_capacity(staged.len());
        for file in &staged {
            File::open(&file.path)
                .and_then(|f| f.sync_all())
                .map_err(StorageError::io("cannot flush staged file", &file.path))?;
            let target = dir.join(format!("{}.parquet", file.id));
            std::fs::rename(&file.path, &target)
                .map_err(StorageError::io("cannot move staged file", &file.path))?;
            let bytes = std::fs::metadata(&target)
                .map_err(StorageError::io("cannot stat", &target))?
                .len();
            moved.push((target, file.rows, bytes));
        }
        sync_dir(&dir)?;
        let replaced = match self.record(table, &moved, mode) {
            Ok(replaced) => replaced,
            Err(e) => {
                for (path, _, _) in &moved {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e);
            }
        };
        for file in &mut staged {
            file.committed = true;
        }
        // Replaced files are no longer referenced; a failure here only delays
        // freeing their space until garbage collection.
        for path in replaced {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    /// The transaction of a commit; returns the paths it replaced.
    fn record(
        &self,
        table: &TableInfo,
        moved: &[(PathBuf, u64, u64)],
        mode: CommitMode,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let alive: i64 = tx.query_row(
            "SELECT count(*) FROM tables WHERE id = ?1",
            [table.id],
            |r| r.get(0),
        )?;
        if alive == 0 {
            return Err(StorageError::TableChanged {
                project: table.project.clone(),
                table: table.name.clone(),
            });
        }
        let mut replaced = Vec::new();
        if mode == CommitMode::Overwrite {
            let mut stmt = tx.prepare("SELECT path FROM files WHERE table_id = ?1")?;
            let paths = stmt.query_map([table.id], |r| r.get::<_, String>(0))?;
            for p in paths {
                replaced.push(self.root().join(p?));
            }
            drop(stmt);
            tx.execute("DELETE FROM files WHERE table_id = ?1", [table.id])?;
        }
        for (path, rows, bytes) in moved {
            let relative = path.strip_prefix(self.root()).unwrap_or(path);
            tx.execute(
                "INSERT INTO files (table_id, path, rows, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![
                    table.id,
                    relative.to_string_lossy(),
                    *rows as i64,
                    *bytes as i64
                ],
            )?;
        }
        tx.commit()?;
        Ok(replaced)
    }

    /// The files of a table as of now.
    pub fn files(&self, table: &TableInfo) -> Result<Vec<DataFile>, StorageError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT path, rows, bytes FROM files WHERE table_id = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([table.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (path, rows, bytes) = row?;
            Ok(DataFile {
                path: self.root().join(path),
                rows: rows as u64,
                bytes: bytes as u64,
            })
        })
        .collect()
    }

    /// Removes what interrupted writes and drops left behind: old staging
    /// files, directories of dropped tables, and old files no table names.
    pub(crate) fn collect_garbage(&self) -> Result<(), StorageError> {
        let cutoff = SystemTime::now() - GARBAGE_AGE;
        let old = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map(|t| t < cutoff)
                .unwrap_or(false)
        };
        for entry in read_dir(&self.staging_dir()) {
            if old(&entry) {
                let _ = std::fs::remove_file(&entry);
            }
        }
        let (tables, referenced) = {
            let conn = self.conn();
            let tables: Vec<i64> = conn
                .prepare("SELECT id FROM tables")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let files: Vec<String> = conn
                .prepare("SELECT path FROM files")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            (
                tables,
                files
                    .into_iter()
                    .map(|p| self.root().join(p))
                    .collect::<std::collections::HashSet<_>>(),
            )
        };
        for dir in read_dir(&self.root().join("tables")) {
            let id = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<i64>().ok());
            match id {
                Some(id) if tables.contains(&id) => {
                    for file in read_dir(&dir) {
                        if !referenced.contains(&file) && old(&file) {
                            let _ = std::fs::remove_file(&file);
                        }
                    }
                }
                Some(_) => {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                None => {}
            }
        }
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io("cannot flush directory", dir))
}
