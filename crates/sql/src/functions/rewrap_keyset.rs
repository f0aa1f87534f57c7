//! `REWRAP_KEYSET(kms_cmk_arn, role_arn, wrapped_keyset [, role_chain])` →
//! BINARY: the same keyset wrapped by another CMK. The last role of the chain
//! needs Decrypt on the CMK that wrapped it and Encrypt on the new one; the
//! keyset is unwrapped and wrapped again inside the warehouse, never shown.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, per_row};
use super::udf::SqlFunction;
use super::wrapped_args::{KmsArgs, SessionWrapper};

static SPEC: FunctionSpec = FunctionSpec {
    function: "REWRAP_KEYSET",
    params: &[
        ("kms_cmk_arn", Kind::Text),
        ("role_arn", Kind::Text),
        ("wrapped_keyset", Kind::Bytes),
        ("role_chain", Kind::Text),
    ],
    required: 3,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct RewrapKeyset {
    pub(crate) wrapper: SessionWrapper,
}

impl SqlFunction for RewrapKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let wrapper = self.wrapper.get(SPEC.function)?;
        let kms = KmsArgs::of(args, 3)?;
        let wrapped = Bytes::of(&args[2])?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some((cmk, roles)), Some(wrapped)) = (kms.row(row), wrapped.get(row)) else {
                return Ok(None);
            };
            let keyset = wrapper.unwrap(SPEC.function, None, roles, wrapped)?;
            wrapper.wrap(SPEC.function, cmk, roles, &keyset).map(Some)
        })
    }
}
