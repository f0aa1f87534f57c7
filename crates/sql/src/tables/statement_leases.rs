//! The snapshot leases of the statement a session is running.
//!
//! Resolving a table's name reads its files and leases them
//! (`Catalog::table_snapshot`); the leases live until the statement ends,
//! so a concurrent INSERT OVERWRITE, REWRITE or DROP in another session
//! cannot delete a file this statement is about to read, and deletes it
//! as soon as the statement is done (sealhouse_storage's `retired.rs`).

use std::sync::Mutex;

use sealhouse_storage::SnapshotLease;

#[derive(Debug, Default)]
pub(crate) struct StatementLeases(Mutex<Vec<SnapshotLease>>);

impl StatementLeases {
    /// Keeps `lease` until [`Self::release_all`].
    pub(crate) fn hold(&self, lease: SnapshotLease) {
        self.leases().push(lease);
    }

    /// Ends the statement's leases (after it ran, successfully or not).
    pub(crate) fn release_all(&self) {
        // Dropped outside the lock: releasing may delete retired files.
        drop(self.take_all());
    }

    /// The statement's leases, for what outlives the statement's call (a
    /// streamed query's rows); dropping them ends them.
    pub(crate) fn take_all(&self) -> Vec<SnapshotLease> {
        std::mem::take(&mut *self.leases())
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, Vec<SnapshotLease>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
