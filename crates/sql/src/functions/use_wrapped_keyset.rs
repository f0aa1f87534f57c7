//! `USE_WRAPPED_KEYSET(kms_cmk_arn, role_arn, wrapped_keyset [, role_chain])`
//! → BINARY: a reference to the unwrapped keyset, which ENHANCED_SYM_ENCRYPT,
//! ENHANCED_SYM_DECRYPT and the other ciphers take as a keyset
//! (`keyset_handles.rs`: the key material itself never leaves the warehouse).
//!
//! `wrapped_keyset` must be a constant: a literal, a script variable, or an
//! expression of those (`UNHEX('...')`); a column is refused while the
//! statement is planned (`constant_check.rs`). The function is Stable, so
//! DataFusion evaluates it once while planning and the query runs with the
//! resulting reference: one unwrap per statement, not per row or batch.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use std::sync::Arc;

use super::args::{Bytes, FunctionSpec, Kind, all_scalar, exec, per_row};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;
use super::wrapped_args::{KmsArgs, WrapperSlot};

pub(crate) static SPEC: FunctionSpec = FunctionSpec {
    function: "USE_WRAPPED_KEYSET",
    params: &[
        ("kms_cmk_arn", Kind::Text),
        ("role_arn", Kind::Text),
        ("wrapped_keyset", Kind::Bytes),
        ("role_chain", Kind::Text),
    ],
    required: 3,
    returns: DataType::Binary,
    volatility: Volatility::Stable,
};

/// The position of `wrapped_keyset`.
pub(crate) const WRAPPED_ARG: usize = 2;

/// The message for a `wrapped_keyset` that is not a constant.
pub(crate) const NOT_CONSTANT: &str = "USE_WRAPPED_KEYSET: wrapped_keyset must be a constant (a literal, a script variable, or an expression of those such as UNHEX('...')), not a column or subquery: the keyset is unwrapped once per query. To use a stored wrapped keyset, copy it into a script variable first";

pub(crate) struct UseWrappedKeyset {
    pub(crate) wrapper: WrapperSlot,
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for UseWrappedKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        if matches!(args[WRAPPED_ARG], ColumnarValue::Array(_)) {
            return Err(datafusion::error::DataFusionError::Plan(
                NOT_CONSTANT.to_owned(),
            ));
        }
        let wrapper = self.wrapper.get(SPEC.function)?;
        let kms = KmsArgs::of(args, 3)?;
        let wrapped = Bytes::of(&args[WRAPPED_ARG])?;
        per_row(rows, all_scalar(args), &DataType::Binary, |row| {
            let (Some((cmk, roles)), Some(wrapped)) = (kms.row(row), wrapped.get(row)) else {
                return Ok(None);
            };
            let keyset = wrapper.unwrap(SPEC.function, Some(cmk), roles, wrapped)?;
            self.cache
                .handles
                .register(keyset)
                .map(Some)
                .map_err(|e| exec(SPEC.function, e))
        })
    }
}
