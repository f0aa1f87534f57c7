//! Rows as the PostgreSQL protocol carries them: Arrow types mapped to
//! PostgreSQL types (BINARY as bytea, STRING as text ...) and encoded in
//! the text or binary format the client asked for, by arrow-pg.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::stream;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, QueryResponse};
use pgwire::error::PgWireResult;
use sealhouse_sql::format::ResultSet;

use crate::error::ClientError;

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
