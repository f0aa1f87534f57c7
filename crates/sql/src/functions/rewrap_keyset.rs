//! `REWRAP_KEYSET(kms_cmk_arn, role_arn, wrapped_keyset [, role_chain])` →
//! BINARY: the same keyset wrapped by another CMK. The last role of the chain
//! needs Decrypt on the CMK that wrapped it and Encrypt on the new one; the
//! keyset is unwrapped and wrapped again inside the warehouse, never shown.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{Bytes, FunctionSpec, Kind, Text, per_row};
use super::udf::SqlFunction;
use super::wrapped_args::{WrapperSlot, role_args};

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
    pub(crate) wrapper: WrapperSlot,
}

impl SqlFunction for RewrapKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let wrapper = self.wrapper.get(SPEC.function)?;
        let cmks = Text::of(&args[0])?;
        let roles = Text::of(&args[1])?;
        let wrapped = Bytes::of(&args[2])?;
        let chains = args.get(3).map(Text::of).transpose()?;
        per_row(rows, false, &DataType::Binary, |row| {
            let (Some(cmk), Some(roles), Some(wrapped)) = (
                cmks.get(row),
                role_args(&roles, chains.as_ref(), row),
                wrapped.get(row),
            ) else {
                return Ok(None);
            };
            let keyset = wrapper.unwrap(SPEC.function, None, roles, wrapped)?;
            wrapper.wrap(SPEC.function, cmk, roles, &keyset).map(Some)
        })
    }
}
