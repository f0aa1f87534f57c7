//! `USE_WRAPPED_KEYSET(kms_cmk_arn, role_arn, wrapped_keyset [, role_chain])`
//! → STRUCT<keyset BINARY, wrapped_keyset_info STRING>, as the original
//! service returns it:
//!
//! - `keyset`: a reference to the unwrapped keyset, which
//!   ENHANCED_SYM_ENCRYPT, ENHANCED_SYM_DECRYPT and the other ciphers take
//!   as a keyset (`keyset_handles.rs`: the key material itself never leaves
//!   the warehouse). They take the whole STRUCT as well, reading this field.
//! - `wrapped_keyset_info`: JSON for scripts that keep track of wrapped
//!   keysets: the KMS key and roles named, and `masked_keyset`, the
//!   keyset's JSON (KEYSET_TO_JSON's layout) without any key material.
//!   `GET_JSON_OBJECT(USE_WRAPPED_KEYSET(...).wrapped_keyset_info,
//!   '$.masked_keyset.key[0].key_meta_data.type')` reads a key's type.
//!
//! `wrapped_keyset` must be a constant: a literal, a script variable, or an
//! expression of those (`UNHEX('...')`); a column is refused while the
//! statement is planned (`constant_check.rs`). The function is Stable, so
//! DataFusion evaluates it once while planning and the query runs with the
//! resulting reference: one unwrap per statement, not per row or batch.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Keyset;
use serde_json::{Value, json};

use super::args::{
    ByteColumn, Bytes, FunctionSpec, KEYSET_FIELD, Kind, all_scalar, crypto, internal,
};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;
use super::wrapped_args::{KmsArgs, SessionWrapper};
use crate::wrapped::RoleArgs;

pub(crate) static SPEC: FunctionSpec = FunctionSpec {
    function: "USE_WRAPPED_KEYSET",
    params: &[
        ("kms_cmk_arn", Kind::Text),
        ("role_arn", Kind::Text),
        ("wrapped_keyset", Kind::Bytes),
        ("role_chain", Kind::Text),
    ],
    required: 3,
    // The STRUCT of `return_type`; a static cannot hold it.
    returns: DataType::Binary,
    volatility: Volatility::Stable,
};

/// The position of `wrapped_keyset`.
pub(crate) const WRAPPED_ARG: usize = 2;

/// What `wrapped_keyset_info` names: the CMK, the role and the chain.
type Named<'a> = (&'a str, &'a str, Option<&'a str>);

/// The field holding the JSON about the wrapped keyset.
const INFO_FIELD: &str = "wrapped_keyset_info";

/// The message for a `wrapped_keyset` that is not a constant.
pub(crate) const NOT_CONSTANT: &str = "USE_WRAPPED_KEYSET: wrapped_keyset must be a constant (a literal, a script variable, or an expression of those such as UNHEX('...')), not a column or subquery: the keyset is unwrapped once per query. To use a stored wrapped keyset, copy it into a script variable first";

pub(crate) struct UseWrappedKeyset {
    pub(crate) wrapper: SessionWrapper,
    pub(crate) cache: Arc<KeysetCache>,
}

fn fields() -> Fields {
    Fields::from(vec![
        Field::new(KEYSET_FIELD, DataType::Binary, true),
        Field::new(INFO_FIELD, DataType::Utf8, true),
    ])
}

