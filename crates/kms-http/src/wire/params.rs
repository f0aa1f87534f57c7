//! Reading and writing the JSON objects of the wire format.
//!
//! [`Params`] reads one object (a request body, or a response) with errors
//! that name the parameter and what was expected, never the value sent (a
//! plaintext sent in the wrong parameter must not reach an error message or a
//! log). [`Obj`] builds one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::api::EncryptionContext;
use sealhouse_kms::{ErrorCode, KmsError};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn invalid(message: String) -> KmsError {
    KmsError::new(ErrorCode::InvalidParameter, message)
}

/// A JSON object being read. `null` counts as absent.
#[derive(Debug, Default)]
pub(crate) struct Params {
    map: Map<String, Value>,
}

impl Params {
    /// Parses a request body: a JSON object; an empty body is `{}`.
    pub(crate) fn from_body(body: &[u8]) -> Result<Self, KmsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        // serde_json's messages can quote the input; keep only the position.
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            invalid(format!(
                "the request body is not valid JSON (line {}, column {}); send the parameters \
                 as one JSON object",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_value(value, "the request body")
    }

    /// An object from a JSON value; `what` names it in errors.
    pub(crate) fn from_value(value: Value, what: &str) -> Result<Self, KmsError> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            _ => Err(invalid(format!("{what} must be a JSON object"))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn missing(name: &str) -> KmsError {
        invalid(format!("the parameter {name} is required"))
    }

    /// A required string.
    pub(crate) fn string(&self, name: &str) -> Result<String, KmsError> {
        self.opt_string(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional string.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("the parameter {name} must be a string"))),
        }
    }

    /// An optional string parsed by `parse` (an API enum and the like).
    pub(crate) fn opt_parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, KmsError>,
    ) -> Result<Option<T>, KmsError> {
        self.opt_string(name)?.map(|s| parse(&s)).transpose()
    }

    /// A required string parsed by `parse`.
    pub(crate) fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.opt_parsed(name, parse)?
            .ok_or_else(|| Self::missing(name))
    }

    /// Required bytes, as standard base64 with padding.
    pub(crate) fn bytes(&self, name: &str) -> Result<Vec<u8>, KmsError> {
        let text = self.string(name)?;
        STANDARD.decode(text.as_bytes()).map_err(|_| {
            invalid(format!(
                "the parameter {name} is not valid base64 (standard alphabet, with padding)"
            ))
        })
    }

    /// Required secret bytes, as base64; the decoded bytes go straight into
    /// a [`SecretBytes`].
    pub(crate) fn secret(&self, name: &str) -> Result<SecretBytes, KmsError> {
        self.bytes(name).map(SecretBytes::new)
    }

    /// An encryption context: a JSON object of strings, or (as the cloud's
    /// SDKs send it) a string holding such an object. Absent is empty.
    pub(crate) fn context(&self, name: &str) -> Result<EncryptionContext, KmsError> {
        let bad = || {
            invalid(format!(
                "the parameter {name} must be a JSON object whose values are strings, such as \
                 {{\"table\":\"orders\"}}"
            ))
        };
        let object = match self.get(name) {
            None => return Ok(EncryptionContext::new()),
            Some(Value::Object(map)) => map.clone(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => map,
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        object
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k, v)),
                _ => Err(bad()),
            })
            .collect()
    }

    /// An optional integer (a JSON number, or a string of digits as the
    /// cloud's form-style clients send).
    pub(crate) fn opt_i64(&self, name: &str) -> Result<Option<i64>, KmsError> {
        let bad = || invalid(format!("the parameter {name} must be an integer"));
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    /// An optional integer from 0 to `u32::MAX`.
    pub(crate) fn opt_u32(&self, name: &str) -> Result<Option<u32>, KmsError> {
        self.opt_i64(name)?
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    invalid(format!(
                        "the parameter {name} is out of range; use 0 to {}",
                        u32::MAX
                    ))
                })
            })
            .transpose()
    }

    /// A required integer from 0 to `u32::MAX`.
    pub(crate) fn u32(&self, name: &str) -> Result<u32, KmsError> {
        self.opt_u32(name)?.ok_or_else(|| Self::missing(name))
    }

    /// A required non-negative integer.
    pub(crate) fn u64(&self, name: &str) -> Result<u64, KmsError> {
        let n = self.opt_i64(name)?.ok_or_else(|| Self::missing(name))?;
        u64::try_from(n).map_err(|_| invalid(format!("the parameter {name} must not be negative")))
    }

    /// An optional boolean (`true`/`false`, or those words as strings).
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(invalid(format!(
                "the parameter {name} must be true or false"
            ))),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&self, name: &str) -> Result<bool, KmsError> {
        self.opt_bool(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional RFC 3339 time, such as `2024-05-20T06:34:21Z`.
    pub(crate) fn opt_date(&self, name: &str) -> Result<Option<OffsetDateTime>, KmsError> {
        self.opt_parsed(name, |s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                invalid(format!(
                    "the parameter {name} is not an RFC 3339 time such as 2024-05-20T06:34:21Z"
                ))
            })
        })
    }

    /// A required RFC 3339 time.
    pub(crate) fn date(&self, name: &str) -> Result<OffsetDateTime, KmsError> {
        self.opt_date(name)?.ok_or_else(|| Self::missing(name))
    }

    /// A required nested object.
    pub(crate) fn object(&self, name: &str) -> Result<Params, KmsError> {
        let value = self.get(name).cloned().ok_or_else(|| Self::missing(name))?;
        Self::from_value(value, &format!("the parameter {name}"))
    }

    /// A list of objects: a JSON array, or the cloud's wrapping
    /// `{"<Inner>": [...]}` (`"Keys": {"Key": [...]}`). Absent is empty.
    pub(crate) fn list(&self, name: &str, inner: &str) -> Result<Vec<Params>, KmsError> {
        let bad = || invalid(format!("the parameter {name} must be a list of objects"));
        let items = match self.get(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Object(map)) => match map.get(inner) {
                Some(Value::Array(items)) => items.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        items
            .into_iter()
            .map(|item| Self::from_value(item, &format!("each entry of {name}")))
            .collect()
    }
}

