//! `ADD_KEY_TO_KEYSET(keyset, algorithm, key_material [, description])` →
//! BINARY: adds a key you supply (raw bytes, e.g. `UNHEX('...')`), which
//! becomes the primary key. The key's length must fit the algorithm.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::SecretBytes;

use super::args::{Bytes, FunctionSpec, Kind, Text, crypto, per_row};
use super::keyset_arg::{parse_algorithm, parse_keyset};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "ADD_KEY_TO_KEYSET",
    params: &[
        ("keyset", Kind::Keyset),
        ("algorithm", Kind::Text),
        ("key_material", Kind::Bytes),
        ("description", Kind::Text),
    ],
    required: 3,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct AddKeyToKeyset;

impl SqlFunction for AddKeyToKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        let algorithms = Text::of(&args[1])?;
        let materials = Bytes::of(&args[2])?;
        let descriptions = args.get(3).map(Text::of).transpose()?;
        per_row(rows, false, &DataType::Binary, |row| {
            let description = descriptions.as_ref().map_or(Some(""), |d| d.get(row));
            let (Some(keyset), Some(algorithm), Some(material), Some(description)) = (
                keysets.get(row),
                algorithms.get(row),
                materials.get(row),
                description,
            ) else {
                return Ok(None);
            };
            let mut keyset = parse_keyset(SPEC.function, keyset)?;
            let algorithm = parse_algorithm(SPEC.function, algorithm)?;
            keyset
                .add_raw_key(algorithm, SecretBytes::from_slice(material), description)
                .map_err(|e| crypto(SPEC.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
