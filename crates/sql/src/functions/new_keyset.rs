//! `NEW_KEYSET(algorithm [, description])` → BINARY: a keyset with one
//! generated key. Volatile: every row gets its own keyset.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;

use super::args::{FunctionSpec, Kind, Text, crypto, per_row};
use super::keyset_arg::parse_algorithm;
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "NEW_KEYSET",
    params: &[("algorithm", Kind::Text), ("description", Kind::Text)],
    required: 1,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct NewKeyset;

impl SqlFunction for NewKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let algorithms = Text::of(&args[0])?;
        let descriptions = args.get(1).map(Text::of).transpose()?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some(algorithm), Some(description)) = (
                algorithms.get(row),
                descriptions.as_ref().map_or(Some(""), |d| d.get(row)),
            ) else {
                return Ok(None);
            };
            let algorithm = parse_algorithm(SPEC.function, algorithm)?;
            let keyset =
                Keyset::new(algorithm, description).map_err(|e| crypto(SPEC.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
