//! `ROTATE_WRAPPED_KEYSET(kms_cmk_arn, role_arn, wrapped_keyset, key_type
//! [, description [, role_chain]])` → BINARY: the keyset with a new primary
//! key of `key_type` (any supported algorithm: the keyset may change
//! algorithm), wrapped by `kms_cmk_arn`. Ciphertexts of the earlier keys
//! still decrypt with the result.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;

use super::args::{Bytes, FunctionSpec, Kind, Text, crypto, per_row};
use super::keyset_arg::parse_algorithm;
use super::udf::SqlFunction;
use super::wrapped_args::{KmsArgs, SessionWrapper};

static SPEC: FunctionSpec = FunctionSpec {
    function: "ROTATE_WRAPPED_KEYSET",
    params: &[
        ("kms_cmk_arn", Kind::Text),
        ("role_arn", Kind::Text),
        ("wrapped_keyset", Kind::Bytes),
        ("key_type", Kind::Text),
        ("description", Kind::Text),
        ("role_chain", Kind::Text),
    ],
    required: 4,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct RotateWrappedKeyset {
    pub(crate) wrapper: SessionWrapper,
}

impl SqlFunction for RotateWrappedKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let wrapper = self.wrapper.get(SPEC.function)?;
        let kms = KmsArgs::of(args, 5)?;
        let wrapped = Bytes::of(&args[2])?;
        let types = Text::of(&args[3])?;
        let descriptions = args.get(4).map(Text::of).transpose()?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some((cmk, roles)), Some(wrapped), Some(key_type)) =
                (kms.row(row), wrapped.get(row), types.get(row))
            else {
                return Ok(None);
            };
            // A NULL description is no description, as when it is left out.
            let description = descriptions.as_ref().and_then(|d| d.get(row));
            let algorithm = parse_algorithm(SPEC.function, key_type)?;
            let plain = wrapper.unwrap(SPEC.function, None, roles, wrapped)?;
            let mut keyset =
                Keyset::from_bytes(plain.expose()).map_err(|e| crypto(SPEC.function, e))?;
            keyset
                .rotate(algorithm, description)
                .map_err(|e| crypto(SPEC.function, e))?;
            wrapper
                .wrap(SPEC.function, cmk, roles, &keyset.to_bytes())
                .map(Some)
        })
    }
}
