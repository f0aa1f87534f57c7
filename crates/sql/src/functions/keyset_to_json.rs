//! `KEYSET_TO_JSON(keyset)` → STRING: the keyset as JSON, in the original
//! service's layout. The JSON holds the key material in base64: it is as
//! secret as the keyset.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, all_scalar, per_row};
use super::keyset_arg::parse_keyset;
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "KEYSET_TO_JSON",
    params: &[("keyset", Kind::Bytes)],
    required: 1,
    returns: DataType::Utf8,
    volatility: Volatility::Immutable,
};

pub(crate) struct KeysetToJson;

impl SqlFunction for KeysetToJson {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            let Some(bytes) = keysets.get(row) else {
                return Ok(None);
            };
            Ok(Some(
                parse_keyset(SPEC.function, bytes)?
                    .to_json()
                    .as_bytes()
                    .to_vec(),
            ))
        })
    }
}
