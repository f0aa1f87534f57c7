//! Key, version and metadata rows of the key store, read and written inside a
//! transaction ([`Tx`]); aliases and import parameters are in `alias_rows.rs`.
//! Parsing stored text back into types fails closed: a row that no longer
//! parses is an internal failure naming the row, never a silent default.

use rusqlite::{OptionalExtension, Row, params};
use sealhouse_iam::AccountId;
use uuid::Uuid;

use super::sqlite::{Tx, db_error};
use super::{KeyRecord, VersionRecord};
use crate::api::{KeySpec, KeyState, KeyUsage, Origin, RotationInterval};
use crate::error::KmsError;

const KEY_COLUMNS: &str = "key_id, account, region, description, origin, state, created_at, \
     delete_date, deleted_at, rotation_interval, last_rotation_date, next_rotation_date, \
     material_expire_time, material_fingerprint, primary_version";

/// A key row as stored, before parsing.
struct RawKey {
    key_id: String,
    account: String,
    region: String,
    description: String,
    origin: String,
    state: String,
    created_at: i64,
    delete_date: Option<i64>,
    deleted_at: Option<i64>,
    rotation_interval: Option<i64>,
    last_rotation_date: Option<i64>,
    next_rotation_date: Option<i64>,
    material_expire_time: Option<i64>,
    material_fingerprint: Option<Vec<u8>>,
    primary_version: Option<String>,
}

impl RawKey {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key_id: r.get(0)?,
            account: r.get(1)?,
            region: r.get(2)?,
            description: r.get(3)?,
            origin: r.get(4)?,
            state: r.get(5)?,
            created_at: r.get(6)?,
            delete_date: r.get(7)?,
            deleted_at: r.get(8)?,
            rotation_interval: r.get(9)?,
            last_rotation_date: r.get(10)?,
            next_rotation_date: r.get(11)?,
            material_expire_time: r.get(12)?,
            material_fingerprint: r.get(13)?,
            primary_version: r.get(14)?,
        })
    }

    fn parse(self) -> Result<KeyRecord, KmsError> {
        let damaged = |what: &str| {
            KmsError::internal(format!(
                "the stored key {} has a damaged {what}; the KMS database needs repair",
                self.key_id
            ))
        };
        Ok(KeyRecord {
            account: AccountId::new(&self.account).map_err(|_| damaged("account"))?,
            origin: Origin::parse(&self.origin).map_err(|_| damaged("origin"))?,
            state: KeyState::parse(&self.state).map_err(|_| damaged("state"))?,
            rotation_interval: self
                .rotation_interval
                .map(RotationInterval::from_seconds)
                .transpose()
                .map_err(|_| damaged("rotation interval"))?,
            primary_version: self
                .primary_version
                .as_deref()
                .map(Uuid::parse_str)
                .transpose()
                .map_err(|_| damaged("primary version"))?,
            region: self.region,
            description: self.description,
            created_at: self.created_at,
            delete_date: self.delete_date,
            deleted_at: self.deleted_at,
            last_rotation_date: self.last_rotation_date,
            next_rotation_date: self.next_rotation_date,
            material_expire_time: self.material_expire_time,
            material_fingerprint: self.material_fingerprint,
            key_id: self.key_id,
        })
    }
}

/// A version row as stored: key id, version id, seq, created at, sealed material.
type RawVersion = (String, String, i64, i64, Option<Vec<u8>>);

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<RawVersion> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn parse_version(
    (key_id, version, seq, created_at, sealed_material): RawVersion,
) -> Result<VersionRecord, KmsError> {
    let version_id = Uuid::parse_str(&version).map_err(|_| {
        KmsError::internal(format!("a stored version id of key {key_id} is damaged"))
    })?;
    Ok(VersionRecord {
        key_id,
        version_id,
        seq,
        created_at,
        sealed_material,
    })
}

/// An offset for SQL (pages past `i64::MAX` rows are simply empty).
pub(super) fn sql_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

pub(super) fn account_of(text: String) -> Result<AccountId, KmsError> {
    AccountId::new(&text).map_err(|_| KmsError::internal("a stored account id is damaged"))
}

