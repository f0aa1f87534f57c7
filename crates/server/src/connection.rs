//! One client connection: the warehouse session it opened when it signed
//! in, its settings, its transaction block and its cursors.
//!
//! Transaction blocks: each Sealhouse statement commits on its own, so a
//! block cannot undo a write. A block therefore holds reads only — the
//! queries, cursors and settings that postgres_fdw and drivers wrap in
//! `START TRANSACTION ... COMMIT` — and a write inside one is refused before
//! it runs, saying so. After an error, the block refuses everything but
//! COMMIT / ROLLBACK, as PostgreSQL does. Each statement reads the data
//! committed when it starts (READ COMMITTED); a cursor reads what was
//! committed when it was declared.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use datafusion::common::ParamValues;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use futures::FutureExt;
use sealhouse_iam::{Iam, Principal};
use sealhouse_sql::format::ResultSet;
use sealhouse_sql::{
    BoundPlan, IdentityServices, PlanOutput, RemoteExecution, RowStream, SqlError, SqlSession,
    StatementOutput,
};
use sealhouse_storage::Catalog;
use tokio::sync::Mutex;

use crate::command::Command;
use crate::cursor::Cursor;
use crate::error::ClientError;
use crate::settings::{Reported, Settings};
use crate::statement_log::StatementLog;

/// What every connection of a server shares.
pub(crate) struct Shared {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) services: Arc<IdentityServices>,
    pub(crate) iam: Arc<Iam>,
    pub(crate) parser: PostgresCompatibilityParser,
    /// How many requests are running a session's work now; shutdown waits
    /// for none.
    pub(crate) running: tokio::sync::watch::Sender<usize>,
    /// The most memory one session's statements may hold at once.
    pub(crate) session_memory: Option<usize>,
    /// Where sessions' queries run when not here (a cluster).
    pub(crate) remote: Option<Arc<dyn RemoteExecution>>,
    /// How long a written table goes quiet before its small files are
    /// merged in the background.
    pub(crate) quiet_merge: Option<std::time::Duration>,
}

impl Shared {
    pub(crate) fn iam(&self) -> &Iam {
        &self.iam
    }
}

/// Counts one running request in [`Shared::running`] while it lives
/// (dropped on completion, panic or cancellation alike); a streamed query's
/// rows carry one until they are sent.
pub(crate) struct Running(Arc<Shared>);

impl Running {
    pub(crate) fn start(shared: &Arc<Shared>) -> Self {
        shared.running.send_modify(|n| *n += 1);
        Self(Arc::clone(shared))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// One connection; its session opens when the client has signed in.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    session: Mutex<Option<Session>>,
}

/// What a command gave back.
pub(crate) enum Reply {
    /// Rows, and the command tag to finish them with.
    Rows { rows: ResultSet, tag: &'static str },
    /// A query's rows, sent as they are computed, within the statement
    /// timeout's deadline.
    Stream {
        rows: RowStream,
        /// When the statement timeout runs out, and the timeout.
        deadline: Option<(tokio::time::Instant, std::time::Duration)>,
        /// The statement's log line, written when the rows are sent.
        log: Option<StatementLog>,
    },
    /// A command without rows: its tag and the row count it reports.
    Done { tag: String, rows: Option<u64> },
    /// BEGIN.
    Began,
    /// COMMIT or ROLLBACK, with the tag (a failed block's COMMIT says ROLLBACK).
    Ended(&'static str),
}

/// A reply and what goes to the client beside it.
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    /// Messages for the client (NOTICE), e.g. what a Sealhouse statement did.
    pub(crate) notices: Vec<String>,
    /// A changed parameter the client tracks (ParameterStatus).
    pub(crate) reported: Reported,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self {
            reply,
            notices: Vec::new(),
            reported: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    None,
    Open,
    Failed,
}

/// The state of a signed-in connection.
pub(crate) struct Session {
    warehouse: SqlSession,
    settings: Settings,
    block: Block,
    cursors: HashMap<String, Cursor>,
    /// How the running statement's plan was had, for its log line.
    plan_source: Option<&'static str>,
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            session: Mutex::new(None),
        }
    }

