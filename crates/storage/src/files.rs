//! Data files: staging, atomic commit, listing, and removal of what
//! interrupted writes left behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{TransactionBehavior, params};

use crate::catalog::{Catalog, TableInfo};
use crate::integrity::block_tags::{BlockTagError, BlockTagKey, BlockVerifier};
use crate::retired::{self, RETIRED_GRACE};
use crate::sealed::{self, FileRow};
use crate::segmented::{MAX_HEADER_LEN, SegmentedHeader};
use crate::staging;
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
    /// The digest pinned at commit, which readers compare: SHA-256 of a
    /// Parquet file's footer region (metadata, and for encrypted files
    /// their key material and module framing), or of a segmented file's
    /// header (its wrapped data key, nonce, identity and MAC). A file put in
    /// another's place, or an older version of it, differs here. `None` for
    /// files committed before digests were pinned.
    pub pinned_sha256: Option<[u8; 32]>,
    /// The block tags of a plain file ([`crate::integrity::block_tags`]);
    /// `None` for encrypted files (their format authenticates them) and
    /// plain files committed before tags existed.
    pub block_tags: Option<Arc<[u8]>>,
}

impl DataFile {
    /// The file's id: the name it was committed under, without extension.
    pub fn file_id(&self) -> Option<&str> {
        file_id_of(&self.path)
    }
}

/// The id in a data file's name (`<id>.parquet`).
pub fn file_id_of(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.strip_suffix(".parquet")
}

/// The SHA-256 of the header of the segmented file at `path`. `None` if the
/// file does not start like a segmented file.
pub fn segmented_header_sha256(path: &Path) -> std::io::Result<Option<[u8; 32]>> {
    use std::io::Read;
    let mut prefix = Vec::with_capacity(MAX_HEADER_LEN);
    File::open(path)?
        .take(MAX_HEADER_LEN as u64)
        .read_to_end(&mut prefix)?;
    Ok(SegmentedHeader::parse(&prefix).ok().map(|h| h.sha256()))
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
    block_tags: Option<Vec<u8>>,
    committed: bool,
}

impl StagedFile {
    /// Where to write the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id the file will be committed under (its name in the table's
    /// directory): segmented files carry it in their header.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records the block tags of a plain file, written through a
    /// [`crate::integrity::block_tags::BlockTagWriter`] with
    /// [`Catalog::block_tag_key`].
    pub fn set_block_tags(&mut self, tags: Vec<u8>) {
        self.block_tags = Some(tags);
    }

    /// How many rows were written to it (as recorded).
    pub fn rows(&self) -> u64 {
        self.rows
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
    row: FileRow,
}

/// Files in staging or unreferenced in table directories younger than this
/// may belong to a write still in progress in another process.
const GARBAGE_AGE: Duration = Duration::from_secs(3600);

impl Catalog {
    /// A new file to write data into.
    pub fn stage(&self) -> Result<StagedFile, StorageError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Ok(StagedFile {
            path: self.staging_path(&format!("{id}.parquet.tmp"))?,
            id,
            rows: 0,
            encryption: None,
            block_tags: None,
            committed: false,
        })
    }

    /// The block-tag key of a staged plain file.
    pub fn block_tag_key(&self, staged: &StagedFile) -> BlockTagKey {
        self.key().file_tag_key(&staged.id)
    }

