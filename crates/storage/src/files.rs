//! Data files: staging, atomic commit, listing, and removal of what
//! interrupted writes left behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{TransactionBehavior, params};

use crate::catalog::{Catalog, TableInfo};
use crate::{StorageAlgorithm, StorageError};

/// A committed data file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Rows it holds.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// How it is encrypted; `None`: plain Parquet.
    pub encryption: Option<StorageAlgorithm>,
    /// SHA-256 of a Parquet file's footer region (metadata, and for
    /// encrypted files their plaintext key material and module framing),
    /// taken at commit: readers compare it, so a damaged or swapped footer
    /// is caught even where the format authenticates nothing. `None` for
    /// segmented files (authenticated whole) and files committed before.
    pub footer_sha256: Option<[u8; 32]>,
}

/// The SHA-256 of the footer region of the Parquet file at `path`: the
/// footer (as its last 8 bytes say) and those 8 bytes. `None` if the file
/// does not end like a Parquet file.
pub fn parquet_footer_sha256(path: &Path) -> std::io::Result<Option<[u8; 32]>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < 12 {
        return Ok(None);
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))?;
    file.read_exact(&mut tail)?;
    if &tail[4..] != b"PAR1" && &tail[4..] != b"PARE" {
        return Ok(None);
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer + 12 > len {
        return Ok(None);
    }
    let mut region = vec![0u8; (footer + 8) as usize];
    file.seek(SeekFrom::Start(len - 8 - footer))?;
    file.read_exact(&mut region)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &region);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Ok(Some(out))
}

/// A file being written. Write it at [`StagedFile::path`], then hand it to
/// [`Catalog::commit`]; dropped without commit, it is deleted.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    id: String,
    rows: u64,
    encryption: Option<StorageAlgorithm>,
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

    /// Records how the file was encrypted (`None`, the default: plain Parquet).
    pub fn set_encryption(&mut self, encryption: Option<StorageAlgorithm>) {
        self.encryption = encryption;
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

/// Which files a commit replaces.
enum Replaced<'a> {
    /// None (append) or all (overwrite).
    ByMode(CommitMode),
    /// Exactly these, which must all still be part of the table.
    Exactly(&'a [DataFile]),
}

/// A staged file moved into its table's directory, not yet recorded.
struct Moved {
    path: PathBuf,
    rows: u64,
    bytes: u64,
    encryption: Option<StorageAlgorithm>,
    footer_sha256: Option<[u8; 32]>,
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
            encryption: None,
            committed: false,
        })
    }

    /// Makes staged files part of `table`, atomically: afterwards the table
    /// holds all of them (and with [`CommitMode::Overwrite`] nothing else), or
    /// none of them if any step fails. Each file must be completely written.
    pub fn commit(
        &self,
        table: &TableInfo,
        staged: Vec<StagedFile>,
        mode: CommitMode,
    ) -> Result<(), StorageError> {
        self.commit_files(table, staged, Replaced::ByMode(mode))
    }

    /// Replaces exactly the files `old` of `table` by `staged`, atomically:
    /// files committed since `old` was read stay. Fails with
    /// [`StorageError::TableChanged`] (committing nothing) if any file of
    /// `old` is no longer part of the table. This is how a table is
    /// rewritten in place without losing concurrent appends.
    pub fn commit_replacing(
        &self,
        table: &TableInfo,
        old: &[DataFile],
        staged: Vec<StagedFile>,
    ) -> Result<(), StorageError> {
        self.commit_files(table, staged, Replaced::Exactly(old))
    }

    fn commit_files(
        &self,
        table: &TableInfo,
        mut staged: Vec<StagedFile>,
        replaced: Replaced<'_>,
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
            let footer_sha256 = parquet_footer_sha256(&target)
                .map_err(StorageError::io("cannot read the footer of", &target))?;
            moved.push(Moved {
                path: target,
                rows: file.rows,
                bytes,
                encryption: file.encryption,
                footer_sha256,
            });
        }
        sync_dir(&dir)?;
        let replaced = match self.record(table, &moved, replaced) {
            Ok(replaced) => replaced,
            Err(e) => {
                for file in &moved {
                    let _ = std::fs::remove_file(&file.path);
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
        moved: &[Moved],
        replaced_files: Replaced<'_>,
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
        match replaced_files {
            Replaced::ByMode(CommitMode::Append) => {}
            Replaced::ByMode(CommitMode::Overwrite) => {
                let mut stmt = tx.prepare("SELECT path FROM files WHERE table_id = ?1")?;
                let paths = stmt.query_map([table.id], |r| r.get::<_, String>(0))?;
                for p in paths {
                    replaced.push(self.root().join(p?));
                }
                drop(stmt);
                tx.execute("DELETE FROM files WHERE table_id = ?1", [table.id])?;
            }
            Replaced::Exactly(old) => {
                for file in old {
                    let relative = self.relative(&file.path);
                    let deleted = tx.execute(
                        "DELETE FROM files WHERE table_id = ?1 AND path = ?2",
                        params![table.id, relative],
                    )?;
                    if deleted == 0 {
                        // Dropping `tx` rolls back what was deleted so far.
                        return Err(StorageError::TableChanged {
                            project: table.project.clone(),
                            table: table.name.clone(),
                        });
                    }
                    replaced.push(file.path.clone());
                }
            }
        }
        for file in moved {
            tx.execute(
                "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    table.id,
                    self.relative(&file.path),
                    file.rows as i64,
                    file.bytes as i64,
                    file.encryption.map(StorageAlgorithm::name),
                    file.footer_sha256.as_ref().map(|d| d.as_slice()),
                ],
            )?;
        }
        tx.commit()?;
        Ok(replaced)
    }

    /// The files of a table as of now.
    pub fn files(&self, table: &TableInfo) -> Result<Vec<DataFile>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT path, rows, bytes, encryption, footer_sha256 FROM files \
             WHERE table_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([table.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (path, rows, bytes, encryption, digest) = row?;
            let footer_sha256 = digest
                .map(|d| <[u8; 32]>::try_from(d.as_slice()))
                .transpose()
                .map_err(|_| StorageError::Corrupt(format!("file {path}: footer digest length")))?;
            let encryption = encryption
                .map(|name| name.parse::<StorageAlgorithm>())
                .transpose()
                .map_err(|e| StorageError::Corrupt(format!("file {path}: {e}")))?;
            Ok(DataFile {
                path: self.root().join(path),
                rows: rows as u64,
                bytes: bytes as u64,
                encryption,
                footer_sha256,
            })
        })
        .collect()
    }

    /// A path as the catalog records it: relative to the data directory.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.root())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
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
