//! The binary keyset: protobuf messages with explicit field presence.
//!
//! ```text
//! Keyset      { 1: primary_key_id string, 2: key repeated Key }
//! Key         { 1: key_meta_data KeyMetaData, 2: status enum, 3: key_id string,
//!               4: output_prefix_type enum, 5: description string }
//! KeyMetaData { 1: type string, 2: value bytes, 3: key_material_type enum,
//!               4: key_material_origin enum }
//! ```
//!
//! Fields are proto2-style optional: present-but-empty and absent are kept
//! apart (the original writes `description: ""` for some keys and omits it for
//! others), and encoding emits fields in number order, as the original does.

use prost::Message;
use zeroize::Zeroize;

use crate::keyset::{KEY_MATERIAL_SYMMETRIC, KeyParts, OUTPUT_PREFIX_MAXCOMPUTE};
use crate::{Error, Keyset, SecretBytes};

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct KeysetProto {
    #[prost(string, optional, tag = "1")]
    primary_key_id: Option<String>,
    #[prost(message, repeated, tag = "2")]
    key: Vec<KeyProto>,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct KeyProto {
    #[prost(message, optional, tag = "1")]
    key_meta_data: Option<KeyMetaDataProto>,
    #[prost(int32, optional, tag = "2")]
    status: Option<i32>,
    #[prost(string, optional, tag = "3")]
    key_id: Option<String>,
    #[prost(int32, optional, tag = "4")]
    output_prefix_type: Option<i32>,
    #[prost(string, optional, tag = "5")]
    description: Option<String>,
}

/// Holds key material, so it has no `Debug` and zeroes `value` when dropped.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct KeyMetaDataProto {
    #[prost(string, optional, tag = "1")]
    r#type: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    value: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "3")]
    key_material_type: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    key_material_origin: Option<i32>,
}

impl Drop for KeyMetaDataProto {
    fn drop(&mut self) {
        if let Some(value) = self.value.as_mut() {
            value.zeroize();
        }
    }
}

impl Keyset {
    /// Parses a binary keyset and checks every rule of keysets.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let proto = KeysetProto::decode(bytes).map_err(|e| Error::MalformedKeyset {
            format: "bytes",
            detail: format!(
                "{e}; a keyset is the BINARY value NEW_KEYSET or KEYSET_FROM_JSON returns \
                 (did you pass its HEX or BASE64 text instead of the bytes?)"
            ),
        })?;
        let primary = proto.primary_key_id.clone();
        let parts = proto
            .key
            .into_iter()
            .map(|mut k| {
                let mut meta = k.key_meta_data.take().unwrap_or_default();
                KeyParts {
                    key_id: k.key_id.take(),
                    type_name: meta.r#type.take(),
                    value: meta.value.take().map(SecretBytes::new),
                    key_material_type: meta.key_material_type,
                    origin: meta.key_material_origin,
                    status: k.status,
                    output_prefix_type: k.output_prefix_type,
                    description: k.description.take(),
                }
            })
            .collect();
        Self::from_parts(primary, parts)
    }

    /// The binary keyset. The result holds key material: it zeroes itself
    /// when dropped and does not print.
    pub fn to_bytes(&self) -> SecretBytes {
        let proto = KeysetProto {
            primary_key_id: Some(self.primary_key_id().to_string()),
            key: self
                .keys()
                .iter()
                .map(|k| KeyProto {
                    key_meta_data: Some(KeyMetaDataProto {
                        r#type: Some(k.algorithm().name().to_owned()),
                        value: k.material().map(|m| m.expose().to_vec()),
                        key_material_type: Some(KEY_MATERIAL_SYMMETRIC.0),
                        key_material_origin: Some(k.origin().wire()),
                    }),
                    status: Some(k.status().wire()),
                    key_id: Some(k.id().to_string()),
                    output_prefix_type: Some(OUTPUT_PREFIX_MAXCOMPUTE.0),
                    description: k.description().map(str::to_owned),
                })
                .collect(),
        };
        SecretBytes::new(proto.encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, KeysetProblem};

    // The keyset of the original service's KEYSET_FROM_JSON / KEYSET_TO_JSON pages.
    const DOCUMENTED: &str = "0A1072384D715A414541385044643351534C12580A330A0B4145532D47434D2D323536122026A8FB1126DF4F5B5DD03C180E6919565D7716CBB291815EFB5BBF30F8BEF9AF1801200210011A1072384D715A414541385044643351534C20022A0B68656C6C6F20776F726C64";

    #[test]
    fn documented_keyset_round_trips_byte_for_byte() {
        let bytes = hex::decode(DOCUMENTED).expect("hex");
        let ks = Keyset::from_bytes(&bytes).expect("parses");
        assert_eq!(ks.primary_key_id().as_str(), "r8MqZAEA8PDd3QSL");
        assert_eq!(ks.to_bytes().expose(), bytes.as_slice());
    }

    #[test]
    fn garbage_and_text_are_refused_with_a_hint() {
        let err = Keyset::from_bytes(DOCUMENTED.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedKeyset {
                    format: "bytes",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("HEX"), "{err}");
        assert_eq!(
            Keyset::from_bytes(&[]).unwrap_err(),
            Error::InvalidKeyset(KeysetProblem::Empty)
        );
    }

    #[test]
    fn destroyed_keys_are_written_without_material() {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "d").expect("new");
        let old = ks.primary_key_id().clone();
        let material = ks.primary().material().expect("material").expose().to_vec();
        ks.rotate(Algorithm::AesGcm256, None).expect("rotate");
        ks.destroy(&old).expect("destroy");
        let bytes = ks.to_bytes();
        assert!(!bytes.expose().windows(32).any(|w| w == material.as_slice()));
        let back = Keyset::from_bytes(bytes.expose()).expect("parses");
        assert!(back.key(&old).expect("kept").material().is_none());
        assert_eq!(back.to_bytes(), bytes);
    }
}
