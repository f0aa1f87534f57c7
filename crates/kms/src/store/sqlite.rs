//! The key store in SQLite: opening it (durability pragmas, schema and its
//! version) and running one transaction per operation.
//!
//! - WAL journal with `synchronous=FULL`: a committed change survives a power
//!   loss, so a key handed out is never lost.
//! - `secure_delete=ON`: deleted rows (destroyed key material, used import
//!   parameters) are overwritten with zeros in the database file rather than
//!   left in free pages; after destroying material the service also
//!   checkpoints and truncates the WAL ([`KeyStore::checkpoint`]), so no old
//!   copy stays in it either.
//! - Schema version in `PRAGMA user_version`; an older database is upgraded
//!   in the opening transaction, a newer one is refused, not misread.
//! - One connection behind a mutex: operations are short, and SQLite
//!   serialises writers anyway. Other processes on the same directory wait up
//!   to five seconds for the lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{KmsError, OpenError};

/// Version 1, as a new store starts.
const SCHEMA: &str = include_str!("schema.sql");
/// What takes version N to N + 1, from 1.
const UPGRADES: [&str; 1] = [include_str!("v2_key_viewers.sql")];
const SCHEMA_VERSION: i64 = 1 + UPGRADES.len() as i64;

/// The key store.
pub(crate) struct KeyStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// An open transaction; the queries are its methods (`queries.rs`).
pub(crate) struct Tx<'c> {
    pub(super) tx: rusqlite::Transaction<'c>,
}

impl KeyStore {
    /// Opens (creating if needed) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, OpenError> {
        let fail = |e: rusqlite::Error| OpenError::Database {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(fail)?;
        // First: another process opening the same store makes us wait, not fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        // The key lookups of every Encrypt / Decrypt stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        for (pragma, value) in [
            ("journal_mode", "WAL"),
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
            ("secure_delete", "ON"),
        ] {
            conn.pragma_update(None, pragma, value).map_err(fail)?;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            tx.execute_batch(SCHEMA).map_err(fail)?;
        }
        for upgrade in &UPGRADES[version.max(1) as usize - 1..] {
            tx.execute_batch(upgrade).map_err(fail)?;
        }
        if version != SCHEMA_VERSION {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a write transaction: committed if it returns `Ok`, rolled
    /// back if it returns `Err`.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.run(TransactionBehavior::Immediate, f)
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.run(TransactionBehavior::Deferred, f)
    }

    fn run<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut conn = self.lock()?;
        let tx = Tx {
            tx: conn.transaction_with_behavior(behavior).map_err(db_error)?,
        };
        let value = f(&tx)?;
        tx.tx.commit().map_err(db_error)?;
        Ok(value)
    }

    /// Moves the WAL into the database and truncates it, so that pages that
    /// held destroyed material are gone from the WAL file too.
    pub(crate) fn checkpoint(&self) -> Result<(), KmsError> {
        let conn = self.lock()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db_error)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, KmsError> {
        self.conn.lock().map_err(|_| {
            KmsError::internal("an earlier KMS call panicked while holding the key store")
        })
    }
}

/// A database failure, as the caller sees it.
pub(crate) fn db_error(e: rusqlite::Error) -> KmsError {
    KmsError::internal(format!("the KMS key store failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_keeps_the_schema_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.db");
        drop(KeyStore::open(&path).unwrap());
        drop(KeyStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = KeyStore::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer sealhouse"), "{err}");
    }

    #[test]
    fn a_version_1_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.db");
        drop(KeyStore::open(&path).unwrap());
        // What version 1 was: the same schema without key viewers.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE key_viewers").unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        drop(KeyStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let viewers: i64 = conn
            .query_row("SELECT count(*) FROM key_viewers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(viewers, 0);
    }

    #[test]
    fn an_error_rolls_the_transaction_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("kms.db")).unwrap();
        let result: Result<(), KmsError> = store.write(|tx| {
            tx.set_meta("x", b"1")?;
            Err(KmsError::invalid("stop"))
        });
        assert!(result.is_err());
        assert_eq!(store.read(|tx| tx.meta("x")).unwrap(), None);
        store.write(|tx| tx.set_meta("x", b"2")).unwrap();
        assert_eq!(store.read(|tx| tx.meta("x")).unwrap(), Some(b"2".to_vec()));
        store.checkpoint().unwrap();
    }
}
