//! The standard Parquet key material (`PKMT1`): the JSON that parquet-mr,
//! Arrow C++ / pyarrow and parquet-key-management store as a key's
//! metadata, saying which master key wraps it and how.
//!
//! Written with the fields in the order parquet-key-management writes them,
//! absent ones left out (as parquet-mr and Arrow C++ do, where
//! parquet-key-management writes `null`):
//!
//! ```json
//! {"keyMaterialType":"PKMT1","internalStorage":true,"isFooterKey":true,
//!  "kmsInstanceID":"DEFAULT","kmsInstanceURL":"DEFAULT","masterKeyID":"<CMK ARN>",
//!  "wrappedDEK":"<base64>","doubleWrapping":true,
//!  "keyEncryptionKeyID":"<base64>","wrappedKEK":"<base64>"}
//! ```
//!
//! Read leniently as the other tools write it (`null` for an absent field,
//! as parquet-key-management writes `keyReference`), strictly as to what a
//! key needs: a wrong type or a missing wrapped key is damage, reported by
//! field name without echoing values.

use serde_json::{Map, Value};

use super::error::ParquetKeyError;

/// The one key material type there is.
pub(crate) const PKMT1: &str = "PKMT1";

/// What parquet-mr and Arrow C++ write for a KMS instance nobody named;
/// readers take it to mean "the KMS client's own configuration".
pub(crate) const DEFAULT_KMS_INSTANCE: &str = "DEFAULT";

/// How a data key is wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wrapping {
    /// `wrappedDEK` is the KMS's wrapping of the data key.
    Single {
        /// `wrappedDEK`.
        wrapped_dek: String,
    },
    /// The data key is wrapped locally under a key-encryption key
    /// ([`super::local_wrap`]), and the KMS wraps the KEK.
    Double {
        /// `keyEncryptionKeyID`: base64 of the KEK's id (the local wrap's AAD).
        kek_id: String,
        /// `wrappedKEK`: the KMS's wrapping of the KEK.
        wrapped_kek: String,
        /// `wrappedDEK`: the local wrapping of the data key.
        wrapped_dek: String,
    },
}

/// One key's material. Holds only wrapped keys: nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyMaterial {
    /// Whether this is the footer key's material, which also names the KMS
    /// instance (`kmsInstanceID`, `kmsInstanceURL`).
    pub(crate) is_footer_key: bool,
    /// `masterKeyID`: the KMS key that wraps (directly or through the KEK).
    pub(crate) master_key_id: String,
    /// How the data key is wrapped.
    pub(crate) wrapping: Wrapping,
}

impl KeyMaterial {
    /// The material as JSON bytes, for a Parquet key's metadata.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        out.push('{');
        field(&mut out, "keyMaterialType", &Value::from(PKMT1));
        field(&mut out, "internalStorage", &Value::from(true));
        field(&mut out, "isFooterKey", &Value::from(self.is_footer_key));
        if self.is_footer_key {
            field(
                &mut out,
                "kmsInstanceID",
                &Value::from(DEFAULT_KMS_INSTANCE),
            );
            field(
                &mut out,
                "kmsInstanceURL",
                &Value::from(DEFAULT_KMS_INSTANCE),
            );
        }
        field(
            &mut out,
            "masterKeyID",
            &Value::from(self.master_key_id.as_str()),
        );
        match &self.wrapping {
            Wrapping::Single { wrapped_dek } => {
                field(&mut out, "wrappedDEK", &Value::from(wrapped_dek.as_str()));
                field(&mut out, "doubleWrapping", &Value::from(false));
            }
            Wrapping::Double {
                kek_id,
                wrapped_kek,
                wrapped_dek,
            } => {
                field(&mut out, "wrappedDEK", &Value::from(wrapped_dek.as_str()));
                field(&mut out, "doubleWrapping", &Value::from(true));
                field(
                    &mut out,
                    "keyEncryptionKeyID",
                    &Value::from(kek_id.as_str()),
                );
                field(&mut out, "wrappedKEK", &Value::from(wrapped_kek.as_str()));
            }
        }
        out.push('}');
        out.into_bytes()
    }

    /// Parses a key's metadata as internal PKMT1 key material.
    pub(crate) fn parse(metadata: &[u8]) -> Result<Self, ParquetKeyError> {
        let damaged = |why: &str| ParquetKeyError::Damaged(why.to_owned());
        if metadata.is_empty() {
            return Err(damaged(
                "the file has no key metadata (it was not encrypted through a KMS)",
            ));
        }
        // serde_json's messages quote offending values; ours name the field.
        let value: Value = serde_json::from_slice(metadata).map_err(|e| {
            ParquetKeyError::Damaged(format!(
                "the key metadata is not JSON key material (at line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(fields) = value else {
            return Err(damaged("the key metadata is not a JSON object"));
        };
        let material_type = string(&fields, "keyMaterialType")?;
        if material_type != PKMT1 {
            return Err(ParquetKeyError::Unsupported(format!(
                "keyMaterialType is not {PKMT1}"
            )));
        }
        if !boolean(&fields, "internalStorage")? {
            return Err(ParquetKeyError::Unsupported(
                "the key material is stored outside the file (internalStorage false); only \
                 internal key material is read"
                    .into(),
            ));
        }
        let is_footer_key = boolean(&fields, "isFooterKey")?;
        let master_key_id = string(&fields, "masterKeyID")?;
        if master_key_id.is_empty() {
            return Err(damaged("masterKeyID is empty"));
        }
        let wrapped_dek = string(&fields, "wrappedDEK")?.to_owned();
        let wrapping = if boolean(&fields, "doubleWrapping")? {
            Wrapping::Double {
                kek_id: string(&fields, "keyEncryptionKeyID")?.to_owned(),
                wrapped_kek: string(&fields, "wrappedKEK")?.to_owned(),
                wrapped_dek,
            }
        } else {
            Wrapping::Single { wrapped_dek }
        };
        Ok(Self {
            is_footer_key,
            master_key_id: master_key_id.to_owned(),
            wrapping,
        })
    }
}

/// Appends `"name":value` (with a comma before all but the first).
fn field(out: &mut String, name: &str, value: &Value) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
    // A `Value` of a string or bool always prints; its Display is JSON.
    out.push_str(&value.to_string());
}

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, ParquetKeyError> {
    match fields.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(missing(name)),
        Some(_) => Err(mistyped(name, "a string")),
    }
}

fn boolean(fields: &Map<String, Value>, name: &str) -> Result<bool, ParquetKeyError> {
    match fields.get(name) {
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) => Err(missing(name)),
        Some(_) => Err(mistyped(name, "true or false")),
    }
}

fn missing(name: &str) -> ParquetKeyError {
    ParquetKeyError::Damaged(format!("{name} is missing"))
}

fn mistyped(name: &str, what: &str) -> ParquetKeyError {
    ParquetKeyError::Damaged(format!("{name} is not {what}"))
}
