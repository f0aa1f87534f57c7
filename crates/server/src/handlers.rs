//! The protocol side: pgwire's handler traits for one connection, turning
//! simple queries and Parse / Bind / Describe / Execute into commands on
//! the connection's session, and their outcomes into protocol responses.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use futures::future::{Either, select};
use futures::{Sink, SinkExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_describe_response, send_execution_response,
    send_partial_query_response,
};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, DEFAULT_NAME, ErrorHandler,
    PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, TARGET_TYPE_BYTE_PORTAL,
};
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::ParameterStatus;
use tokio::sync::Mutex;

use crate::auth::{PasswordStartup, ServerParameters};
use crate::command::{self, Command};
use crate::connection::{Connection, Outcome, Reply, Running, Shared};
use crate::encode;
use crate::error::ClientError;
use crate::parameters;

/// A statement prepared by Parse: the command, and for queries the plan
/// that describes its parameters and columns (execution plans it again).
#[derive(Clone)]
pub(crate) struct Prepared {
    command: Option<Command>,
    plan: Option<LogicalPlan>,
}

/// The handlers of one connection.
pub(crate) struct Handlers {
    startup: Arc<PasswordStartup>,
    queries: Arc<Queries>,
}

impl Handlers {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let connection = Arc::new(Connection::new(shared));
        Self {
            startup: Arc::new(PasswordStartup {
                connection: Arc::clone(&connection),
                parameters: ServerParameters {
                    server_version: crate::SERVER_VERSION.to_owned(),
                },
            }),
            queries: Arc::new(Queries {
                parser: Arc::new(Parser {
                    connection: Arc::clone(&connection),
                }),
                connection,
                described: Mutex::default(),
            }),
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        tracing::debug!(%error, "statement failed");
    }
}

/// Runs queries of one connection.
pub(crate) struct Queries {
    connection: Arc<Connection>,
    parser: Arc<Parser>,
    /// Sealhouse statements that Describe ran to learn their columns (they
    /// have no plan), waiting for the portal's Execute.
    described: Mutex<HashMap<String, Outcome>>,
}

/// Sends what goes beside a reply: notices and a changed parameter.
async fn send_extras<C>(client: &mut C, outcome: &mut Outcome) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for notice in outcome.notices.drain(..) {
        for line in notice.lines() {
            let (severity, code) = if line.starts_with("warning:") {
                ("WARNING", "01000")
            } else {
                ("NOTICE", "00000")
            };
            let info = pgwire::error::ErrorInfo::new(
                severity.to_owned(),
                code.to_owned(),
                line.to_owned(),
            );
            client
                .feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                    info,
                )))
                .await?;
        }
    }
    if let Some((name, value)) = outcome.reported.take() {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    Ok(())
}

