//! An INSERT that stores binary values (a ciphertext, say) in a STRING
//! column: DataFusion casts them to text, and a value that is not UTF-8
//! fails the cast with Arrow's "Encountered non UTF-8 data", which names
//! neither the column nor the fix. The statement's columns that take binary
//! values as text are found while planning, and that failure is told in
//! their terms.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{DmlStatement, Expr, ExprSchemable, LogicalPlan};

use crate::SqlError;

/// The target columns of `dml` whose values arrive as binary and are cast
/// to STRING: in the projection onto the table's columns, or (INSERT ...
/// VALUES) in the rows the projection takes a column of.
pub(super) fn binary_into_string(dml: &DmlStatement) -> Vec<String> {
    let LogicalPlan::Projection(projection) = dml.input.as_ref() else {
        return Vec::new();
    };
    let input = projection.input.schema();
    projection
        .expr
        .iter()
        .zip(projection.schema.fields())
        .filter(|(expr, field)| {
            is_text(field.data_type())
                && match (*expr).clone().unalias() {
                    Expr::Column(column) => match projection.input.as_ref() {
                        LogicalPlan::Values(values) => {
                            input.index_of_column(&column).is_ok_and(|i| {
                                values
                                    .values
                                    .iter()
                                    .any(|row| row.get(i).is_some_and(|e| binary_as_text(e, input)))
                            })
                        }
                        _ => false,
                    },
                    other => binary_as_text(&other, input),
                }
        })
        .map(|(_, field)| field.name().clone())
        .collect()
}

/// Whether `expr` casts a binary value to text.
fn binary_as_text(expr: &Expr, schema: &DFSchema) -> bool {
    let (inner, to) = match expr.clone().unalias() {
        Expr::Cast(cast) => (*cast.expr, cast.field.data_type().clone()),
        Expr::TryCast(cast) => (*cast.expr, cast.field.data_type().clone()),
        _ => return false,
    };
    is_text(&to)
        && inner.get_type(schema).is_ok_and(|from| {
            matches!(
                from,
                DataType::Binary
                    | DataType::LargeBinary
                    | DataType::BinaryView
                    | DataType::FixedSizeBinary(_)
            )
        })
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// `error` of an INSERT into `table` (project, name) whose `columns` take
/// binary values as text: a failed UTF-8 cast said in their terms.
pub(super) fn explain(
    error: DataFusionError,
    columns: &[String],
    (project, table): &(String, String),
) -> SqlError {
    if columns.is_empty() || !error.to_string().contains("non UTF-8") {
        return error.into();
    }
    SqlError::Execution(format!(
        "a value for STRING column {} of table {project}.{table} is binary data that is not \
         UTF-8 text (a ciphertext, for example): store it in a BINARY column, or store \
         HEX(...) or TO_BASE64(...) of it",
        columns.join(", ")
    ))
}
