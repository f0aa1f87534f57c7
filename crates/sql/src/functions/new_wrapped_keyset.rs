//! `NEW_WRAPPED_KEYSET(kms_cmk_arn, role_arn, key_type, description
//! [, role_chain])` → BINARY: a new keyset of one `key_type` key, wrapped by
//! the CMK through the role chain. The plaintext keyset never leaves the
//! function.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;

use super::args::{FunctionSpec, Kind, Text, crypto, per_row};
use super::keyset_arg::parse_algorithm;
use super::udf::SqlFunction;
use super::wrapped_args::{KmsArgs, SessionWrapper};

static SPEC: FunctionSpec = FunctionSpec {
    function: "NEW_WRAPPED_KEYSET",
    params: &[
        ("kms_cmk_arn", Kind::Text),
        ("role_arn", Kind::Text),
        ("key_type", Kind::Text),
        ("description", Kind::Text),
        ("role_chain", Kind::Text),
    ],
    required: 4,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct NewWrappedKeyset {
    pub(crate) wrapper: SessionWrapper,
}

impl SqlFunction for NewWrappedKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let wrapper = self.wrapper.get(SPEC.function)?;
        let kms = KmsArgs::of(args, 4)?;
        let types = Text::of(&args[2])?;
        let descriptions = Text::of(&args[3])?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some((cmk, roles)), Some(key_type), Some(description)) =
                (kms.row(row), types.get(row), descriptions.get(row))
            else {
                return Ok(None);
            };
            let algorithm = parse_algorithm(SPEC.function, key_type)?;
            let keyset =
                Keyset::new(algorithm, description).map_err(|e| crypto(SPEC.function, e))?;
            wrapper
                .wrap(SPEC.function, cmk, roles, &keyset.to_bytes())
                .map(Some)
        })
    }
}
