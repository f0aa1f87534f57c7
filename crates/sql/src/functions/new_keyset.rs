//! `NEW_KEYSET(algorithm [, description])` → BINARY: a keyset with one
//! generated key. Volatile: every row gets its own keyset.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;

use super::args::{Kind, Params, Text, exec, per_row};
use super::keyset_arg::parse_algorithm;
use super::udf::SqlFunction;

static PARAMS: Params = Params {
    function: "NEW_KEYSET",
    params: &[("algorithm", Kind::Text), ("description", Kind::Text)],
    required: 1,
};

pub(crate) struct NewKeyset;

impl SqlFunction for NewKeyset {
    fn params(&self) -> &'static Params {
        &PARAMS
    }

    fn returns(&self) -> DataType {
        DataType::Binary
    }

    fn volatility(&self) -> Volatility {
        Volatility::Volatile
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
            let algorithm = parse_algorithm(PARAMS.function, algorithm)?;
            let keyset =
                Keyset::new(algorithm, description).map_err(|e| exec(PARAMS.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
