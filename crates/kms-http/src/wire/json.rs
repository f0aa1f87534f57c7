//! Reading and writing the JSON bodies: the API's types derive serde with
//! the cloud's field names (`sealhouse_kms::api`), and this module reads
//! them through [`Parameters`], a deserializer over a parsed JSON value whose
//! errors name the parameter at fault and what it must be, never the value
//! sent (serde's own messages quote it: a plaintext sent in the wrong
//! parameter must not reach an error message or a log).
//!
//! `null` counts as absent, as the cloud's clients send it.

use std::fmt;

use sealhouse_kms::{ErrorCode, KmsError};
use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, Visitor,
};
use serde::{Serialize, forward_to_deserialize_any};
use serde_json::{Map, Value};

/// Reads a body (an object; an empty body is `{}`) as `T`.
pub(crate) fn from_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, KmsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return from_value(Value::Object(Map::new()));
    }
    // serde_json's messages can quote the input; keep only the position.
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the request body is not valid JSON (line {}, column {}); send the parameters as one \
             JSON object",
            e.line(),
            e.column()
        ))
    })?;
    from_value(value)
}

/// Reads an object as `T`.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, KmsError> {
    if !value.is_object() {
        return Err(invalid("the request body must be a JSON object".to_owned()));
    }
    T::deserialize(Parameters(value)).map_err(|e| invalid(e.to_string()))
}

/// `value` as a JSON object, without its `null` members (absent values).
pub(crate) fn to_value<T: Serialize>(value: &T) -> Result<Value, KmsError> {
    let mut value = serde_json::to_value(value).map_err(|_| {
        KmsError::new(
            ErrorCode::InternalFailure,
            "a KMS answer could not be encoded as JSON",
        )
    })?;
    drop_nulls(&mut value);
    Ok(value)
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn invalid(message: String) -> KmsError {
    KmsError::new(ErrorCode::InvalidParameter, message)
}

/// An error reading parameters: where (the parameter's path, innermost
/// last) and what it must be.
#[derive(Debug)]
pub(crate) struct ParameterError {
    path: Vec<String>,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    /// A required member is absent.
    Missing(&'static str),
    /// The value is not what the parameter takes: "must be a string", ...
    Invalid(String),
}

impl ParameterError {
    fn within(mut self, name: String) -> Self {
        self.path.insert(0, name);
        self
    }

    fn invalid(message: String) -> Self {
        Self {
            path: Vec::new(),
            problem: Problem::Invalid(message),
        }
    }
}

impl fmt::Display for ParameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::new();
        for segment in &self.path {
            if !path.is_empty() && !segment.starts_with('[') {
                path.push('.');
            }
            path.push_str(segment);
        }
        match &self.problem {
            Problem::Missing(field) => {
                if !path.is_empty() {
                    path.push('.');
                }
                write!(f, "the parameter {path}{field} is required")
            }
            Problem::Invalid(message) if path.is_empty() => {
                write!(f, "the request body {message}")
            }
            Problem::Invalid(message) => write!(f, "the parameter {path} {message}"),
        }
    }
}

impl std::error::Error for ParameterError {}

impl de::Error for ParameterError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::invalid(message.to_string())
    }

    // The value is not repeated (serde's default message quotes it).
    fn invalid_type(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::invalid(format!("must be {expected}"))
    }

    fn invalid_value(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::invalid(format!("must be {expected}"))
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            path: Vec::new(),
            problem: Problem::Missing(field),
        }
    }
}

/// A JSON value being read as parameters.
struct Parameters(Value);