/// A JSON object being built.
#[derive(Debug, Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    /// An empty object.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets a string.
    pub(crate) fn s(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_owned(), Value::String(value.into()));
        self
    }

    /// Sets a string when there is one.
    pub(crate) fn opt_s(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.s(name, v),
            None => self,
        }
    }

    /// Sets bytes as standard base64.
    pub(crate) fn b64(self, name: &str, bytes: &[u8]) -> Self {
        self.s(name, STANDARD.encode(bytes))
    }

    /// Sets an integer.
    pub(crate) fn n(mut self, name: &str, value: impl Into<i64>) -> Self {
        self.0.insert(name.to_owned(), Value::from(value.into()));
        self
    }

    /// Sets an unsigned integer.
    pub(crate) fn u(mut self, name: &str, value: u64) -> Self {
        self.0.insert(name.to_owned(), Value::from(value));
        self
    }

    /// Sets an integer when there is one.
    pub(crate) fn opt_n(self, name: &str, value: Option<impl Into<i64>>) -> Self {
        match value {
            Some(v) => self.n(name, v),
            None => self,
        }
    }

    /// Sets a boolean.
    pub(crate) fn b(mut self, name: &str, value: bool) -> Self {
        self.0.insert(name.to_owned(), Value::Bool(value));
        self
    }

    /// Sets a time, RFC 3339 in UTC (`2024-05-20T06:34:21Z`; fractions of a
    /// second only when there are any).
    pub(crate) fn date(self, name: &str, value: OffsetDateTime) -> Self {
        let utc = value.to_offset(time::UtcOffset::UTC);
        // Formatting a UTC time as RFC 3339 fails only for years beyond 9999.
        match utc.format(&Rfc3339) {
            Ok(text) => self.s(name, text),
            Err(_) => self,
        }
    }

    /// Sets a time when there is one.
    pub(crate) fn opt_date(self, name: &str, value: Option<OffsetDateTime>) -> Self {
        match value {
            Some(v) => self.date(name, v),
            None => self,
        }
    }

    /// Sets an encryption context (omitted when empty).
    pub(crate) fn context(mut self, name: &str, context: &EncryptionContext) -> Self {
        if !context.is_empty() {
            let map = context
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.0.insert(name.to_owned(), Value::Object(map));
        }
        self
    }

    /// Sets a nested object.
    pub(crate) fn obj(mut self, name: &str, value: Obj) -> Self {
        self.0.insert(name.to_owned(), value.build());
        self
    }

    /// Sets a list in the cloud's wrapping: `{"<name>": {"<inner>": [...]}}`.
    pub(crate) fn list(mut self, name: &str, inner: &str, items: Vec<Obj>) -> Self {
        let items: Vec<Value> = items.into_iter().map(Obj::build).collect();
        let mut wrapper = Map::new();
        wrapper.insert(inner.to_owned(), Value::Array(items));
        self.0.insert(name.to_owned(), Value::Object(wrapper));
        self
    }

    /// The JSON value.
    pub(crate) fn build(self) -> Value {
        Value::Object(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_parameter_but_never_the_value() {
        let p =
            Params::from_body(br#"{"Plaintext":"not base64 SECRET!","N":"x","C":[1]}"#).unwrap();
        let e = p.bytes("Plaintext").unwrap_err();
        assert!(e.message().contains("Plaintext") && !e.message().contains("SECRET"));
        assert!(p.opt_u32("N").unwrap_err().message().contains("integer"));
        assert!(p.context("C").is_err());
        let e = Params::from_body(br#"{"Plaintext": SECRET}"#).unwrap_err();
        assert!(!e.message().contains("SECRET"), "{e}");
        assert!(
            p.string("KeyId")
                .unwrap_err()
                .message()
                .contains("KeyId is required")
        );
    }

    #[test]
    fn values_round_trip_through_obj_and_params() {
        let ctx: EncryptionContext = [("a".to_owned(), "1".to_owned())].into();
        let t = OffsetDateTime::from_unix_timestamp(1_716_186_861).unwrap();
        let v = Obj::new()
            .b64("B", b"\x00\xffbytes")
            .context("C", &ctx)
            .date("D", t)
            .n("N", 7)
            .b("T", true)
            .list("L", "Item", vec![Obj::new().s("X", "y")])
            .build();
        assert_eq!(v["D"], "2024-05-20T06:34:21Z");
        let p = Params::from_value(v, "x").unwrap();
        assert_eq!(p.bytes("B").unwrap(), b"\x00\xffbytes");
        assert_eq!(p.context("C").unwrap(), ctx);
        assert_eq!(p.date("D").unwrap(), t);
        assert_eq!(p.u32("N").unwrap(), 7);
        assert_eq!(p.opt_bool("T").unwrap(), Some(true));
        assert_eq!(p.list("L", "Item").unwrap()[0].string("X").unwrap(), "y");
        let s = Params::from_body(br#"{"C":"{\"k\":\"v\"}","N":"12"}"#).unwrap();
        assert_eq!(s.context("C").unwrap()["k"], "v");
        assert_eq!(s.u32("N").unwrap(), 12);
        assert!(
            Params::from_body(b"")
                .unwrap()
                .context("C")
                .unwrap()
                .is_empty()
        );
    }
}