    /// Opens the session of `principal`; `database`, when it names a
    /// project, becomes the current project.
    pub(crate) async fn open(
        &self,
        principal: Principal,
        user: &str,
        database: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut warehouse = SqlSession::with_identity(
            Arc::clone(&self.shared.catalog),
            principal,
            Arc::clone(&self.shared.services),
        );
        if let Some(remote) = &self.shared.remote {
            warehouse = warehouse.with_remote_execution(Arc::clone(remote));
        }
        warehouse
            .enable_postgres_catalog()
            .map_err(ClientError::from_sql)?;
        if let Some(after) = self.shared.quiet_merge {
            warehouse.merge_when_quiet(after);
        }
        if let Some(bytes) = self.shared.session_memory {
            warehouse
                .limit_memory(bytes)
                .map_err(ClientError::from_sql)?;
        }
        // libpq names the database after the user when none is given;
        // "postgres" and "sealhouse" mean the default project too.
        if let Some(db) = database
            .filter(|db| !db.is_empty() && *db != user && !["postgres", "sealhouse"].contains(db))
        {
            warehouse.execute(&format!("USE {db}")).await.map_err(|e| {
                ClientError::new(
                    "3D000",
                    format!("database \"{db}\" is not a project you can use: {e}"),
                )
            })?;
        }
        *self.session.lock().await = Some(Session {
            warehouse,
            settings: Settings::default(),
            block: Block::None,
            cursors: HashMap::new(),
            plan_source: None,
        });
        Ok(())
    }

    /// Runs `f` on the session (refused before sign-in, which pgwire's
    /// state machine already prevents). A panic in `f` (planning, running,
    /// encoding) fails this one request with an internal error; the
    /// connection and the server go on.
    pub(crate) async fn with_session<T>(
        &self,
        f: impl AsyncFnOnce(&mut Session) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut guard = self.session.lock().await;
        let session = guard
            .as_mut()
            .ok_or_else(|| ClientError::new("08P01", "sign in before sending queries"))?;
        let _running = Running::start(&self.shared);
        AssertUnwindSafe(f(session))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| {
                Err(ClientError::from_sql(SqlError::from_panic(
                    payload.as_ref(),
                )))
            })
    }
}

impl Session {
    /// Runs one command; `params` binds a prepared query's `$n`. An error
    /// inside a transaction block fails the block.
    pub(crate) async fn run(
        &mut self,
        command: &Command,
        params: Option<ParamValues>,
    ) -> Result<Outcome, ClientError> {
        let started = std::time::Instant::now();
        self.plan_source = None;
        let mut result = self.run_in_block(command, params).await;
        if result.is_err() && self.block == Block::Open {
            self.block = Block::Failed;
        }
        let principal = self
            .warehouse
            .principal()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut log = StatementLog::new(principal, command.kind(), started);
        log.plan(self.plan_source);
        match &mut result {
            // Written once the rows are sent.
            Ok(Outcome {
                reply: Reply::Stream { log: slot, .. },
                ..
            }) => *slot = Some(log),
            Ok(outcome) => match &outcome.reply {
                Reply::Rows { rows, .. } => log.add_rows(rows.num_rows() as u64),
                Reply::Done { rows: Some(n), .. } => log.add_rows(*n),
                _ => {}
            },
            Err(e) => log.failed(e.code),
        }
        result
    }

