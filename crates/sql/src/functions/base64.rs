//! `BASE64(value)` → STRING and `UNBASE64(text)` → BINARY, standard alphabet
//! with padding. UNBASE64 of text that is not base64 is an error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, Text, all_scalar, exec, per_row};
use super::udf::SqlFunction;

static BASE64: FunctionSpec = FunctionSpec {
    function: "BASE64",
    params: &[("value", Kind::Bytes)],
    required: 1,
    returns: DataType::Utf8,
    volatility: Volatility::Immutable,
};
static UNBASE64: FunctionSpec = FunctionSpec {
    function: "UNBASE64",
    params: &[("text", Kind::Text)],
    required: 1,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

pub(crate) struct Base64;

impl SqlFunction for Base64 {
    fn spec(&self) -> &'static FunctionSpec {
        &BASE64
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let values = Bytes::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            Ok(values.get(row).map(|v| STANDARD.encode(v).into_bytes()))
        })
    }
}

pub(crate) struct Unbase64;

impl SqlFunction for Unbase64 {
    fn spec(&self) -> &'static FunctionSpec {
        &UNBASE64
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let texts = Text::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Binary, |row| {
            let Some(text) = texts.get(row) else {
                return Ok(None);
            };
            STANDARD
                .decode(text.trim())
                .map(Some)
                .map_err(|e| exec("UNBASE64", format!("the text is not base64 ({e})")))
        })
    }
}
