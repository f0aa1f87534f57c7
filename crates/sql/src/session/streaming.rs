//! Queries whose rows are sent as they are computed: the PostgreSQL
//! endpoint streams a query's batches to the client instead of holding the
//! whole result, so a large SELECT costs the server a few batches of memory.
//!
//! The statement outlives the call that started it: its snapshot leases (so
//! the files it reads stay until it is done) and its keyset references end
//! when the stream is dropped, finished or not.

use std::pin::Pin;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use futures::{Stream, StreamExt};
use sealhouse_storage::SnapshotLease;

use super::{BoundPlan, SqlSession, StatementOutput};
use crate::functions::StatementEnd;
use crate::{SqlError, column_names};

/// What [`SqlSession::execute_plan_streaming`] gives: a query's rows as a
/// stream, or another statement's output.
#[derive(Debug)]
pub enum PlanOutput {
    /// A query's rows, computed as they are read.
    Rows(RowStream),
    /// Any other statement, run to completion.
    Done(StatementOutput),
}

/// A query's rows as they are computed. Dropping it stops the query and
/// ends the statement.
pub struct RowStream {
    /// Column names as the user should see them.
    pub names: Vec<String>,
    /// The rows' schema.
    pub schema: SchemaRef,
    batches: SendableRecordBatchStream,
    finished: bool,
    // Dropped after `batches`: the leases keep the files it reads.
    _leases: Vec<SnapshotLease>,
    _end: StatementEnd,
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("names", &self.names)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Stream for RowStream {
    type Item = Result<RecordBatch, SqlError>;

    /// The next batch; a panic while computing it (contained, as a
    /// statement's is) ends the stream with [`SqlError::Internal`].
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.batches.poll_next_unpin(cx)
        }));
        match polled {
            Ok(Poll::Ready(Some(batch))) => Poll::Ready(Some(batch.map_err(SqlError::from))),
            Ok(Poll::Ready(None)) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                self.finished = true;
                Poll::Ready(Some(Err(SqlError::from_panic(payload.as_ref()))))
            }
        }
    }
}

impl SqlSession {
    /// [`SqlSession::execute_plan`], but a query's rows come as a
    /// [`RowStream`] computed as it is read; other statements run to
    /// completion as there.
    pub async fn execute_plan_streaming(
        &mut self,
        sql: &str,
        bound: BoundPlan,
    ) -> Result<PlanOutput, SqlError> {
        if !is_query(&bound.plan) {
            return self.execute_plan(sql, bound).await.map(PlanOutput::Done);
        }
        let started = match self.authorize_bound(&bound) {
            Ok(()) => {
                let optimized = bound.kept_needs.is_some();
                self.start_stream(sql, bound.plan, optimized).await
            }
            Err(e) => Err(e),
        };
        match started {
            Ok(rows) => Ok(PlanOutput::Rows(rows)),
            Err(e) => {
                self.end_statement();
                Err(e)
            }
        }
    }

    async fn start_stream(
        &self,
        sql: &str,
        plan: LogicalPlan,
        optimized: bool,
    ) -> Result<RowStream, SqlError> {
        let (schema, batches) = self.query_output(plan, optimized).await?;
        let names = column_names::display_names(sql, &schema);
        Ok(RowStream {
            names,
            schema,
            batches,
            finished: false,
            _leases: self.leases.take_all(),
            _end: self.functions.statement_end(),
        })
    }
}

/// Whether the plan is a query (rows to return) rather than DDL, DML or a
/// statement [`SqlSession::execute_plan`] handles itself.
fn is_query(plan: &LogicalPlan) -> bool {
    !matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::DescribeTable(_)
    )
}