impl Tx<'_> {
    /// A metadata value.
    pub(crate) fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, KmsError> {
        self.tx
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_error)
    }

    /// Sets a metadata value.
    pub(crate) fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), KmsError> {
        self.tx
            .execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// A key (tombstones included).
    pub(crate) fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, KmsError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1");
        self.tx
            .prepare_cached(&sql)
            .map_err(db_error)?
            .query_row([key_id], RawKey::from_row)
            .optional()
            .map_err(db_error)?
            .map(RawKey::parse)
            .transpose()
    }

    /// Inserts a new key.
    pub(crate) fn insert_key(&self, k: &KeyRecord) -> Result<(), KmsError> {
        let sql = format!(
            "INSERT INTO keys ({KEY_COLUMNS}, key_spec, key_usage)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        );
        self.tx
            .execute(
                &sql,
                params![
                    k.key_id,
                    k.account.as_str(),
                    k.region,
                    k.description,
                    k.origin.as_str(),
                    k.state.as_str(),
                    k.created_at,
                    k.delete_date,
                    k.deleted_at,
                    k.rotation_interval.map(RotationInterval::seconds),
                    k.last_rotation_date,
                    k.next_rotation_date,
                    k.material_expire_time,
                    k.material_fingerprint,
                    k.primary_version.map(|v| v.to_string()),
                    KeySpec::Aes256.as_str(),
                    KeyUsage::EncryptDecrypt.as_str(),
                ],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// The region of some key of the store (they are all in one), if any.
    pub(crate) fn any_key_region(&self) -> Result<Option<String>, KmsError> {
        self.tx
            .query_row("SELECT region FROM keys LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(db_error)
    }

    /// Lets `account` describe the key `key_id` (never use it).
    pub(crate) fn insert_viewer(&self, key_id: &str, account: &AccountId) -> Result<(), KmsError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO key_viewers (key_id, account) VALUES (?1, ?2)",
                params![key_id, account.as_str()],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// Whether `account` may describe the key `key_id`.
    pub(crate) fn is_viewer(&self, key_id: &str, account: &AccountId) -> Result<bool, KmsError> {
        self.tx
            .query_row(
                "SELECT 1 FROM key_viewers WHERE key_id = ?1 AND account = ?2",
                params![key_id, account.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    }

    /// Writes every mutable field of a key.
    pub(crate) fn update_key(&self, k: &KeyRecord) -> Result<(), KmsError> {
        self.tx
            .execute(
                "UPDATE keys SET description = ?2, state = ?3, delete_date = ?4, deleted_at = ?5,
                     rotation_interval = ?6, last_rotation_date = ?7, next_rotation_date = ?8,
                     material_expire_time = ?9, material_fingerprint = ?10, primary_version = ?11
                 WHERE key_id = ?1",
                params![
                    k.key_id,
                    k.description,
                    k.state.as_str(),
                    k.delete_date,
                    k.deleted_at,
                    k.rotation_interval.map(RotationInterval::seconds),
                    k.last_rotation_date,
                    k.next_rotation_date,
                    k.material_expire_time,
                    k.material_fingerprint,
                    k.primary_version.map(|v| v.to_string()),
                ],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// A page of an account's live keys in a region, oldest first, and the total.
    pub(crate) fn keys_page(
        &self,
        account: &AccountId,
        region: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<KeyRecord>, u64), KmsError> {
        let total: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM keys
                 WHERE account = ?1 AND region = ?2 AND deleted_at IS NULL",
                params![account.as_str(), region],
                |r| r.get(0),
            )
            .map_err(db_error)?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM keys
             WHERE account = ?1 AND region = ?2 AND deleted_at IS NULL
             ORDER BY created_at, key_id LIMIT ?3 OFFSET ?4"
        );
        let mut stmt = self.tx.prepare(&sql).map_err(db_error)?;
        let rows = stmt
            .query_map(
                params![account.as_str(), region, limit, sql_offset(offset)],
                RawKey::from_row,
            )
            .map_err(db_error)?;
        let mut keys = Vec::new();
        for raw in rows {
            keys.push(raw.map_err(db_error)?.parse()?);
        }
        Ok((keys, u64::try_from(total).unwrap_or(0)))
    }

    /// Ids of live keys with maintenance due at `now`: deletion, automatic
    /// rotation, or expiry of imported material.
    pub(crate) fn keys_due(&self, now: i64) -> Result<Vec<String>, KmsError> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT key_id FROM keys WHERE deleted_at IS NULL AND (
                     (state = 'PendingDeletion' AND delete_date <= ?1)
                     OR (state <> 'PendingDeletion' AND rotation_interval IS NOT NULL
                         AND next_rotation_date <= ?1)
                     OR (state <> 'PendingDeletion' AND material_expire_time <= ?1))
                 ORDER BY key_id",
            )
            .map_err(db_error)?;
        let ids = stmt
            .query_map([now], |r| r.get(0))
            .map_err(db_error)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(db_error)?;
        Ok(ids)
    }

    /// A key's versions, oldest first.
    pub(crate) fn versions(&self, key_id: &str) -> Result<Vec<VersionRecord>, KmsError> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT key_id, version_id, seq, created_at, sealed_material FROM key_versions
                 WHERE key_id = ?1 ORDER BY seq",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map([key_id], version_from_row)
            .map_err(db_error)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(parse_version(row.map_err(db_error)?)?);
        }
        Ok(out)
    }

    /// One version of a key.
    pub(crate) fn version(
        &self,
        key_id: &str,
        version_id: Uuid,
    ) -> Result<Option<VersionRecord>, KmsError> {
        self.tx
            .prepare_cached(
                "SELECT key_id, version_id, seq, created_at, sealed_material FROM key_versions
                 WHERE key_id = ?1 AND version_id = ?2",
            )
            .map_err(db_error)?
            .query_row(params![key_id, version_id.to_string()], version_from_row)
            .optional()
            .map_err(db_error)?
            .map(parse_version)
            .transpose()
    }

    /// Inserts a version.
    pub(crate) fn insert_version(&self, v: &VersionRecord) -> Result<(), KmsError> {
        self.tx
            .execute(
                "INSERT INTO key_versions (key_id, version_id, seq, created_at, sealed_material)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    v.key_id,
                    v.version_id.to_string(),
                    v.seq,
                    v.created_at,
                    v.sealed_material
                ],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// Replaces (or, with `None`, destroys) a version's sealed material.
    pub(crate) fn set_version_material(
        &self,
        key_id: &str,
        version_id: Uuid,
        sealed: Option<&[u8]>,
    ) -> Result<(), KmsError> {
        self.tx
            .execute(
                "UPDATE key_versions SET sealed_material = ?3
                 WHERE key_id = ?1 AND version_id = ?2",
                params![key_id, version_id.to_string(), sealed],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// Destroys every version of a key, with its material.
    pub(crate) fn delete_versions(&self, key_id: &str) -> Result<usize, KmsError> {
        self.tx
            .execute("DELETE FROM key_versions WHERE key_id = ?1", [key_id])
            .map_err(db_error)
    }
}
