//! Opening the SQLite store: pragmas for durability, and the schema and its
//! version (see the module documentation of `sqlite.rs`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::SqliteStore;
use super::convert::backend;
use crate::store::StoreError;

/// 1: identities; 2: the `signature_nonces` table, so that every process
/// on the data directory refuses a replayed signed request.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = include_str!("schema.sql");

/// Added in version 2.
const NONCES: &str = include_str!("nonces.sql");

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).map_err(backend)?)
    }

    /// A fresh database in memory, for tests and one-off tools.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        // First: another process opening the same store makes us wait, not fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        // A write transaction from the start: a read one that then writes
        // fails at once ("database is locked") when another process got
        // there first, instead of waiting for it.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(backend)?;
        match version {
            0 => {
                tx.execute_batch(SCHEMA).map_err(backend)?;
                tx.execute_batch(NONCES).map_err(backend)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(backend)?;
            }
            1 => {
                tx.execute_batch(NONCES).map_err(backend)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(backend)?;
            }
            SCHEMA_VERSION => {}
            other => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {other} is newer than this program's {SCHEMA_VERSION}; \
                     use a newer sealhouse"
                )));
            }
        }
        tx.commit().map_err(backend)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub(super) fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| {
            StoreError::Backend(
                "an earlier store call panicked while holding the connection".into(),
            )
        })
    }
}
