//! `KEYSET_FROM_JSON(json)` → BINARY: a JSON keyset (as `KEYSET_TO_JSON`
//! prints it, or as the original service exported it) in binary form.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;

use super::args::{FunctionSpec, Kind, Text, all_scalar, crypto, per_row};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "KEYSET_FROM_JSON",
    params: &[("json", Kind::Text)],
    required: 1,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

pub(crate) struct KeysetFromJson;

impl SqlFunction for KeysetFromJson {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let json = Text::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Binary, |row| {
            let Some(text) = json.get(row) else {
                return Ok(None);
            };
            let keyset = Keyset::from_json(text).map_err(|e| crypto(SPEC.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
