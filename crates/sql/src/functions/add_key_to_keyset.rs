//! `ADD_KEY_TO_KEYSET(keyset, algorithm, key_material [, description])` →
//! BINARY: adds a key you supply (raw bytes, e.g. `UNHEX('...')`), which
//! becomes the primary key. The key's length must fit the algorithm.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::SecretBytes;

use super::args::{Bytes, Kind, Params, Text, exec, per_row};
use super::keyset_arg::{parse_algorithm, parse_keyset};
use super::udf::SqlFunction;

static PARAMS: Params = Params {
    function: "ADD_KEY_TO_KEYSET",
    params: &[
        ("keyset", Kind::Bytes),
        ("algorithm", Kind::Text),
        ("key_material", Kind::Bytes),
        ("description", Kind::Text),
    ],
    required: 3,
};

pub(crate) struct AddKeyToKeyset;

impl SqlFunction for AddKeyToKeyset {
    fn params(&self) -> &'static Params {
        &PARAMS
    }

    fn returns(&self) -> DataType {
        DataType::Binary
    }

    fn volatility(&self) -> Volatility {
        // The new key's id is random.
        Volatility::Volatile
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
            let mut keyset = parse_keyset(PARAMS.function, keyset)?;
            let algorithm = parse_algorithm(PARAMS.function, algorithm)?;
            keyset
                .add_raw_key(algorithm, SecretBytes::from_slice(material), description)
                .map_err(|e| exec(PARAMS.function, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