impl SqlFunction for UseWrappedKeyset {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn return_type(&self) -> DataType {
        DataType::Struct(fields())
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        if matches!(args[WRAPPED_ARG], ColumnarValue::Array(_)) {
            return Err(DataFusionError::Plan(NOT_CONSTANT.to_owned()));
        }
        let wrapper = self.wrapper.get(SPEC.function)?;
        let kms = KmsArgs::of(args, 3)?;
        let wrapped = Bytes::of(&args[WRAPPED_ARG])?;
        let once = all_scalar(args);
        let rows = if once { 1 } else { rows };
        let mut keysets = ByteColumn::with_capacity(rows, rows * 48);
        let mut infos = ByteColumn::with_capacity(rows, rows * 512);
        let mut valid = Vec::with_capacity(rows);
        let mut infos_made: Vec<(Named<'_>, String)> = Vec::new();
        for row in 0..rows {
            let (Some((cmk, roles)), Some(wrapped)) = (kms.row(row), wrapped.get(row)) else {
                keysets.append_null()?;
                infos.append_null()?;
                valid.push(false);
                continue;
            };
            let keyset = wrapper.unwrap(SPEC.function, Some(cmk), roles, wrapped)?;
            // Per row only when the KMS arguments are columns: the info is
            // made once per distinct (CMK, role, chain), not parsed per row.
            let named = (cmk, roles.role_arn, roles.role_chain);
            let info = match infos_made.iter().find(|(n, _)| *n == named) {
                Some((_, made)) => made.clone(),
                None => {
                    let made = info(cmk, roles, &keyset)?;
                    infos_made.push((named, made.clone()));
                    made
                }
            };
            let reference = self
                .cache
                .handles
                .register(keyset)
                .map_err(|e| crypto(SPEC.function, e))?;
            keysets.append_with(|buf| {
                buf.extend_from_slice(&reference);
                Ok(())
            })?;
            infos.append_with(|buf| {
                buf.extend_from_slice(info.as_bytes());
                Ok(())
            })?;
            valid.push(true);
        }
        let columns: Vec<ArrayRef> = vec![keysets.finish_binary(), infos.finish_string()?];
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        let value = StructArray::try_new(fields(), columns, nulls)
            .map_err(|e| internal(format!("building USE_WRAPPED_KEYSET's result: {e}")))?;
        Ok(if once {
            ColumnarValue::Scalar(ScalarValue::Struct(Arc::new(value)))
        } else {
            ColumnarValue::Array(Arc::new(value))
        })
    }
}

/// `wrapped_keyset_info`: what was named, and the keyset without its keys.
fn info(cmk: &str, roles: RoleArgs<'_>, keyset: &sealhouse_crypto::SecretBytes) -> Result<String> {
    let keyset = Keyset::from_bytes(keyset.expose()).map_err(|e| crypto(SPEC.function, e))?;
    let mut info = json!({
        "kms_cmk_arn": cmk,
        "role_arn": roles.role_arn,
        "masked_keyset": masked(&keyset)?,
    });
    if let Some(chain) = roles.role_chain {
        info["role_chain"] = Value::from(chain);
    }
    Ok(info.to_string())
}

/// The keyset's JSON with every key's material (`key_meta_data.value`)
/// removed.
fn masked(keyset: &Keyset) -> Result<Value> {
    let mut json: Value = serde_json::from_str(&keyset.to_json())
        .map_err(|e| internal(format!("a keyset's JSON does not parse: {e}")))?;
    let keys = json
        .get_mut("key")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| internal("a keyset's JSON has no key list".to_owned()))?;
    for key in keys {
        if let Some(meta) = key.get_mut("key_meta_data").and_then(Value::as_object_mut) {
            meta.remove("value");
        }
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealhouse_crypto::Algorithm;

    #[test]
    fn the_info_names_the_key_types_and_holds_no_key_material() {
        let mut keyset = Keyset::new(Algorithm::AesGcm256, "one").expect("new");
        keyset
            .rotate(Algorithm::AesSivCmac256, Some("two"))
            .expect("rotate");
        let bytes = keyset.to_bytes();
        let roles = RoleArgs {
            role_arn: "acs:ram::1:role/r",
            role_chain: Some("acs:ram::2:role/s"),
        };
        let text = info("acs:kms:cn-hangzhou:1:key/k", roles, &bytes).expect("info");
        let parsed: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(parsed["kms_cmk_arn"], "acs:kms:cn-hangzhou:1:key/k");
        assert_eq!(parsed["role_chain"], "acs:ram::2:role/s");
        let keys = parsed["masked_keyset"]["key"].as_array().expect("keys");
        let types: Vec<&str> = keys
            .iter()
            .map(|k| k["key_meta_data"]["type"].as_str().expect("type"))
            .collect();
        assert_eq!(types, ["AES-GCM-256", "AES-SIV-CMAC-256"]);
        let plain: Value = serde_json::from_str(&keyset.to_json()).expect("json");
        for key in plain["key"].as_array().expect("keys") {
            let material = key["key_meta_data"]["value"].as_str().expect("material");
            assert!(!text.contains(material), "key material in {text}");
        }
        assert!(!text.contains("\"value\""), "{text}");
    }
}
