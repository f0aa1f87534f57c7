//! How the API's values look in JSON, for the `#[serde(...)]` attributes of
//! the request and response types: bytes as standard base64 with padding,
//! times as RFC 3339 in UTC, encryption contexts as objects of strings (or a
//! string holding one, as the cloud's SDKs send it), lists in the cloud's
//! wrapping (`"Keys": {"Key": [...]}`), and integers and booleans also as
//! strings, as the cloud's form-style clients send them.
//!
//! Every error here says what the value must be and never repeats the value
//! (a plaintext sent in the wrong parameter must not reach a message or a
//! log); the HTTP layer puts the parameter's name in front.

use std::fmt;
use std::marker::PhantomData;

use ::base64::Engine;
use ::base64::engine::general_purpose::STANDARD;
use sealhouse_crypto::SecretBytes;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::types::EncryptionContext;

/// A JSON scalar of any type, so that a value of the wrong type becomes our
/// message rather than serde's (which quotes it).
enum Scalar {
    Text(String),
    Int(i128),
    Bool(bool),
    Other,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or `must` as the error.
fn text<'de, D: Deserializer<'de>>(d: D, must: &'static str) -> Result<String, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Text(s) => Ok(s),
        _ => Err(de::Error::custom(must)),
    }
}

/// A string of the API's spelling of a value, parsed by `parse`; `must` says
/// which spellings are valid (the value is not repeated).
pub(crate) fn parsed<'de, D: Deserializer<'de>, T, E>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, E>,
    must: impl FnOnce() -> String,
) -> Result<T, D::Error> {
    let s = text(d, "must be a string")?;
    parse(&s).map_err(|_| de::Error::custom(must()))
}

/// Bytes as standard base64 with padding.
pub(crate) mod base64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = text(d, "must be a base64 string")?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|_| de::Error::custom("is not valid base64 (standard alphabet, with padding)"))
    }
}

/// Secret bytes as base64: the decoded bytes go straight into a
/// [`SecretBytes`].
pub(crate) mod secret_base64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
        base64::serialize(bytes.expose(), s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
        base64::deserialize(d).map(SecretBytes::new)
    }
}

/// An encryption context: a JSON object whose values are strings, or a
/// string holding one. Absent is empty (with `#[serde(default)]`).
pub(crate) mod context {
    use super::*;

    const MUST: &str =
        "must be a JSON object whose values are strings, such as {\"table\":\"orders\"}";

    pub(crate) fn serialize<S: Serializer>(c: &EncryptionContext, s: S) -> Result<S::Ok, S::Error> {
        c.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<EncryptionContext, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EncryptionContext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MUST)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut context = EncryptionContext::new();
                while let Some(key) = map.next_key::<String>()? {
                    match map.next_value::<Scalar>()? {
                        Scalar::Text(value) => context.insert(key, value),
                        _ => return Err(de::Error::custom(MUST)),
                    };
                }
                Ok(context)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                serde_json::from_str::<EncryptionContext>(v).map_err(|_| E::custom(MUST))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(EncryptionContext::new())
            }
        }
        d.deserialize_any(V)
            .map_err(|_: D::Error| de::Error::custom(MUST))
    }
}

/// The integers in a JSON number or a string of digits.
fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Int(n) => Ok(n),
        Scalar::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom("must be an integer")),
        _ => Err(de::Error::custom("must be an integer")),
    }
}

/// An integer from 0 to `u32::MAX`.
pub(crate) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    u32::try_from(integer(d)?)
        .map_err(|_| de::Error::custom(format!("is out of range; use 0 to {}", u32::MAX)))
}

/// An optional integer from 0 to `u32::MAX`.
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    u32(d).map(Some)
}

/// A non-negative integer.
pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    u64::try_from(integer(d)?).map_err(|_| de::Error::custom("must not be negative"))
}

/// A 64-bit integer.
pub(crate) fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    i64::try_from(integer(d)?).map_err(|_| de::Error::custom("is out of range"))
}

/// An optional 64-bit integer.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    i64(d).map(Some)
}

/// `true` or `false`, or those words as strings.
pub(crate) fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Bool(b) => Ok(b),
        Scalar::Text(s) if s == "true" => Ok(true),
        Scalar::Text(s) if s == "false" => Ok(false),
        _ => Err(de::Error::custom("must be true or false")),
    }
}

/// A time, RFC 3339 in UTC (`2024-05-20T06:34:21Z`; fractions of a second
/// only when there are any).
pub(crate) mod rfc3339 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let utc = t.to_offset(time::UtcOffset::UTC);
        let text = utc.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        parsed(
            d,
            |s| OffsetDateTime::parse(s, &Rfc3339),
            || "is not an RFC 3339 time such as 2024-05-20T06:34:21Z".to_owned(),
        )
    }
}

/// An optional time (with `#[serde(default)]`).
pub(crate) mod opt_rfc3339 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        rfc3339::deserialize(d).map(Some)
    }
}

/// A list in the cloud's wrapping, `{"<Item>": [...]}`, written that way and
/// read that way or as a plain array.
pub(crate) fn serialize_list<S: Serializer, T: Serialize>(
    item: &'static str,
    items: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(item, items)?;
    map.end()
}

/// Reads what [`serialize_list`] writes, or a plain array.
pub(crate) fn deserialize_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    item: &'static str,
    d: D,
) -> Result<Vec<T>, D::Error> {
    struct V<T> {
        item: &'static str,
        marker: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == self.item {
                    items = map.next_value()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(items)
        }
    }
    d.deserialize_any(V {
        item,
        marker: PhantomData,
    })
}

/// A module for `#[serde(with = ...)]` of a list whose items are wrapped in
/// `{"<Item>": [...]}`.
macro_rules! wrapped_list {
    ($module:ident, $item:literal) => {
        #[doc = concat!("A list wrapped in `{\"", $item, "\": [...]}`.")]
        pub(crate) mod $module {
            pub(crate) fn serialize<S: serde::Serializer, T: serde::Serialize>(
                items: &[T],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                super::serialize_list($item, items, s)
            }

            pub(crate) fn deserialize<
                'de,
                D: serde::Deserializer<'de>,
                T: serde::Deserialize<'de>,
            >(
                d: D,
            ) -> Result<Vec<T>, D::Error> {
                super::deserialize_list($item, d)
            }
        }
    };
}

wrapped_list!(keys, "Key");
wrapped_list!(key_versions, "KeyVersion");
wrapped_list!(aliases, "Alias");
wrapped_list!(events, "Event");

/// `Serialize` and `Deserialize` for a type that prints as the API spells
/// it and parses with `parse`; `$must` says what a valid value is.
macro_rules! api_string_serde {
    ($name:ty, $must:expr) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::api::json_form::parsed(d, <$name>::parse, $must)
            }
        }
    };
}

pub(crate) use api_string_serde;
