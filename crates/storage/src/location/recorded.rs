//! The location a data directory records for its table files.
//!
//! A catalog on the local disk records nothing (every catalog made before
//! object storage is one). A catalog whose files are in a bucket records
//! the bucket's URL in `meta.storage_url`, and its seal is then made over
//! that URL ([`CatalogKey::seal_at`]): deleting or changing the row fails
//! the seal check on the next open, so nobody without the catalog key can
//! turn the data directory towards another bucket or back to the local disk.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::StorageLocation;
use crate::StorageError;
use crate::integrity::CatalogKey;

/// Whether a location must still be recorded ([`record_location`]) once
/// it has been found to answer.
pub(crate) type ToRecord = bool;

/// The location of the catalog's table files. `requested`
/// (`--storage-url`) must be the one recorded, if any; `None` takes
/// whatever is recorded. A bucket asked for by a catalog that records
/// none and holds no table yet is returned with `true`: record it with
/// [`record_location`] once it answers, so a failed open records nothing.
pub(crate) fn settle_location(
    conn: &mut Connection,
    root: &Path,
    requested: Option<&StorageLocation>,
) -> Result<(StorageLocation, ToRecord), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let location = match (recorded_url(&tx)?, requested) {
        (Some(url), requested) => {
            let at = StorageLocation::parse_url(&url).map_err(|_| {
                StorageError::Corrupt(format!("the recorded storage URL '{url}' does not parse"))
            })?;
            if let Some(requested) = requested.filter(|r| **r != at) {
                return Err(StorageError::InvalidSetting(format!(
                    "the data directory {} keeps its tables at {at}, not {}: open it without --storage-url (or with {at}), or give a new data directory for {}",
                    root.display(),
                    describe(requested),
                    describe(requested)
                )));
            }
            (at, false)
        }
        (None, None | Some(StorageLocation::Local(_))) => {
            (StorageLocation::Local(root.to_owned()), false)
        }
        (None, Some(bucket)) => {
            // Checked again when recording (another process may create a
            // table meanwhile); here it fails before any request.
            refuse_if_tables(&tx, root, bucket)?;
            (bucket.clone(), true)
        }
    };
    tx.commit()?;
    Ok(location)
}

/// Records `bucket` as the catalog's location and binds its seal to it,
/// unless another process did first (then it must be the same bucket).
pub(crate) fn record_location(
    conn: &mut Connection,
    key: &CatalogKey,
    root: &Path,
    bucket: &StorageLocation,
) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let url = bucket.url();
    match recorded_url(&tx)? {
        Some(recorded) if recorded == url => return Ok(()),
        Some(recorded) => {
            return Err(StorageError::InvalidSetting(format!(
                "the data directory {} keeps its tables at {recorded}, not {url}",
                root.display()
            )));
        }
        None => {}
    }
    refuse_if_tables(&tx, root, bucket)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('storage_url', ?1)",
        [&url],
    )?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'seal'",
        [key.seal_at(Some(&url)).as_slice()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Refuses to record `bucket` for a catalog that already keeps tables on
/// the local disk.
fn refuse_if_tables(
    conn: &Connection,
    root: &Path,
    bucket: &StorageLocation,
) -> Result<(), StorageError> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM tables", [], |r| r.get(0))?;
    if tables > 0 {
        return Err(StorageError::InvalidSetting(format!(
            "the data directory {} keeps its tables on the local disk and cannot move them to {bucket}; give a new data directory for tables on {bucket}",
            root.display()
        )));
    }
    Ok(())
}

/// The URL recorded in `meta`, if any.
pub(crate) fn recorded_url(conn: &Connection) -> Result<Option<String>, StorageError> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'storage_url'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

fn describe(location: &StorageLocation) -> String {
    match location {
        StorageLocation::Local(_) => "the local disk".into(),
        StorageLocation::S3 { .. } => location.url(),
    }
}
