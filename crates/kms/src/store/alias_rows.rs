//! Alias and import-parameter rows, read and written inside a transaction
//! ([`Tx`]).

use rusqlite::{OptionalExtension, params};
use sealhouse_iam::AccountId;

use super::queries::{account_of, sql_offset};
use super::sqlite::{Tx, db_error};
use super::{AliasRecord, ImportParamsRecord};
use crate::error::KmsError;

impl Tx<'_> {
    /// An alias of an account in a region.
    pub(crate) fn alias(
        &self,
        account: &AccountId,
        region: &str,
        alias_name: &str,
    ) -> Result<Option<AliasRecord>, KmsError> {
        self.tx
            .query_row(
                "SELECT account, region, alias_name, key_id FROM aliases
                 WHERE account = ?1 AND region = ?2 AND alias_name = ?3",
                params![account.as_str(), region, alias_name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db_error)?
            .map(|(account, region, alias_name, key_id)| {
                Ok(AliasRecord {
                    account: account_of(account)?,
                    region,
                    alias_name,
                    key_id,
                })
            })
            .transpose()
    }

    /// Inserts an alias; `false` if the name is taken.
    pub(crate) fn insert_alias(&self, a: &AliasRecord, now: i64) -> Result<bool, KmsError> {
        self.tx
            .execute(
                "INSERT INTO aliases (account, region, alias_name, key_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![a.account.as_str(), a.region, a.alias_name, a.key_id, now],
            )
            .map(|n| n == 1)
            .map_err(db_error)
    }

    /// Deletes an alias.
    pub(crate) fn delete_alias(&self, a: &AliasRecord) -> Result<(), KmsError> {
        self.tx
            .execute(
                "DELETE FROM aliases WHERE account = ?1 AND region = ?2 AND alias_name = ?3",
                params![a.account.as_str(), a.region, a.alias_name],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// Deletes every alias of a key.
    pub(crate) fn delete_aliases_of_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.tx
            .execute("DELETE FROM aliases WHERE key_id = ?1", [key_id])
            .map(drop)
            .map_err(db_error)
    }

    /// A page of an account's aliases in a region, by name, and the total.
    pub(crate) fn aliases_page(
        &self,
        account: &AccountId,
        region: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AliasRecord>, u64), KmsError> {
        let total: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM aliases WHERE account = ?1 AND region = ?2",
                params![account.as_str(), region],
                |r| r.get(0),
            )
            .map_err(db_error)?;
        let mut stmt = self
            .tx
            .prepare(
                "SELECT alias_name, key_id FROM aliases WHERE account = ?1 AND region = ?2
                 ORDER BY alias_name LIMIT ?3 OFFSET ?4",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(
                params![account.as_str(), region, limit, sql_offset(offset)],
                |r| {
                    Ok(AliasRecord {
                        account: account.clone(),
                        region: region.to_owned(),
                        alias_name: r.get(0)?,
                        key_id: r.get(1)?,
                    })
                },
            )
            .map_err(db_error)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_error)?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// Stores a set of import parameters.
    pub(crate) fn insert_import_params(&self, p: &ImportParamsRecord) -> Result<(), KmsError> {
        self.tx
            .execute(
                "INSERT INTO import_parameters
                     (token, key_id, wrapping_algorithm, sealed_private_key, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    p.token,
                    p.key_id,
                    p.wrapping_algorithm,
                    p.sealed_private_key,
                    p.expires_at
                ],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// The import parameters of `token`, if any.
    pub(crate) fn import_params(
        &self,
        token: &str,
    ) -> Result<Option<ImportParamsRecord>, KmsError> {
        self.tx
            .query_row(
                "SELECT token, key_id, wrapping_algorithm, sealed_private_key, expires_at
                 FROM import_parameters WHERE token = ?1",
                [token],
                |r| {
                    Ok(ImportParamsRecord {
                        token: r.get(0)?,
                        key_id: r.get(1)?,
                        wrapping_algorithm: r.get(2)?,
                        sealed_private_key: r.get(3)?,
                        expires_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db_error)
    }

    /// Deletes the import parameters of `token`.
    pub(crate) fn delete_import_params(&self, token: &str) -> Result<(), KmsError> {
        self.tx
            .execute("DELETE FROM import_parameters WHERE token = ?1", [token])
            .map(drop)
            .map_err(db_error)
    }

    /// Deletes import parameters that expired before `now`, or that belong
    /// to `key_id` (when given); returns how many.
    pub(crate) fn purge_import_params(
        &self,
        now: i64,
        key_id: Option<&str>,
    ) -> Result<usize, KmsError> {
        self.tx
            .execute(
                "DELETE FROM import_parameters WHERE expires_at <= ?1 OR key_id = ?2",
                params![now, key_id],
            )
            .map_err(db_error)
    }
}
