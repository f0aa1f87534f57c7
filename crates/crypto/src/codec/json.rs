//! The JSON keyset of `KEYSET_TO_JSON` / `KEYSET_FROM_JSON`.
//!
//! ```json
//! {
//!     "key": [{
//!             "description": "hello world",
//!             "key_id": "r8MqZAEA8PDd3QSL",
//!             "key_meta_data": {
//!                 "key_material_origin": "Origin_ALIYUN_MAXCOMPUTE",
//!                 "key_material_type": "SYMMETRIC",
//!                 "type": "AES-GCM-256",
//!                 "value": "Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8="},
//!             "output_prefix_type": "PREFIX_ALIYUN_MAXCOMPUTE",
//!             "status": "ENABLED"}],
//!     "primary_key_id": "r8MqZAEA8PDd3QSL"}
//! ```
//!
//! Parsing accepts any JSON layout; unknown fields are refused rather than
//! dropped, so nothing in an imported keyset is silently lost. Printing
//! reproduces the original service's layout exactly (see `json_print.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::json_print::{Node, print};
use crate::error::printable_name;
use crate::keyset::{KEY_MATERIAL_SYMMETRIC, KeyParts, OUTPUT_PREFIX_MAXCOMPUTE};
use crate::{Error, KeyOrigin, KeyStatus, Keyset, KeysetProblem, SecretBytes};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysetJson {
    primary_key_id: Option<String>,
    key: Option<Vec<KeyJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyJson {
    key_meta_data: Option<KeyMetaDataJson>,
    status: Option<String>,
    key_id: Option<String>,
    output_prefix_type: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyMetaDataJson {
    r#type: Option<String>,
    value: Option<Zeroizing<String>>,
    key_material_type: Option<String>,
    key_material_origin: Option<String>,
}

impl Keyset {
    /// Parses a JSON keyset and checks every rule of keysets.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let parsed: KeysetJson =
            serde_json::from_str(text).map_err(|e| Error::MalformedKeyset {
                format: "JSON",
                detail: redact_long_quotes(&e.to_string()),
            })?;
        let parts = parsed
            .key
            .unwrap_or_default()
            .into_iter()
            .map(KeyJson::into_parts)
            .collect::<Result<_, _>>()?;
        Self::from_parts(parsed.primary_key_id, parts)
    }

    /// The JSON keyset, laid out as the original service prints it. The text
    /// holds key material in base64: it is zeroed when dropped.
    pub fn to_json(&self) -> Zeroizing<String> {
        let keys = self
            .keys()
            .iter()
            .map(|k| {
                let mut meta = vec![
                    ("key_material_origin", Node::text(k.origin().name())),
                    ("key_material_type", Node::text(KEY_MATERIAL_SYMMETRIC.1)),
                    ("type", Node::text(k.algorithm().name())),
                ];
                if let Some(material) = k.material() {
                    meta.push((
                        "value",
                        Node::Secret(Zeroizing::new(STANDARD.encode(material.expose()))),
                    ));
                }
                let mut fields = Vec::with_capacity(5);
                if let Some(d) = k.description() {
                    fields.push(("description", Node::text(d)));
                }
                fields.extend([
                    ("key_id", Node::text(k.id().as_str())),
                    ("key_meta_data", Node::Object(meta)),
                    ("output_prefix_type", Node::text(OUTPUT_PREFIX_MAXCOMPUTE.1)),
                    ("status", Node::text(k.status().name())),
                ]);
                Node::Object(fields)
            })
            .collect();
        let root = Node::Object(vec![
            ("key", Node::Array(keys)),
            ("primary_key_id", Node::text(self.primary_key_id().as_str())),
        ]);
        print(&root)
    }
}

impl KeyJson {
    fn into_parts(self) -> Result<KeyParts, Error> {
        let id = self.key_id.clone().unwrap_or_default();
        let enum_field = |field: &str,
                          value: Option<String>,
                          known: &[(i32, &str)]|
         -> Result<Option<i32>, Error> {
            let Some(name) = value else { return Ok(None) };
            match known.iter().find(|(_, n)| *n == name) {
                Some((wire, _)) => Ok(Some(*wire)),
                None => Err(Error::InvalidKeyset(KeysetProblem::BadKey {
                    key_id: id.clone(),
                    detail: format!(
                        "{field} {} is not one of {}",
                        printable_name(&name),
                        known.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
                    ),
                })),
            }
        };
        let statuses = KeyStatus::ALL.map(|s| (s.wire(), s.name()));
        let origins = KeyOrigin::ALL.map(|o| (o.wire(), o.name()));
        let meta = self.key_meta_data.unwrap_or(KeyMetaDataJson {
            r#type: None,
            value: None,
            key_material_type: None,
            key_material_origin: None,
        });
        let value = match meta.value {
            None => None,
            Some(text) => Some(SecretBytes::new(STANDARD.decode(text.as_bytes()).map_err(
                |_| {
                    Error::InvalidKeyset(KeysetProblem::BadKey {
                        key_id: id.clone(),
                        detail: "key_meta_data.value is not base64 text".into(),
                    })
                },
            )?)),
        };
        Ok(KeyParts {
            key_material_type: enum_field(
                "key_material_type",
                meta.key_material_type,
                &[KEY_MATERIAL_SYMMETRIC],
            )?,
            origin: enum_field("key_material_origin", meta.key_material_origin, &origins)?,
            status: enum_field("status", self.status, &statuses)?,
            output_prefix_type: enum_field(
                "output_prefix_type",
                self.output_prefix_type,
                &[OUTPUT_PREFIX_MAXCOMPUTE],
            )?,
            key_id: self.key_id,
            type_name: meta.r#type,
            value,
            description: self.description,
        })
    }
}

/// serde_json quotes offending values in some messages ("invalid type:
/// string \"...\""). A value long enough to be key material (32 bytes is 44
/// base64 characters) is replaced, in case key material sits in the wrong
/// field.
fn redact_long_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        match after.find(quote) {
            Some(end) => {
                let inner = &after[..end];
                if inner.len() > 40 {
                    out.push_str(&format!(
                        "(a value of {} characters, not shown)",
                        inner.len()
                    ));
                } else {
                    out.push_str(inner);
                }
                out.push(quote);
                rest = &after[end + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    const DOCUMENTED: &str = "{\n    \"key\": [{\n            \"description\": \"hello world\",\n            \"key_id\": \"r8MqZAEA8PDd3QSL\",\n            \"key_meta_data\": {\n                \"key_material_origin\": \"Origin_ALIYUN_MAXCOMPUTE\",\n                \"key_material_type\": \"SYMMETRIC\",\n                \"type\": \"AES-GCM-256\",\n                \"value\": \"Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8=\"},\n            \"output_prefix_type\": \"PREFIX_ALIYUN_MAXCOMPUTE\",\n            \"status\": \"ENABLED\"}],\n    \"primary_key_id\": \"r8MqZAEA8PDd3QSL\"}";

    #[test]
    fn documented_json_prints_back_exactly() {
        let ks = Keyset::from_json(DOCUMENTED).expect("parses");
        assert_eq!(ks.to_json().as_str(), DOCUMENTED);
    }

    #[test]
    fn json_and_binary_agree() {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "café \"quoted\"").expect("new");
        ks.add_raw_key(
            Algorithm::AesSivCmac128,
            SecretBytes::from_slice(&[9; 32]),
            "",
        )
        .expect("add");
        let via_json = Keyset::from_json(&ks.to_json()).expect("json parses");
        assert_eq!(via_json.to_bytes(), ks.to_bytes());
    }

    #[test]
    fn errors_name_the_problem_without_material() {
        let unknown_field = DOCUMENTED.replace("\"status\"", "\"state\"");
        let msg = Keyset::from_json(&unknown_field).unwrap_err().to_string();
        assert!(
            msg.contains("unknown field") && msg.contains("state"),
            "{msg}"
        );

        let bad_status = DOCUMENTED.replace("\"ENABLED\"", "\"ON\"");
        let msg = Keyset::from_json(&bad_status).unwrap_err().to_string();
        assert!(
            msg.contains("status 'ON' is not one of ENABLED, DISABLED, DESTROYED"),
            "{msg}"
        );

        let misplaced = DOCUMENTED.replace(
            "\"ENABLED\"",
            "\"Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8=\"",
        );
        let msg = Keyset::from_json(&misplaced).unwrap_err().to_string();
        assert!(!msg.contains("Jqj7"), "{msg}");

        let misplaced = DOCUMENTED.replace(
            "\"key_meta_data\": {",
            "\"key_meta_data\": \"Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8=\", \"x\": {",
        );
        let msg = Keyset::from_json(&misplaced).unwrap_err().to_string();
        assert!(!msg.contains("Jqj7"), "{msg}");

        let short = DOCUMENTED.replace("Jqj7ESbfT1td0DwYDmkZVl13FsuykYFe+1u/MPi++a8=", "AAAA");
        let msg = Keyset::from_json(&short).unwrap_err().to_string();
        assert!(
            msg.contains("needs a 32-byte key but the value is 3 bytes"),
            "{msg}"
        );

        let msg = Keyset::from_json("{\"key\": [").unwrap_err().to_string();
        assert!(msg.starts_with("malformed keyset JSON"), "{msg}");
    }

    #[test]
    fn redaction_keeps_short_quotes() {
        assert_eq!(
            redact_long_quotes("unknown field `state`, expected `a`"),
            "unknown field `state`, expected `a`"
        );
        let long = format!("invalid type: string \"{}\"", "x".repeat(44));
        assert_eq!(
            redact_long_quotes(&long),
            "invalid type: string \"(a value of 44 characters, not shown)\""
        );
    }
}