impl<'de> IntoDeserializer<'de, ParameterError> for Parameters {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Parameters {
    type Error = ParameterError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParameterError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let mut seq = Items {
                    items: items.into_iter(),
                    index: 0,
                };
                let value = visitor.visit_seq(&mut seq)?;
                match seq.items.len() {
                    0 => Ok(value),
                    _ => Err(ParameterError::invalid("has too many entries".to_owned())),
                }
            }
            Value::Object(map) => visitor.visit_map(Members {
                members: map.into_iter(),
                pending: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParameterError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(Parameters(value)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParameterError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// An object's members; `null` ones are skipped (absent). Errors reading a
/// member's value get its name in their path.
struct Members {
    members: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for Members {
    type Error = ParameterError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParameterError> {
        for (name, value) in self.members.by_ref() {
            if value.is_null() {
                continue;
            }
            let key = seed.deserialize(StringDeserializer::<ParameterError>::new(name.clone()))?;
            self.pending = Some((name, value));
            return Ok(Some(key));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParameterError> {
        let (name, value) = self
            .pending
            .take()
            .ok_or_else(|| ParameterError::invalid("has a member without a value".to_owned()))?;
        seed.deserialize(Parameters(value))
            .map_err(|e| e.within(name))
    }
}

/// An array's entries; errors reading one get its position in their path.
struct Items {
    items: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = ParameterError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParameterError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Parameters(value))
            .map(Some)
            .map_err(|e| e.within(format!("[{index}]")))
    }
}

#[cfg(test)]
mod tests {
    use sealhouse_kms::api::{
        CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext,
        GenerateDataKeyRequest, ListAuditEventsRequest, ListKeysResponse,
        UpdateRotationPolicyRequest,
    };
    use serde_json::json;

    use super::*;

    fn message<T: DeserializeOwned + fmt::Debug>(body: &[u8]) -> String {
        from_body::<T>(body).unwrap_err().message().to_owned()
    }

    #[test]
    fn errors_name_the_parameter_but_never_the_value() {
        let m = message::<EncryptRequest>(br#"{"KeyId":"k","Plaintext":"not base64 SECRET!"}"#);
        assert!(m.contains("Plaintext") && m.contains("base64"), "{m}");
        assert!(!m.contains("SECRET"), "{m}");
        let m = message::<EncryptRequest>(br#"{"KeyId":"k","Plaintext":["SECRET"]}"#);
        assert!(m.contains("Plaintext") && !m.contains("SECRET"), "{m}");
        let m = message::<EncryptRequest>(br#"{"KeyId":12345678,"Plaintext":"AA=="}"#);
        assert_eq!(m, "the parameter KeyId must be a string");
        let m = message::<GenerateDataKeyRequest>(br#"{"KeyId":"k","NumberOfBytes":"SECRET"}"#);
        assert_eq!(m, "the parameter NumberOfBytes must be an integer");
        let m = message::<DecryptRequest>(br#"{"CiphertextBlob":"AA==","EncryptionContext":[1]}"#);
        assert!(
            m.starts_with("the parameter EncryptionContext must be a JSON object"),
            "{m}"
        );
        let m = message::<EncryptRequest>(br#"{"Plaintext": SECRET}"#);
        assert!(m.contains("not valid JSON") && !m.contains("SECRET"), "{m}");
        assert_eq!(
            message::<EncryptRequest>(br#"{"Plaintext":"AA=="}"#),
            "the parameter KeyId is required"
        );
        assert_eq!(
            message::<EncryptRequest>(br#"["SECRET"]"#),
            "the request body must be a JSON object"
        );
    }

    /// `viewer_account` is set only in process by the warehouse; a body
    /// naming it (under any spelling) does not reach it.
    #[test]
    fn a_request_cannot_set_what_only_the_warehouse_sets() {
        for name in ["ViewerAccount", "viewer_account", "viewerAccount"] {
            let body = format!(r#"{{"Description":"d","{name}":"1892732288741234"}}"#);
            let r: CreateKeyRequest = from_body(body.as_bytes()).unwrap();
            assert_eq!(r.viewer_account, None, "{name}");
            assert_eq!(r.description, "d");
            assert!(to_value(&r).unwrap().get(name).is_none(), "{name}");
        }
    }

    /// A parameter of the wrong type is refused, never coerced into another
    /// value (only the documented forms: digits for integers, "true" and
    /// "false" for booleans).
    #[test]
    fn wrong_types_are_refused_not_coerced() {
        let m = message::<EncryptRequest>(br#"{"KeyId":"k","Plaintext":true}"#);
        assert_eq!(m, "the parameter Plaintext must be a base64 string");
        let m = message::<UpdateRotationPolicyRequest>(
            br#"{"KeyId":"k","EnableAutomaticRotation":"yes"}"#,
        );
        assert_eq!(
            m,
            "the parameter EnableAutomaticRotation must be true or false"
        );
    }

    #[test]
    fn nested_errors_name_their_path() {
        let m = message::<ListKeysResponse>(
            br#"{"RequestId":"r","Keys":{"Key":[{"KeyId":"a"}]},"TotalCount":1,"PageNumber":1,"PageSize":1}"#,
        );
        assert_eq!(m, "the parameter Keys.Key[0].KeyArn is required");
        let m = message::<ListKeysResponse>(
            br#"{"RequestId":"r","Keys":{"Key":[{"KeyId":"a","KeyArn":7}]},"TotalCount":1,"PageNumber":1,"PageSize":1}"#,
        );
        assert_eq!(m, "the parameter Keys.Key[0].KeyArn must be a string");
    }

    #[test]
    fn lenient_forms_and_nulls_are_read() {
        let r: UpdateRotationPolicyRequest =
            from_body(br#"{"KeyId":"k","EnableAutomaticRotation":"true","RotationInterval":"7d"}"#)
                .unwrap();
        assert!(r.enable_automatic_rotation);
        assert_eq!(r.rotation_interval.unwrap().seconds(), 7 * 86_400);
        let r: DecryptRequest =
            from_body(br#"{"CiphertextBlob":"AA==","EncryptionContext":"{\"k\":\"v\"}"}"#).unwrap();
        assert_eq!(r.encryption_context["k"], "v");
        let r: ListAuditEventsRequest =
            from_body(br#"{"PageNumber":"3","Outcome":null,"KeyId":null}"#).unwrap();
        assert_eq!((r.page_number, r.page_size, r.key_id), (3, 100, None));
        let r: ListAuditEventsRequest = from_body(b"  ").unwrap();
        assert_eq!(r, ListAuditEventsRequest::default());
    }

    #[test]
    fn values_round_trip_in_the_api_form() {
        let request = GenerateDataKeyRequest {
            key_id: "alias/k".to_owned(),
            key_spec: None,
            number_of_bytes: Some(16),
            encryption_context: EncryptionContext::from([("a".to_owned(), "1".to_owned())]),
        };
        let value = to_value(&request).unwrap();
        assert_eq!(
            value,
            json!({"KeyId": "alias/k", "NumberOfBytes": 16, "EncryptionContext": {"a": "1"}})
        );
        assert_eq!(
            from_value::<GenerateDataKeyRequest>(value).unwrap(),
            request
        );
    }
}
