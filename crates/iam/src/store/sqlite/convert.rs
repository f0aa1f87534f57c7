//! Conversions between records and rows, and from SQLite errors to store
//! errors, for `sqlite.rs`.

use rusqlite::{Connection, ErrorCode, Row, params};
use time::OffsetDateTime;

use crate::arn::Arn;
use crate::model::{AccessKeyRecord, PolicyRef};
use crate::names::AccountId;
use crate::principal::Principal;
use crate::store::StoreError;

pub(super) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Maps a uniqueness violation to `AlreadyExists`, anything else to `Backend`.
pub(super) fn insert_err(
    kind: &'static str,
    name: String,
) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == ErrorCode::ConstraintViolation
                && matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                ) =>
        {
            StoreError::AlreadyExists { kind, name }
        }
        _ => backend(e),
    }
}

pub(super) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(super) fn from_ts(secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(corrupt)
}

pub(super) fn account_id(text: String) -> Result<AccountId, StoreError> {
    AccountId::new(&text).map_err(corrupt)
}

pub(super) fn principal(text: &str) -> Result<Principal, StoreError> {
    Arn::parse(text)
        .ok()
        .and_then(|arn| Principal::from_arn(&arn))
        .ok_or_else(|| corrupt(format!("'{text}' is not a principal ARN")))
}

pub(super) fn principal_text(p: &Principal) -> Result<String, StoreError> {
    p.arn()
        .map(|a| a.to_string())
        .ok_or_else(|| StoreError::Backend("a service principal cannot own credentials".into()))
}

/// The stored form of a policy reference: (account or "" for system, name).
pub(super) fn policy_key(p: &PolicyRef) -> (&str, &str) {
    match p {
        PolicyRef::System(name) => ("", name),
        PolicyRef::Custom { account, name } => (account.as_str(), name),
    }
}

pub(super) fn access_key_row(
    r: &Row<'_>,
) -> rusqlite::Result<(String, String, String, Vec<u8>, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

pub(super) type RoleRow = (String, String, String, String, u32, i64);
pub(super) type StsRow = (String, Vec<u8>, Vec<u8>, i64, i64);

pub(super) fn insert_key(conn: &Connection, key: &AccessKeyRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO access_keys (id, owner, status, sealed_secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.id,
            principal_text(&key.owner)?,
            key.status.as_str(),
            key.sealed_secret,
            ts(key.created_at)
        ],
    )
    .map(drop)
    .map_err(insert_err("access key", key.id.clone()))
}
