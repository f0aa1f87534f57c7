//! The audit log: one row per call, allowed or not, in a SQLite database of its
//! own (`audit.db` beside the key store), and the ListAuditEvents operation.
//!
//! Each event holds the time, the request id, the principal's ARN, the
//! operation, the key ARN(s) when known, the outcome (`ok` or the error code)
//! and the source IP when the HTTP layer set `acs:SourceIp`. It never holds
//! plaintexts, keys, ciphertexts or encryption contexts.
//!
//! A separate database keeps audit writes from contending with key writes
//! and lets its durability be chosen apart: `synchronous=FULL` by default
//! (every event survives a power loss; one fsync per call), or `NORMAL`
//! ([`AuditDurability::Normal`]: events survive a crash of the process but
//! the last ones may be lost on power loss), for deployments that trade that
//! for latency. Events are visible to the accounts of the caller and of the
//! keys involved.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior, params};
use sealhouse_iam::AccountId;
use time::OffsetDateTime;

use crate::api::{
    AuditEvent, AuditOutcome, ListAuditEventsRequest, ListAuditEventsResponse, OutcomeFilter,
    page_offset,
};
use crate::call::Call;
use crate::error::{KmsError, OpenError};
use crate::service::ServiceState;

const SCHEMA_VERSION: i64 = 1;
const MAX_PAGE_SIZE: u32 = 1000;

/// How durable each audit event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditDurability {
    /// `synchronous=FULL`: committed events survive power loss (the default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: committed events survive a process crash; the
    /// most recent may be lost on power loss. Cheaper per call.
    Normal,
}

/// An event to record.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub(crate) time: OffsetDateTime,
    pub(crate) request_id: String,
    pub(crate) principal: String,
    pub(crate) principal_account: Option<String>,
    pub(crate) action: String,
    pub(crate) key_arn: Option<String>,
    pub(crate) key_id: Option<String>,
    pub(crate) key_account: Option<String>,
    pub(crate) other_key_arn: Option<String>,
    pub(crate) other_key_id: Option<String>,
    pub(crate) other_key_account: Option<String>,
    pub(crate) outcome: String,
    pub(crate) source_ip: Option<String>,
}

/// The audit log database.
pub(crate) struct AuditLog {
    conn: Mutex<Connection>,
}

