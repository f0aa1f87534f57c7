//! `KEYSET_TO_JSON(keyset)` → STRING: the keyset as JSON, in the original
//! service's layout. The JSON holds the key material in base64: it is as
//! secret as the keyset.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, Kind, Params, all_scalar, per_row};
use super::keyset_arg::parse_keyset;
use super::udf::SqlFunction;

static PARAMS: Params = Params {
    function: "KEYSET_TO_JSON",
    params: &[("keyset", Kind::Bytes)],
    required: 1,
};

pub(crate) struct KeysetToJson;

impl SqlFunction for KeysetToJson {
    fn params(&self) -> &'static Params {
        &PARAMS
    }

    fn returns(&self) -> DataType {
        DataType::Utf8
    }

    fn volatility(&self) -> Volatility {
        Volatility::Immutable
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            let Some(bytes) = keysets.get(row) else {
                return Ok(None);
            };
            Ok(Some(
                parse_keyset(PARAMS.function, bytes)?
                    .to_json()
                    .as_bytes()
                    .to_vec(),
            ))
        })
    }
}
