//! Data files: staging, atomic commit, listing, and removal of what
//! interrupted writes left behind.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::catalog::{Catalog, TableInfo};
use crate::integrity::block_tags::BlockTagKey;
use crate::retired::{self, RETIRED_GRACE};
use crate::sealed::{self, FileRow};
use crate::segmented::{MAX_HEADER_LEN, SegmentedHeader};
use crate::staging;
use crate::table_columns::{Widths, widest, with_widths};
use crate::{StorageAlgorithm, StorageError};

/// A committed data file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its key under the table files' location (the catalog's `files.path`):
    /// `tables/<table id>/<file id>.parquet`. [`crate::FileStore`] says where
    /// that is.
    pub key: String,
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
        file_id_of(Path::new(&self.key))
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

/// A file being written. Write it at [`StagedFile::path`] (always on the
/// local disk, in the data directory's staging), then hand it to
/// [`Catalog::commit`]; dropped, the staged file is deleted (a commit has
/// moved or uploaded it by then).
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    id: String,
    rows: u64,
    encryption: Option<StorageAlgorithm>,
    block_tags: Option<Vec<u8>>,
    widths: Vec<u32>,
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

    /// Records the mean bytes per value the writer measured of each column
    /// (0 where it did not): the commit keeps them in the table's columns
    /// ([`TableInfo::widths`]).
    pub fn set_widths(&mut self, widths: Vec<u32>) {
        self.widths = widths;
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        // Gone already when a commit moved it into the data directory.
        let _ = std::fs::remove_file(&self.path);
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
            widths: Vec::new(),
        })
    }

    /// The block-tag key of a staged plain file.
    pub fn block_tag_key(&self, staged: &StagedFile) -> BlockTagKey {
        self.key().file_tag_key(&staged.id)
    }

    /// Makes staged files part of `table`, atomically: afterwards the table
    /// holds all of them (and with [`CommitMode::Overwrite`] nothing else), or
    /// none of them if any step fails. Each file must be completely written.
    pub async fn commit(
        &self,
        table: &TableInfo,
        staged: Vec<StagedFile>,
        mode: CommitMode,
    ) -> Result<(), StorageError> {
        self.commit_files(table, staged, Replaced::ByMode(mode))
            .await
    }

    /// Replaces exactly the files `old` of `table` by `staged`, atomically:
    /// files committed since `old` was read stay. Fails with
    /// [`StorageError::TableChanged`] (committing nothing) if any file of
    /// `old` is no longer part of the table. This is how a table is
    /// rewritten in place without losing concurrent appends.
    pub async fn commit_replacing(
        &self,
        table: &TableInfo,
        old: &[DataFile],
        staged: Vec<StagedFile>,
    ) -> Result<(), StorageError> {
        self.commit_files(table, staged, Replaced::Exactly(old))
            .await
    }

    async fn commit_files(
        &self,
        table: &TableInfo,
        staged: Vec<StagedFile>,
        replaced: Replaced<'_>,
    ) -> Result<(), StorageError> {
        // Each file goes where the table files are (moved into the data
        // directory, or uploaded as a new object) before the catalog names
        // it: a write killed at any point leaves the table as it was.
        let mut placed: Vec<FileRow> = Vec::with_capacity(staged.len());
        let widths = widest(staged.iter().map(|f| &f.widths));
        let outcome = match self.place(table, &staged, &mut placed).await {
            Ok(()) => self.record(table, &placed, &widths, replaced),
            Err(e) => Err(e),
        };
        let replaced = match outcome {
            Ok(replaced) => replaced,
            Err(e) => {
                // Nothing names them; failing here leaves them for garbage
                // collection.
                let keys: Vec<String> = placed.iter().map(|f| f.path.clone()).collect();
                let _ = self.file_store().delete(&keys);
                return Err(e);
            }
        };
        drop(staged);
        // The replaced files were retired in the same transaction: what no
        // query of this process reads goes now, the rest when its last
        // reader ends. Failing only leaves them for a later open.
        let _ = self.delete_retired(&replaced);
        Ok(())
    }

    /// Places each staged file under its key, appending its catalog row to
    /// `placed`.
    async fn place(
        &self,
        table: &TableInfo,
        staged: &[StagedFile],
        placed: &mut Vec<FileRow>,
    ) -> Result<(), StorageError> {
        for file in staged {
            // Pinned from the staged file, which is what is placed.
            let pinned = match file.encryption {
                Some(StorageAlgorithm::AesCtr | StorageAlgorithm::Rc4) => {
                    segmented_header_sha256(&file.path)
                        .map_err(StorageError::io("cannot read the header of", &file.path))?
                }
                None | Some(StorageAlgorithm::Aes256) => parquet_footer_sha256(&file.path)
                    .map_err(StorageError::io("cannot read the footer of", &file.path))?,
            };
            let key = format!("tables/{}/{}.parquet", table.id, file.id);
            let bytes = self.file_store().put_staged(&file.path, &key).await?;
            placed.push(FileRow {
                path: key,
                rows: file.rows,
                bytes,
                encryption: file.encryption.map(|a| a.name().to_owned()),
                pinned,
                block_tags: file.block_tags.clone(),
            });
        }
        Ok(())
    }

    /// The transaction of a commit; the files it replaces are retired in it,
    /// and their paths (relative) returned. The table's state is checked
    /// against its MAC before it changes, and MACed again after. The new
    /// files' `widths` go into the table's columns in the same transaction.
    fn record(
        &self,
        table: &TableInfo,
        placed: &[FileRow],
        widths: &[u32],
        replaced_files: Replaced<'_>,
    ) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = || StorageError::TableChanged {
            project: table.project.clone(),
            table: table.name.clone(),
        };
        let Some((table_row, current)) = self.checked_table(&tx, table.id)? else {
            return Err(changed());
        };
        // What the cache was validated at, just now, under this lock.
        let before = tx.total_changes();
        let how = match replaced_files {
            Replaced::ByMode(CommitMode::Overwrite) => Widths::Replace,
            Replaced::ByMode(CommitMode::Append) | Replaced::Exactly(_) => Widths::Widen,
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
                    let deleted = tx
                        .prepare_cached("DELETE FROM files WHERE table_id = ?1 AND path = ?2")?
                        .execute(params![table.id, file.key])?;
                    if deleted == 0 {
                        // Dropping `tx` rolls back what was deleted so far.
                        return Err(changed());
                    }
                    replaced.push(file.key.clone());
                }
            }
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256, block_tags) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for row in placed {
            insert.execute(params![
                table.id,
                row.path,
                row.rows as i64,
                row.bytes as i64,
                row.encryption,
                row.pinned.as_ref().map(|d| d.as_slice()),
                row.block_tags,
            ])?;
        }
        drop(insert);
        let columns = with_widths(&table_row.columns, widths, how).map_err(|e| {
            StorageError::Corrupt(format!("columns of {}.{}: {e}", table.project, table.name))
        })?;
        if let Some(columns) = columns {
            tx.prepare_cached("UPDATE tables SET columns = ?2 WHERE id = ?1")?
                .execute(params![table.id, columns])?;
        }
        let sealed = sealed::reseal_table(&tx, self.key(), table.id)?;
        retired::retire(&tx, replaced.iter().map(String::as_str))?;
        tx.commit()?;
        // The state just sealed is the table's now: the next statement
        // finds it checked.
        self.changed_here(&conn, before, Some((table.id, sealed)))?;
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
                    key: f.path,
                    rows: f.rows,
                    bytes: f.bytes,
                    encryption,
                    pinned_sha256: f.pinned,
                    block_tags: f.block_tags.map(Arc::from),
                })
            })
            .collect()
    }

    /// Removes what interrupted writes and drops left behind: staging of
    /// ended processes, files retired more than the grace period ago, and
    /// files no table names (old ones of live tables, where a commit may be
    /// placing one; any of dropped tables but those retired within the
    /// grace period). A bucket is listed at most every [`BUCKET_GC_EVERY`].
    pub(crate) fn collect_garbage(&self) -> Result<(), StorageError> {
        staging::reclaim(&self.staging_dir());
        self.remove_retired(RETIRED_GRACE)?;
        if !self.file_store().location().is_local() && !self.bucket_gc_due()? {
            return Ok(());
        }
        let cutoff = SystemTime::now() - GARBAGE_AGE;
        let retired = self.recently_retired()?;
        let (tables, referenced, highest) = {
            let conn = self.conn();
            // One snapshot of the catalog. (Read apart, a table another
            // process created between reading the tables and the highest
            // id looked dropped, and the directory it was about to move its
            // first file into was removed under it.)
            let snapshot = conn.unchecked_transaction()?;
            // Table ids are never reused: one above the highest allocated
            // yet belongs to a table another process created since.
            let highest: i64 = snapshot
                .query_row(
                    "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tables'",
                    [],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let tables: HashSet<i64> = snapshot
                .prepare("SELECT id FROM tables")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let files: HashSet<String> = snapshot
                .prepare("SELECT path FROM files")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            snapshot.commit()?;
            (tables, files, highest)
        };
        let dropped = |id: i64| id <= highest && !tables.contains(&id);
        let mut doomed = Vec::new();
        for (key, modified) in self.file_store().list_table_files()? {
            let Some(id) = table_id_of_key(&key) else {
                continue;
            };
            let kept = referenced.contains(&key) || retired.contains(&key);
            if !kept && (dropped(id) || modified < cutoff) {
                doomed.push(key);
            }
        }
        let _ = self.file_store().delete(&doomed);
        if let Some(root) = self.file_store().location().local_root() {
            // Directories of dropped tables, once empty (retired files wait
            // for their time).
            for dir in read_dir(&root.join("tables")) {
                let id = dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse().ok());
                if id.is_some_and(dropped) {
                    let _ = std::fs::remove_dir(&dir);
                }
            }
        }
        Ok(())
    }

    /// Whether a bucket's unreferenced objects are due to be looked for
    /// (recording that they are being); one open in [`BUCKET_GC_EVERY`]
    /// lists the bucket, not every command.
    fn bucket_gc_due(&self) -> Result<bool, StorageError> {
        let now = crate::catalog::now();
        let conn = self.conn();
        let last: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'bucket_collected_at'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let last = last.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        if (0..BUCKET_GC_EVERY.as_secs() as i64).contains(&(now - last)) {
            return Ok(false);
        }
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('bucket_collected_at', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [now.to_string()],
        )?;
        Ok(true)
    }
}

/// How often an open lists a bucket for unreferenced objects.
const BUCKET_GC_EVERY: Duration = Duration::from_secs(600);

/// The table id in a key `tables/<id>/<name>`.
pub(crate) fn table_id_of_key(key: &str) -> Option<i64> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("tables"), Some(id), Some(_), None) => id.parse().ok(),
        _ => None,
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
