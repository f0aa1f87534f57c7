//! Rows as the PostgreSQL protocol carries them: Arrow types mapped to
//! PostgreSQL types (BINARY as bytea, STRING as text ...) and encoded in
//! the text or binary format the client asked for, by arrow-pg.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::{Stream, StreamExt, TryStreamExt, stream};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, QueryResponse};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use sealhouse_sql::RowStream;
use sealhouse_sql::format::ResultSet;
use tokio::time::Instant;

use crate::connection::{Running, timed_out};
use crate::error::ClientError;
use crate::statement_log::StatementLog;

/// The column descriptions of `rows`, under the names the session shows.
pub(crate) fn fields(
    schema: &Schema,
    names: &[String],
    format: &Format,
) -> PgWireResult<Vec<FieldInfo>> {
    let renamed = Schema::new(
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = names.get(i).cloned().unwrap_or_else(|| f.name().clone());
                Arc::new(f.as_ref().clone().with_name(name))
            })
            .collect::<Vec<_>>(),
    );
    arrow_schema_to_pg_fields(&renamed, format, None)
}

/// A query response carrying `rows`, tagged `tag`.
pub(crate) fn response(rows: ResultSet, format: &Format, tag: &str) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(fields(&rows.schema, &rows.names, format)?);
    let mut data = Vec::new();
    for batch in rows.batches {
        data.extend(encode_recordbatch(Arc::clone(&fields), batch));
    }
    let mut response = QueryResponse::new(fields, stream::iter(data));
    response.set_command_tag(tag);
    Ok(response)
}

/// A query response carrying a query's rows as they are computed: one
/// batch is encoded at a time, so the server holds a few batches however
/// large the result. Past `deadline` the rows end with the statement
/// timeout's error. `running` is counted until the rows are sent.
pub(crate) fn stream_response(
    rows: RowStream,
    deadline: Option<(Instant, std::time::Duration)>,
    format: &Format,
    running: Running,
    mut log: Option<StatementLog>,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(fields(&rows.schema, &rows.names, format)?);
    let encoded = Arc::clone(&fields);
    let batches = within(rows, deadline).map(move |batch| {
        // Held by the stream, so dropped with it once the rows are sent.
        let _running = &running;
        let rows: Vec<PgWireResult<DataRow>> = match batch {
            Ok(batch) => {
                if let Some(log) = &mut log {
                    log.add_rows(batch.num_rows() as u64);
                }
                encode_recordbatch(Arc::clone(&encoded), batch).collect()
            }
            Err(e) => {
                if let Some(log) = &mut log {
                    log.failed(e.code);
                }
                vec![Err(e.into_pgwire())]
            }
        };
        stream::iter(rows)
    });
    Ok(QueryResponse::new(fields, batches.flatten()))
}

/// All of a query's rows (a statement of a multi-statement query string
/// that is not its last: its rows are sent only after the next ran).
pub(crate) async fn collect(
    rows: RowStream,
    deadline: Option<(Instant, std::time::Duration)>,
) -> Result<ResultSet, ClientError> {
    let names = rows.names.clone();
    let schema = Arc::clone(&rows.schema);
    let batches = within(rows, deadline).try_collect().await?;
    Ok(ResultSet {
        names,
        schema,
        batches,
    })
}

/// The batches of `rows`, ending with the timeout's error past `deadline`.
fn within(
    rows: RowStream,
    deadline: Option<(Instant, std::time::Duration)>,
) -> impl Stream<Item = Result<RecordBatch, ClientError>> + Send {
    stream::unfold(Some(rows), move |rows| async move {
        let mut rows = rows?;
        let next = match deadline {
            None => rows.next().await,
            // Checked before each batch too: a timeout polls its future
            // first, and batches that are always ready would never see it.
            Some((at, limit)) if Instant::now() >= at => {
                return Some((Err(timed_out(limit)), None));
            }
            Some((at, limit)) => match tokio::time::timeout_at(at, rows.next()).await {
                Ok(next) => next,
                // The rows (and the query computing them) are dropped.
                Err(_) => return Some((Err(timed_out(limit)), None)),
            },
        };
        match next? {
            Ok(batch) => Some((Ok(batch), Some(rows))),
            Err(e) => Some((Err(ClientError::from_sql(e)), None)),
        }
    })
}

/// SHOW's rows: one column named after the parameter, or (SHOW ALL) name
/// and setting.
pub(crate) fn settings_rows(
    all: bool,
    pairs: Vec<(String, String)>,
) -> Result<ResultSet, ClientError> {
    let (names, columns): (Vec<String>, Vec<Arc<dyn datafusion::arrow::array::Array>>) = if all {
        (
            vec!["name".to_owned(), "setting".to_owned()],
            vec![
                Arc::new(StringArray::from_iter_values(
                    pairs.iter().map(|p| p.0.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    pairs.iter().map(|p| p.1.as_str()),
                )),
            ],
        )
    } else {
        (
            pairs.iter().map(|p| p.0.clone()).take(1).collect(),
            vec![Arc::new(StringArray::from_iter_values(
                pairs.iter().map(|p| p.1.as_str()),
            ))],
        )
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| ClientError::new("XX000", e.to_string()))?;
    Ok(ResultSet {
        names,
        schema,
        batches: vec![batch],
    })
}