fn into_response(
    outcome: Outcome,
    format: &Format,
    shared: &Arc<Shared>,
) -> PgWireResult<Response> {
    Ok(match outcome.reply {
        Reply::Rows { rows, tag } => Response::Query(encode::response(rows, format, tag)?),
        Reply::Stream {
            rows,
            deadline,
            log,
        } => Response::Query(encode::stream_response(
            rows,
            deadline,
            format,
            Running::start(shared),
            log,
        )?),
        Reply::Done { tag, rows } => {
            let mut t = Tag::new(&tag);
            if tag == "INSERT" {
                t = t.with_oid(0);
            }
            if let Some(rows) = rows {
                t = t.with_rows(usize::try_from(rows).unwrap_or(usize::MAX));
            }
            Response::Execution(t)
        }
        Reply::Began => Response::TransactionStart(Tag::new("BEGIN")),
        Reply::Ended(tag) => Response::TransactionEnd(Tag::new(tag)),
    })
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let commands = match command::parse(&self.connection.shared.parser, query) {
            Ok(commands) => commands,
            Err(e) => return Ok(vec![Response::Error(Box::new(e.into_info()))]),
        };
        if commands.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(commands.len());
        let count = commands.len();
        for (i, command) in commands.into_iter().enumerate() {
            let mut outcome = self
                .connection
                .with_session(async |s| s.run(&command, None).await)
                .await;
            // Responses go out after the last statement ran: only the last
            // one's rows may still be computing then.
            if i + 1 < count
                && let Ok(Outcome {
                    reply: reply @ Reply::Stream { .. },
                    ..
                }) = &mut outcome
            {
                let Reply::Stream {
                    rows,
                    deadline,
                    log,
                } = std::mem::replace(reply, Reply::Began)
                else {
                    unreachable!("matched above")
                };
                let mut log = log;
                match encode::collect(rows, deadline).await {
                    Ok(rows) => {
                        if let Some(log) = &mut log {
                            log.add_rows(rows.num_rows() as u64);
                        }
                        *reply = Reply::Rows {
                            rows,
                            tag: "SELECT",
                        };
                    }
                    Err(e) => {
                        if let Some(log) = &mut log {
                            log.failed(e.code);
                        }
                        outcome = Err(e);
                    }
                }
            }
            match outcome {
                Ok(mut outcome) => {
                    send_extras(client, &mut outcome).await?;
                    responses.push(into_response(
                        outcome,
                        &Format::UnifiedText,
                        &self.connection.shared,
                    )?);
                }
                Err(e) => {
                    // PostgreSQL stops a multi-statement query at its first error.
                    responses.push(Response::Error(Box::new(e.into_info())));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

/// Parse: commands and, for queries, their plans.
pub(crate) struct Parser {
    connection: Arc<Connection>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Prepared>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut commands = command::parse(&self.connection.shared.parser, sql)
            .map_err(ClientError::into_pgwire)?;
        if commands.len() > 1 {
            return Err(ClientError::syntax(
                "cannot insert multiple commands into a prepared statement".to_owned(),
            )
            .into_pgwire());
        }
        let Some(command) = commands.pop() else {
            return Ok(Prepared {
                command: None,
                plan: None,
            });
        };
        let plan = match &command {
            Command::Query { statement, .. } => Some(
                self.connection
                    .with_session(async |s| s.describe(statement).await)
                    .await
                    .map_err(ClientError::into_pgwire)?,
            ),
            _ => None,
        };
        Ok(Prepared {
            command: Some(command),
            plan,
        })
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        let Some(plan) = &stmt.plan else {
            return Ok(Vec::new());
        };
        parameters::types(plan)?
            .into_iter()
            .map(|t| t.map_or(Ok(Type::UNKNOWN), |t| into_pg_type(&t)))
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match &stmt.plan {
            Some(plan) if !matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_)) => {
                let schema = plan.schema().as_arrow();
                let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                encode::fields(
                    schema,
                    &names,
                    column_format.unwrap_or(&Format::UnifiedText),
                )
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// Commands that give rows without a plan to describe them: they run at
/// Describe and their rows wait for Execute.
fn runs_at_describe(command: &Command) -> bool {
    match command {
        Command::Sealhouse(_) => !command.writes(),
        Command::Fetch { .. } | Command::Show(_) => true,
        _ => false,
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        Arc::clone(&self.parser)
    }

    /// A new portal replaces one of the same name: rows Describe kept for
    /// the old one must not answer the new one's Execute.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        self.described.lock().await.remove(name);
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let Some(statement) = client.portal_store().get_statement(statement_name) else {
            return Err(PgWireError::StatementNotFound(statement_name.to_owned()));
        };
        let portal = Portal::try_new(&message, statement)?;
        client.portal_store().put_portal(Arc::new(portal));
        client
            .send(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    /// A query's rows stream to the client. pgwire's own Execute keeps a
    /// portal's rows to hand out `max_rows` at a time, which with 0 (all
    /// rows: what drivers send) holds the whole result; that case is served
    /// here, the rest (row limits, non-queries, a suspended portal) by
    /// pgwire.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(name) {
            Some(portal)
                if message.max_rows == 0
                    && matches!(
                        portal.statement.statement.command,
                        Some(Command::Query { .. })
                    )
                    && !self.described.lock().await.contains_key(name)
                    && matches!(*portal.state.lock().await, PortalExecutionState::Initial)
                    && matches!(client.state(), PgWireConnectionState::ReadyForQuery) =>
            {
                portal
            }
            _ => return self._on_execute(client, message).await,
        };
        client.set_state(PgWireConnectionState::QueryInProgress);
        let cancel = match client.session_extensions().get::<Arc<ConnectionHandle>>() {
            Some(handle) => Some(handle.start_query().await),
            None => None,
        };
        let ran = match cancel {
            Some(cancel) => match select(
                ExtendedQueryHandler::do_query(self, client, &portal, 0),
                cancel,
            )
            .await
            {
                Either::Left((ran, _)) => ran,
                Either::Right(_) => Err(PgWireError::QueryCanceled),
            },
            None => ExtendedQueryHandler::do_query(self, client, &portal, 0).await,
        };
        // A second Execute of this portal finds it finished, as pgwire's would.
        portal
            .start(QueryResponse::new(
                Arc::new(Vec::new()),
                futures::stream::empty(),
            ))
            .await;
        portal.fetch(0).await?;
        let sent = match ran {
            Ok(Response::Query(mut rows)) => send_partial_query_response(client, &mut rows, 0)
                .await
                .map(drop),
            Ok(Response::Execution(tag)) => send_execution_response(client, tag).await,
            Ok(Response::Error(e)) => {
                client.set_transaction_status(client.transaction_status().to_error_state());
                client
                    .send(PgWireBackendMessage::ErrorResponse((*e).into()))
                    .await
                    .map_err(PgWireError::from)
            }
            Ok(_) => {
                Err(ClientError::new("XX000", "a query gave an unexpected reply").into_pgwire())
            }
            Err(e) => Err(e),
        };
        client.set_state(PgWireConnectionState::ReadyForQuery);
        sent
    }

    /// A DECLAREd cursor is a portal too (psycopg's server-side cursors
    /// describe it by name); other portals are pgwire's.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        if message.target_type == TARGET_TYPE_BYTE_PORTAL
            && client.portal_store().get_portal(&name).is_none()
        {
            let fields = self
                .connection
                .with_session(async |s| Ok(s.cursor_fields(&name, &Format::UnifiedText)))
                .await
                .map_err(ClientError::into_pgwire)?;
            if let Some(fields) = fields {
                let response = DescribePortalResponse::new(fields?);
                return send_describe_response(client, &response).await;
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let server = self.parser.get_parameter_types(&target.statement)?;
        let count = server.len().max(target.parameter_types.len());
        let params = (0..count)
            .map(|i| {
                target
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .or_else(|| server.get(i).cloned())
                    .unwrap_or(Type::UNKNOWN)
            })
            .collect();
        let fields = self.parser.get_result_schema(&target.statement, None)?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        // A Sealhouse statement has no plan to describe: a reading one runs
        // now and its rows wait for Execute.
        if let Some(command) = &prepared.command
            && runs_at_describe(command)
        {
            let outcome = self
                .connection
                .with_session(async |s| s.run(command, None).await)
                .await
                .map_err(ClientError::into_pgwire)?;
            let fields = match &outcome.reply {
                Reply::Rows { rows, .. } => {
                    encode::fields(&rows.schema, &rows.names, &portal.result_column_format)?
                }
                _ => Vec::new(),
            };
            self.described
                .lock()
                .await
                .insert(portal.name.clone(), outcome);
            return Ok(DescribePortalResponse::new(fields));
        }
        let fields = self
            .parser
            .get_result_schema(prepared, Some(&portal.result_column_format))?;
        Ok(DescribePortalResponse::new(fields))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let format = &portal.result_column_format;
        if let Some(mut outcome) = self.described.lock().await.remove(&portal.name) {
            send_extras(client, &mut outcome).await?;
            return into_response(outcome, format, &self.connection.shared);
        }
        let prepared = &portal.statement.statement;
        let Some(command) = &prepared.command else {
            return Ok(Response::EmptyQuery);
        };
        let params = match &prepared.plan {
            Some(plan) => {
                let types = parameters::types(plan)?;
                let refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
                Some(parameters::bind(portal, &refs)?)
            }
            None => None,
        };
        let mut outcome = self
            .connection
            .with_session(async |s| s.run(command, params).await)
            .await
            .map_err(ClientError::into_pgwire)?;
        send_extras(client, &mut outcome).await?;
        into_response(outcome, format, &self.connection.shared)
    }
}
