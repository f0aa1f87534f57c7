//! `HEX(value)` → STRING (upper case) and `UNHEX(text)` → BINARY.
//!
//! HEX takes BINARY or STRING (its UTF-8 bytes). UNHEX takes an even number
//! of hex digits in either case; anything else is an error naming the
//! offending position, since silently turning bad input into NULL hides
//! mistakes in keys and keysets.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, Text, all_scalar, exec, per_row};
use super::udf::SqlFunction;

static HEX: FunctionSpec = FunctionSpec {
    function: "HEX",
    params: &[("value", Kind::Bytes)],
    required: 1,
    returns: DataType::Utf8,
    volatility: Volatility::Immutable,
};
static UNHEX: FunctionSpec = FunctionSpec {
    function: "UNHEX",
    params: &[("text", Kind::Text)],
    required: 1,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

pub(crate) struct Hex;

impl SqlFunction for Hex {
    fn spec(&self) -> &'static FunctionSpec {
        &HEX
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let values = Bytes::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            Ok(values.get(row).map(|v| hex::encode_upper(v).into_bytes()))
        })
    }
}

pub(crate) struct Unhex;

impl SqlFunction for Unhex {
    fn spec(&self) -> &'static FunctionSpec {
        &UNHEX
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let texts = Text::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Binary, |row| {
            let Some(text) = texts.get(row) else {
                return Ok(None);
            };
            hex::decode(text).map(Some).map_err(|e| {
                exec(
                    "UNHEX",
                    format!("the text is not hexadecimal ({e}); give two hex digits per byte"),
                )
            })
        })
    }
}