    async fn run_in_block(
        &mut self,
        command: &Command,
        params: Option<ParamValues>,
    ) -> Result<Outcome, ClientError> {
        match (self.block, command) {
            (Block::Failed, Command::Commit | Command::Rollback) => {}
            (Block::Failed, _) => {
                return Err(ClientError::new(
                    "25P02",
                    "current transaction is aborted, commands ignored until end of transaction \
                     block: send ROLLBACK",
                ));
            }
            (Block::Open, c) if c.writes() => {
                return Err(ClientError::new(
                    "25001",
                    "this statement writes, and Sealhouse commits every write on its own, so it \
                     cannot run inside a transaction block (ROLLBACK could not undo it): COMMIT \
                     or ROLLBACK first, then run it on its own",
                ));
            }
            _ => {}
        }
        match command {
            Command::Begin => {
                let mut outcome = Outcome::from(Reply::Began);
                if self.block != Block::None {
                    outcome
                        .notices
                        .push("there is already a transaction in progress".to_owned());
                }
                self.block = Block::Open;
                Ok(outcome)
            }
            Command::Commit | Command::Rollback => {
                let tag = match (command, self.block) {
                    (Command::Commit, Block::Open) => "COMMIT",
                    (Command::Commit, Block::None) => "COMMIT",
                    _ => "ROLLBACK",
                };
                let mut outcome = Outcome::from(Reply::Ended(tag));
                if self.block == Block::None {
                    outcome
                        .notices
                        .push("there is no transaction in progress".to_owned());
                }
                self.block = Block::None;
                // Cursors without HOLD end with their transaction.
                self.cursors.retain(|_, c| c.hold());
                Ok(outcome)
            }
            Command::Set { name, value } => {
                let reported = self.settings.set(name, value.as_deref())?;
                Ok(Outcome {
                    reply: Reply::Done {
                        tag: command.tag().to_owned(),
                        rows: None,
                    },
                    notices: Vec::new(),
                    reported,
                })
            }
            Command::ResetAll => {
                self.settings = Settings::default();
                Ok(done(command.tag()))
            }
            Command::Show(name) => {
                let pairs = if name == "all" {
                    self.settings.all()
                } else {
                    vec![self.settings.show(name)?]
                };
                Ok(Reply::Rows {
                    rows: crate::encode::settings_rows(name == "all", pairs)?,
                    tag: "SHOW",
                }
                .into())
            }
            Command::Declare {
                name,
                hold,
                text,
                query,
            } => {
                if self.block == Block::None && !hold {
                    return Err(ClientError::new(
                        "25P01",
                        "DECLARE CURSOR can only be used in transaction blocks (or WITH HOLD)",
                    ));
                }
                if self.cursors.contains_key(name) {
                    return Err(ClientError::new(
                        "42P03",
                        format!("cursor \"{name}\" already exists"),
                    ));
                }
                let rows = match self.query(text, query, None).await? {
                    StatementOutput::Rows(rows) => rows,
                    _ => return Err(ClientError::syntax("a cursor needs a query".to_owned())),
                };
                self.cursors.insert(name.clone(), Cursor::new(rows, *hold));
                Ok(done(command.tag()))
            }
            Command::Fetch { name, count } => {
                let cursor = self.cursors.get_mut(name).ok_or_else(|| {
                    ClientError::new("34000", format!("cursor \"{name}\" does not exist"))
                })?;
                Ok(Reply::Rows {
                    rows: cursor.fetch(*count),
                    tag: "FETCH",
                }
                .into())
            }
            Command::Close(name) => {
                match name {
                    None => self.cursors.clear(),
                    Some(name) => {
                        self.cursors.remove(name).ok_or_else(|| {
                            ClientError::new("34000", format!("cursor \"{name}\" does not exist"))
                        })?;
                    }
                }
                Ok(done(command.tag()))
            }
            Command::DiscardAll => {
                if self.block != Block::None {
                    return Err(ClientError::new(
                        "25001",
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                self.cursors.clear();
                self.settings = Settings::default();
                Ok(done(command.tag()))
            }
            Command::Deallocate => Ok(done(command.tag())),
            Command::Sealhouse(text) => {
                let timeout = self.settings.statement_timeout();
                let output = with_timeout(timeout, self.warehouse_execute(text)).await?;
                Ok(sealhouse_outcome(text, output))
            }
            Command::Query { text, statement } => {
                let timeout = self.settings.statement_timeout();
                let started = tokio::time::Instant::now();
                let run = async {
                    let plan = self.bound_plan(text, statement, params).await?;
                    self.warehouse
                        .execute_plan_streaming(text, plan)
                        .await
                        .map_err(ClientError::from_sql)
                };
                match with_timeout(timeout, run).await? {
                    PlanOutput::Rows(rows) => Ok(Reply::Stream {
                        rows,
                        deadline: timeout.map(|limit| (started + limit, limit)),
                        log: None,
                    }
                    .into()),
                    PlanOutput::Done(output) => Ok(query_outcome(statement, output)),
                }
            }
        }
    }

    async fn warehouse_execute(&mut self, text: &str) -> Result<StatementOutput, ClientError> {
        self.warehouse
            .execute(text)
            .await
            .map_err(ClientError::from_sql)
    }

    /// Binds (sees the catalog as it is now, is authorised as of now) and
    /// runs a query to completion (a cursor's rows).
    async fn query(
        &mut self,
        text: &str,
        statement: &Statement,
        params: Option<ParamValues>,
    ) -> Result<StatementOutput, ClientError> {
        let timeout = self.settings.statement_timeout();
        let run = async {
            let plan = self.bound_plan(text, statement, params).await?;
            self.warehouse
                .execute_plan(text, plan)
                .await
                .map_err(ClientError::from_sql)
        };
        with_timeout(timeout, run).await
    }

    /// A statement ready to run, with its parameters bound: planned now,
    /// or from the session's kept plan of `text` when the catalog still
    /// matches it.
    async fn bound_plan(
        &mut self,
        text: &str,
        statement: &Statement,
        params: Option<ParamValues>,
    ) -> Result<BoundPlan, ClientError> {
        let keep = self.settings.keeps_plans();
        let bound = self
            .warehouse
            .bind_statement(text, statement, params, keep)
            .await
            .map_err(ClientError::from_sql)?;
        self.plan_source = Some(if bound.reused() { "reused" } else { "planned" });
        Ok(bound)
    }

    /// The column descriptions of cursor `name`, if it exists (a DECLAREd
    /// cursor is also a portal that clients may Describe).
    pub(crate) fn cursor_fields(
        &self,
        name: &str,
        format: &pgwire::api::portal::Format,
    ) -> Option<pgwire::error::PgWireResult<Vec<pgwire::api::results::FieldInfo>>> {
        let (schema, names) = self.cursors.get(name)?.columns();
        Some(crate::encode::fields(schema, names, format))
    }

    /// Plans a statement for a client's Parse: its parameter and result
    /// types.
    pub(crate) async fn describe(
        &self,
        statement: &Statement,
    ) -> Result<datafusion::logical_expr::LogicalPlan, ClientError> {
        self.warehouse
            .describe_statement(statement.clone())
            .await
            .map_err(ClientError::from_sql)
    }
}

async fn with_timeout<T>(
    timeout: Option<std::time::Duration>,
    run: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match timeout {
        None => run.await,
        Some(limit) => tokio::time::timeout(limit, run)
            .await
            .map_err(|_| timed_out(limit))?,
    }
}

/// PostgreSQL's error for a statement past `statement_timeout`.
pub(crate) fn timed_out(limit: std::time::Duration) -> ClientError {
    ClientError::new(
        "57014",
        format!(
            "canceling statement due to statement timeout ({} ms)",
            limit.as_millis()
        ),
    )
}

fn done(tag: &str) -> Outcome {
    Reply::Done {
        tag: tag.to_owned(),
        rows: None,
    }
    .into()
}

/// A Sealhouse statement's result: rows, or its message as a notice with
/// the statement's leading words as the tag.
fn sealhouse_outcome(text: &str, output: StatementOutput) -> Outcome {
    match output {
        StatementOutput::Rows(rows) => Reply::Rows {
            rows,
            tag: "SELECT",
        }
        .into(),
        other => {
            let tag = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_uppercase();
            let rows = match other {
                StatementOutput::Written(n) => Some(n),
                _ => None,
            };
            Outcome {
                reply: Reply::Done { tag, rows },
                notices: other.message().into_iter().collect(),
                reported: None,
            }
        }
    }
}

/// A planned statement's result with PostgreSQL's command tag.
fn query_outcome(statement: &Statement, output: StatementOutput) -> Outcome {
    match output {
        StatementOutput::Rows(rows) => Reply::Rows {
            rows,
            tag: "SELECT",
        }
        .into(),
        StatementOutput::Written(n) => {
            let tag = match statement {
                Statement::Insert(_) => "INSERT",
                _ => "SELECT",
            };
            Reply::Done {
                tag: tag.to_owned(),
                rows: Some(n),
            }
            .into()
        }
        other => {
            let tag = match statement {
                Statement::CreateTable(_) => "CREATE TABLE",
                Statement::Drop { .. } => "DROP TABLE",
                Statement::CreateSchema { .. } => "CREATE SCHEMA",
                _ => "OK",
            };
            Outcome {
                reply: Reply::Done {
                    tag: tag.to_owned(),
                    rows: None,
                },
                notices: other.message().into_iter().filter(|m| m != "OK").collect(),
                reported: None,
            }
        }
    }
}
