//! `KEYSET_TO_JSON(keyset)` → STRING: the keyset as JSON, in the original
//! service's layout. The JSON holds the key material in base64: it is as
//! secret as the keyset. Given a keyset reference (`USE_WRAPPED_KEYSET`), it
//! shows the wrapped keyset's metadata with every key's material masked.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use std::sync::Arc;

use sealhouse_crypto::Keyset;

use super::args::{Bytes, FunctionSpec, Kind, all_scalar, crypto, per_row};
use super::keyset_arg::parse_keyset;
use super::keyset_cache::{KeysetCache, Lookup};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "KEYSET_TO_JSON",
    params: &[("keyset", Kind::Keyset)],
    required: 1,
    returns: DataType::Utf8,
    volatility: Volatility::Immutable,
};

pub(crate) struct KeysetToJson {
    pub(crate) cache: Arc<KeysetCache>,
}

/// What masked key material reads as.
const MASKED: &str = "<masked: wrapped keyset>";

impl SqlFunction for KeysetToJson {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            let Some(bytes) = keysets.get(row) else {
                return Ok(None);
            };
            let found = self
                .cache
                .lookup(bytes, matches!(keysets, Bytes::Scalar(_)))
                .map_err(|e| e.raise(SPEC.function))?;
            match found {
                Lookup::Wrapped(referenced) => {
                    let keyset = Keyset::from_bytes(referenced.keyset.expose())
                        .map_err(|e| crypto(SPEC.function, e))?;
                    Ok(Some(mask_material(&keyset.to_json()).into_bytes()))
                }
                Lookup::Keyset(referenced) => Ok(Some(
                    Keyset::from_bytes(referenced.keyset.expose())
                        .map_err(|e| crypto(SPEC.function, e))?
                        .to_json()
                        .as_bytes()
                        .to_vec(),
                )),
                Lookup::Bytes => Ok(Some(
                    parse_keyset(SPEC.function, bytes)?
                        .to_json()
                        .as_bytes()
                        .to_vec(),
                )),
            }
        })
    }
}

/// The JSON with every `"value": "<base64>"` (key material) replaced by
/// [`MASKED`]; the layout is the printer's, one field per line.
fn mask_material(json: &str) -> String {
    const FIELD: &str = "\"value\": \"";
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find(FIELD) {
        let start = at + FIELD.len();
        out.push_str(&rest[..start]);
        out.push_str(MASKED);
        // Base64 holds no quote: the value ends at the next one.
        let end = rest[start..].find('"').map_or(rest.len(), |e| start + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealhouse_crypto::Algorithm;

    #[test]
    fn masking_removes_every_key_and_keeps_the_metadata() {
        let mut keyset = Keyset::new(Algorithm::AesGcm256, "one").expect("new");
        keyset
            .rotate(Algorithm::AesSivCmac256, Some("two"))
            .expect("rotate");
        let json = keyset.to_json();
        let masked = mask_material(&json);
        assert_eq!(masked.matches(MASKED).count(), 2, "{masked}");
        for key in keyset.keys() {
            assert!(masked.contains(key.id().as_str()));
        }
        let plain: serde_json::Value = serde_json::from_str(&json).expect("json");
        for key in plain["key"].as_array().expect("keys") {
            let value = key["key_meta_data"]["value"].as_str().expect("material");
            assert!(!masked.contains(value), "material left in {masked}");
        }
        assert!(masked.contains("AES-SIV-CMAC-256") && masked.contains("primary_key_id"));
    }
}
