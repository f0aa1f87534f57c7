//! `ROTATE_KEYSET(keyset, algorithm [, description])` → BINARY: adds a
//! generated key of `algorithm`, which becomes the primary key. Ciphertexts
//! of the earlier keys still decrypt.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, Text, crypto, per_row};
use super::keyset_arg::{parse_algorithm, parse_keyset};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "ROTATE_KEYSET",
    params: &[
        ("keyset", Kind::Keyset),
        ("algorithm", Kind::Text),
        ("description", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct RotateKeyset;

impl SqlFunction for RotateKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        let algorithms = Text::of(&args[1])?;
        let descriptions = args.get(2).map(Text::of).transpose()?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some(keyset), Some(algorithm)) = (keysets.get(row), algorithms.get(row)) else {
                return Ok(None);
            };
            // A NULL description is no description, as when it is left out.
            let description = descriptions.as_ref().and_then(|d| d.get(row));
            let mut keyset = parse_keyset(SPEC.function, keyset)?;
            let algorithm = parse_algorithm(SPEC.function, algorithm)?;
            keyset
                .rotate(algorithm, description)
                .map_err(|e| crypto(SPEC.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
