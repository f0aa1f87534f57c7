//! The SQLite store.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed change
//! survives a power cut, not only a process crash. Identity changes are rare
//! and small, so the extra fsync per commit costs nothing that matters.
//! Foreign keys are on; every method runs in one transaction. The schema
//! version lives in `PRAGMA user_version`; a database from a newer version is
//! refused rather than misread. One connection behind a mutex: calls are short
//! and SQLite serialises writers anyway.

use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{Store, StoreError};
use crate::arn::Arn;
use crate::model::{
    AccessKeyRecord, AccessKeyStatus, Account, AttachTarget, CustomPolicy, PolicyRef, Role,
    StsSessionRecord, User,
};
use crate::names::{self, AccountId};

mod convert;
mod open;
use convert::{
    RoleRow, StsRow, access_key_row, account_id, backend, corrupt, from_ts, insert_err, insert_key,
    policy_key, principal, principal_text, ts,
};

/// Identity records in one SQLite database file (or in memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl Store for SqliteStore {
    fn insert_account(
        &self,
        account: &Account,
        root_key: &AccessKeyRecord,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(backend)?;
        tx.execute(
            "INSERT INTO accounts (uid, created_at) VALUES (?1, ?2)",
            params![account.id.as_str(), ts(account.created_at)],
        )
        .map_err(insert_err("account", account.id.to_string()))?;
        insert_key(&tx, root_key)?;
        tx.commit().map_err(backend)
    }

    fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let conn = self.lock()?;
        let created: Option<i64> = conn
            .prepare_cached("SELECT created_at FROM accounts WHERE uid = ?1")
            .map_err(backend)?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        created
            .map(|c| {
                Ok(Account {
                    id: id.clone(),
                    created_at: from_ts(c)?,
                })
            })
            .transpose()
    }

    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO users (account, name_key, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    user.account.as_str(),
                    names::canonical(&user.name),
                    user.name,
                    ts(user.created_at)
                ],
            )
            .map(drop)
            .map_err(insert_err("user", user.arn().to_string()))
    }

    fn user(&self, account: &AccountId, name: &str) -> Result<Option<User>, StoreError> {
        let conn = self.lock()?;
        let row: Option<(String, i64)> = conn
            .query_row(
                "SELECT name, created_at FROM users WHERE account = ?1 AND name_key = ?2",
                params![account.as_str(), names::canonical(name)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(backend)?;
        row.map(|(name, c)| {
            Ok(User {
                account: account.clone(),
                name,
                created_at: from_ts(c)?,
            })
        })
        .transpose()
    }

    fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), StoreError> {
        let conn = self.lock()?;
        insert_key(&conn, key)
    }

    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let conn = self.lock()?;
        let row = conn
            .query_row(
                "SELECT id, owner, status, sealed_secret, created_at FROM access_keys WHERE id = ?1",
                [id],
                access_key_row,
            )
            .optional()
            .map_err(backend)?;
        row.map(|(id, owner, status, sealed_secret, created)| {
            Ok(AccessKeyRecord {
                owner: principal(&owner)?,
                status: AccessKeyStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("access key {id} has status '{status}'")))?,
                id,
                sealed_secret,
                created_at: from_ts(created)?,
            })
        })
        .transpose()
    }

    fn set_access_key_status(&self, id: &str, status: AccessKeyStatus) -> Result<(), StoreError> {
        let changed = self
            .lock()?
            .execute(
                "UPDATE access_keys SET status = ?2 WHERE id = ?1",
                params![id, status.as_str()],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                kind: "access key",
                name: id.to_owned(),
            });
        }
        Ok(())
    }

    fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO roles (account, name_key, name, trust_policy, max_session_duration, \
                 description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    role.account.as_str(),
                    names::canonical(&role.name),
                    role.name,
                    role.trust_policy,
                    role.max_session_duration,
                    role.description,
                    ts(role.created_at)
                ],
            )
            .map(drop)
            .map_err(insert_err("role", role.arn().to_string()))
    }

    fn role(&self, account: &AccountId, name: &str) -> Result<Option<Role>, StoreError> {
        let conn = self.lock()?;
        let row: Option<RoleRow> = conn
            .query_row(
                "SELECT account, name, trust_policy, description, max_session_duration, created_at \
                 FROM roles WHERE account = ?1 AND name_key = ?2",
                params![account.as_str(), names::canonical(name)],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(backend)?;
        row.map(|(account, name, trust_policy, description, max, created)| {
            Ok(Role {
                account: account_id(account)?,
                name,
                trust_policy,
                max_session_duration: max,
                description,
                created_at: from_ts(created)?,
            })
        })
        .transpose()
    }

    fn set_role_trust_policy(
        &self,
        account: &AccountId,
        name: &str,
        trust_policy: &str,
    ) -> Result<(), StoreError> {
        let changed = self
            .lock()?
            .execute(
                "UPDATE roles SET trust_policy = ?3 WHERE account = ?1 AND name_key = ?2",
                params![account.as_str(), names::canonical(name), trust_policy],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                kind: "role",
                name: Arn::role(account, name).to_string(),
            });
        }
        Ok(())
    }

    fn insert_policy(&self, policy: &CustomPolicy) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO policies (account, name, description, document, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    policy.account.as_str(),
                    policy.name,
                    policy.description,
                    policy.document,
                    ts(policy.created_at)
                ],
            )
            .map(drop)
            .map_err(insert_err(
                "policy",
                format!("{} of account {}", policy.name, policy.account),
            ))
    }

    fn policy(&self, account: &AccountId, name: &str) -> Result<Option<CustomPolicy>, StoreError> {
        let conn = self.lock()?;
        let row: Option<(String, String, i64)> = conn
            .query_row(
                "SELECT description, document, created_at FROM policies WHERE account = ?1 AND name = ?2",
                params![account.as_str(), name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(backend)?;
        row.map(|(description, document, created)| {
            Ok(CustomPolicy {
                account: account.clone(),
                name: name.to_owned(),
                description,
                document,
                created_at: from_ts(created)?,
            })
        })
        .transpose()
    }

    fn attach(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), StoreError> {
        let (p_account, p_name) = policy_key(policy);
        self.lock()?
            .execute(
                "INSERT INTO attachments (target_kind, target_account, target_name_key, \
                 policy_account, policy_name) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    target.kind(),
                    target.account().as_str(),
                    target.name_key(),
                    p_account,
                    p_name
                ],
            )
            .map(drop)
            .map_err(insert_err(
                "attachment",
                format!("of {policy} to {}", target.arn()),
            ))
    }

    fn detach(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), StoreError> {
        let (p_account, p_name) = policy_key(policy);
        let changed = self
            .lock()?
            .execute(
                "DELETE FROM attachments WHERE target_kind = ?1 AND target_account = ?2 AND \
                 target_name_key = ?3 AND policy_account = ?4 AND policy_name = ?5",
                params![
                    target.kind(),
                    target.account().as_str(),
                    target.name_key(),
                    p_account,
                    p_name
                ],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                kind: "attachment",
                name: format!("of {policy} to {}", target.arn()),
            });
        }
        Ok(())
    }

    fn attached(&self, target: &AttachTarget) -> Result<Vec<PolicyRef>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT policy_account, policy_name FROM attachments WHERE target_kind = ?1 AND \
                 target_account = ?2 AND target_name_key = ?3 ORDER BY rowid",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![target.kind(), target.account().as_str(), target.name_key()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(backend)?;
        rows.map(|row| {
            let (account, name) = row.map_err(backend)?;
            Ok(if account.is_empty() {
                PolicyRef::System(name)
            } else {
                PolicyRef::Custom {
                    account: account_id(account)?,
                    name,
                }
            })
        })
        .collect()
    }

    fn insert_sts_session(&self, s: &StsSessionRecord) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO sts_sessions (access_key_id, principal, sealed_secret, token_sha256, \
                 expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    s.access_key_id,
                    principal_text(&s.principal)?,
                    s.sealed_secret,
                    s.token_sha256.as_slice(),
                    ts(s.expires_at),
                    ts(s.created_at)
                ],
            )
            .map(drop)
            .map_err(insert_err("STS access key", s.access_key_id.clone()))
    }

    fn sts_session(&self, access_key_id: &str) -> Result<Option<StsSessionRecord>, StoreError> {
        let conn = self.lock()?;
        let row: Option<StsRow> = conn
            .query_row(
                "SELECT principal, sealed_secret, token_sha256, expires_at, created_at \
                 FROM sts_sessions WHERE access_key_id = ?1",
                [access_key_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(backend)?;
        row.map(|(p, sealed_secret, token, expires, created)| {
            Ok(StsSessionRecord {
                access_key_id: access_key_id.to_owned(),
                principal: principal(&p)?,
                sealed_secret,
                token_sha256: token.try_into().map_err(|_| {
                    corrupt(format!(
                        "STS access key {access_key_id} has a bad token hash"
                    ))
                })?,
                expires_at: from_ts(expires)?,
                created_at: from_ts(created)?,
            })
        })
        .transpose()
    }

    fn delete_expired_sts_sessions(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        self.lock()?
            .execute("DELETE FROM sts_sessions WHERE expires_at < ?1", [ts(now)])
            .map_err(backend)
    }

    fn record_nonce(
        &self,
        digest: &[u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        // A few expired nonces go with each new one, so the table stays
        // about one window's requests without a sweeper.
        tx.execute(
            "DELETE FROM signature_nonces WHERE digest IN \
             (SELECT digest FROM signature_nonces WHERE expires_at <= ?1 LIMIT 16)",
            [now],
        )
        .map_err(backend)?;
        // An expired entry for the same digest is taken over; an unexpired
        // one is left alone, and no row changes: a replay.
        let changed = tx
            .execute(
                "INSERT INTO signature_nonces (digest, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE signature_nonces.expires_at <= ?3",
                params![digest.as_slice(), expires_at, now],
            )
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