    /// The checker of a committed plain file's bytes, if it has tags.
    pub fn block_verifier(&self, file: &DataFile) -> Result<Option<BlockVerifier>, BlockTagError> {
        let (Some(tags), Some(id)) = (&file.block_tags, file.file_id()) else {
            return Ok(None);
        };
        BlockVerifier::new(self.key().file_tag_key(id), Arc::clone(tags), file.bytes).map(Some)
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
            let pinned = match file.encryption {
                Some(StorageAlgorithm::AesCtr | StorageAlgorithm::Rc4) => {
                    segmented_header_sha256(&target)
                        .map_err(StorageError::io("cannot read the header of", &target))?
                }
                None | Some(StorageAlgorithm::Aes256) => parquet_footer_sha256(&target)
                    .map_err(StorageError::io("cannot read the footer of", &target))?,
            };
            moved.push(Moved {
                row: FileRow {
                    path: self.relative(&target),
                    rows: file.rows,
                    bytes,
                    encryption: file.encryption.map(|a| a.name().to_owned()),
                    pinned,
                    block_tags: file.block_tags.clone(),
                },
                path: target,
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
        // The replaced files were retired in the same transaction: what no
        // query of this process reads goes now, the rest when its last
        // reader ends. Failing only leaves them for a later open.
        let _ = self.delete_retired(&replaced);
        Ok(())
    }

    /// The transaction of a commit; the files it replaces are retired in it,
    /// and their paths (relative) returned. The table's state is checked
    /// against its MAC before it changes, and MACed again after.
    fn record(
        &self,
        table: &TableInfo,
        moved: &[Moved],
        replaced_files: Replaced<'_>,
    ) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = || StorageError::TableChanged {
            project: table.project.clone(),
            table: table.name.clone(),
        };
        let Some((_, current)) = self.checked_table(&tx, table.id)? else {
            return Err(changed());
        };
        let mut replaced = Vec::new();
        match replaced_files {
            Replaced::ByMode(CommitMode::Append) => {}
            Replaced::ByMode(CommitMode::Overwrite) => {
                replaced.extend(current.iter().map(|f| f.path.clone()));
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
                        return Err(changed());
                    }
                    replaced.push(relative);
                }
            }
        }
        for file in moved {
            let row = &file.row;
            tx.execute(
                "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256, block_tags) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    table.id,
                    row.path,
                    row.rows as i64,
                    row.bytes as i64,
                    row.encryption,
                    row.pinned.as_ref().map(|d| d.as_slice()),
                    row.block_tags,
                ],
            )?;
        }
        sealed::reseal_table(&tx, self.key(), table.id)?;
        retired::retire(&tx, replaced.iter().map(String::as_str))?;
        tx.commit()?;
        Ok(replaced)
    }

    /// The files of a table as of now, checked against the table's MAC.
    pub fn files(&self, table: &TableInfo) -> Result<Vec<DataFile>, StorageError> {
        let checked = {
            let conn = self.conn();
            self.checked_table(&conn, table.id)?
        };
        let Some((row, files)) = checked else {
            return Err(StorageError::TableChanged {
                project: table.project.clone(),
                table: table.name.clone(),
            });
        };
        if row.project != table.project || row.name != table.name {
            return Err(StorageError::TableChanged {
                project: table.project.clone(),
                table: table.name.clone(),
            });
        }
        self.data_files(files)
    }

    /// The catalog's rows of files as [`DataFile`]s.
    pub(crate) fn data_files(&self, files: Vec<FileRow>) -> Result<Vec<DataFile>, StorageError> {
        files
            .into_iter()
            .map(|f| {
                let encryption = f
                    .encryption
                    .map(|name| name.parse::<StorageAlgorithm>())
                    .transpose()
                    .map_err(|e| StorageError::Corrupt(format!("file {}: {e}", f.path)))?;
                Ok(DataFile {
                    path: self.root().join(&f.path),
                    rows: f.rows,
                    bytes: f.bytes,
                    encryption,
                    pinned_sha256: f.pinned,
                    block_tags: f.block_tags.map(Arc::from),
                })
            })
            .collect()
    }

    /// A path as the catalog records it: relative to the data directory.
    pub(crate) fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.root())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// Removes what interrupted writes and drops left behind: staging of
    /// ended processes, files retired more than the grace period ago, and
    /// files no table names (old ones in live tables' directories, where a
    /// commit may be moving one in; any in dropped tables' directories but
    /// those retired within the grace period).
    pub(crate) fn collect_garbage(&self) -> Result<(), StorageError> {
        staging::reclaim(&self.staging_dir());
        self.remove_retired(RETIRED_GRACE)?;
        let cutoff = SystemTime::now() - GARBAGE_AGE;
        let old = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map(|t| t < cutoff)
                .unwrap_or(false)
        };
        let retired = self.recently_retired()?;
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
            let Some(id) = id else { continue };
            let live = tables.contains(&id);
            for file in read_dir(&dir) {
                let kept = referenced.contains(&file) || retired.contains(&file);
                if !kept && (!live || old(&file)) {
                    let _ = std::fs::remove_file(&file);
                }
            }
            if !live {
                // Only once empty: retired files wait for their time.
                let _ = std::fs::remove_dir(&dir);
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