impl AuditLog {
    pub(crate) fn open(path: &Path, durability: AuditDurability) -> Result<Self, OpenError> {
        let fail = |e: rusqlite::Error| OpenError::Database {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(fail)?;
        // First, so that every statement below waits for another process
        // opening the same log instead of failing with "database is locked".
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        let synchronous = match durability {
            AuditDurability::Full => "FULL",
            AuditDurability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(fail)?;
        // The version is read inside the write transaction: of processes
        // opening a new log at once, one creates it and the rest see it made.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        match version {
            0 => tx
                .execute_batch(
                    "CREATE TABLE events (
                         seq INTEGER PRIMARY KEY AUTOINCREMENT,
                         time INTEGER NOT NULL,
                         request_id TEXT NOT NULL,
                         principal TEXT NOT NULL,
                         principal_account TEXT,
                         action TEXT NOT NULL,
                         key_arn TEXT, key_id TEXT, key_account TEXT,
                         other_key_arn TEXT, other_key_id TEXT, other_key_account TEXT,
                         outcome TEXT NOT NULL,
                         source_ip TEXT);
                     CREATE INDEX events_by_time ON events (time);
                     PRAGMA user_version = 1;",
                )
                .map_err(fail)?,
            SCHEMA_VERSION => {}
            found => {
                return Err(OpenError::TooNew {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        tx.commit().map_err(fail)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, KmsError> {
        self.conn
            .lock()
            .map_err(|_| KmsError::internal("an earlier KMS call panicked while auditing"))
    }

    /// Appends an event.
    pub(crate) fn record(&self, e: &NewEvent) -> Result<(), KmsError> {
        let conn = self.lock()?;
        let failed = |e: rusqlite::Error| KmsError::internal(format!("the audit log failed: {e}"));
        conn.prepare_cached(
            "INSERT INTO events (time, request_id, principal, principal_account, action,
                 key_arn, key_id, key_account, other_key_arn, other_key_id, other_key_account,
                 outcome, source_ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(failed)?
        .execute(params![
            nanos(e.time),
            e.request_id,
            e.principal,
            e.principal_account,
            e.action,
            e.key_arn,
            e.key_id,
            e.key_account,
            e.other_key_arn,
            e.other_key_id,
            e.other_key_account,
            e.outcome,
            e.source_ip,
        ])
        .map(drop)
        .map_err(failed)
    }

    /// A page of the events `account` may see that match `filter`, and the total.
    fn query(
        &self,
        account: &AccountId,
        filter: &ListAuditEventsRequest,
        offset: u64,
    ) -> Result<(Vec<AuditEvent>, u64), KmsError> {
        let mut conditions = vec![
            "(principal_account = :account OR key_account = :account \
              OR other_key_account = :account)",
        ];
        let mut values: Vec<(&str, rusqlite::types::Value)> =
            vec![(":account", account.as_str().to_owned().into())];
        if let Some(start) = filter.start_time {
            conditions.push("time >= :start");
            values.push((":start", nanos(start).into()));
        }
        if let Some(end) = filter.end_time {
            conditions.push("time < :end");
            values.push((":end", nanos(end).into()));
        }
        if let Some(principal) = &filter.principal {
            conditions.push("principal = :principal");
            values.push((":principal", principal.clone().into()));
        }
        if let Some(key) = &filter.key_id {
            conditions.push(
                "(key_id = :key OR key_arn = :key OR other_key_id = :key OR other_key_arn = :key)",
            );
            values.push((":key", key.clone().into()));
        }
        if let Some(action) = &filter.action {
            let bare = action.strip_prefix("kms:").unwrap_or(action);
            conditions.push("action = :action COLLATE NOCASE");
            values.push((":action", bare.to_owned().into()));
        }
        match filter.outcome {
            None => {}
            Some(OutcomeFilter::Ok) => conditions.push("outcome = 'ok'"),
            Some(OutcomeFilter::AnyError) => conditions.push("outcome <> 'ok'"),
            Some(OutcomeFilter::Code(code)) => {
                conditions.push("outcome = :outcome");
                values.push((":outcome", code.as_str().to_owned().into()));
            }
        }
        let where_clause = conditions.join(" AND ");
        let failed = |e: rusqlite::Error| KmsError::internal(format!("the audit log failed: {e}"));
        let conn = self.lock()?;
        let named: Vec<(&str, &dyn rusqlite::ToSql)> = values
            .iter()
            .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
            .collect();
        let total: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM events WHERE {where_clause}"),
                named.as_slice(),
                |r| r.get(0),
            )
            .map_err(failed)?;
        let mut paged = named.clone();
        let limit = i64::from(filter.page_size);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        paged.push((":limit", &limit));
        paged.push((":offset", &offset));
        let mut stmt = conn
            .prepare(&format!(
                "SELECT seq, time, request_id, principal, action, key_arn, other_key_arn,
                        outcome, source_ip
                 FROM events WHERE {where_clause} ORDER BY seq LIMIT :limit OFFSET :offset"
            ))
            .map_err(failed)?;
        let events = stmt
            .query_map(paged.as_slice(), |r| {
                let outcome: String = r.get(7)?;
                Ok(AuditEvent {
                    sequence: r.get(0)?,
                    time: from_nanos(r.get(1)?),
                    request_id: r.get(2)?,
                    principal: r.get(3)?,
                    action: r.get(4)?,
                    key_arn: r.get(5)?,
                    other_key_arn: r.get(6)?,
                    outcome: if outcome == "ok" {
                        AuditOutcome::Ok
                    } else {
                        AuditOutcome::Error(outcome)
                    },
                    source_ip: r.get(8)?,
                })
            })
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }
}

impl ServiceState {
    /// ListAuditEvents: authorised as `kms:ListAuditEvents` on
    /// `acs:kms:<region>:<account>:audit`.
    pub(crate) fn list_audit_events(
        &self,
        call: &mut Call<'_>,
        request: &ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, KmsError> {
        let account = call.caller_account()?;
        call.authorize_text(
            &call.action(),
            &format!("acs:kms:{}:{account}:audit", self.region),
        )?;
        let offset = page_offset(request.page_number, request.page_size, MAX_PAGE_SIZE)?;
        let (events, total_count) = self.audit.query(&account, request, offset)?;
        Ok(ListAuditEventsResponse {
            request_id: call.request_id(),
            events,
            total_count,
            page_number: request.page_number,
            page_size: request.page_size,
        })
    }
}

/// A time as Unix nanoseconds (saturating outside ±292 years of 1970).
fn nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
