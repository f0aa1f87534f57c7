//! `GET_JSON_OBJECT(json, path)` → STRING: the value at `path` in the JSON
//! text `json`, as the original service has it (it is how scripts read
//! USE_WRAPPED_KEYSET's `wrapped_keyset_info`).
//!
//! The path starts at `$` and goes down by `.name`, `['name']` and `[n]`
//! (array index from 0). A string value comes back without its quotes, an
//! object or array as JSON text, a JSON null or a missing value as NULL.
//! JSON text that does not parse gives NULL, as in the original (it is
//! data); a path that does not parse is an error saying what is wrong (it
//! is part of the query).

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use serde_json::Value;

use super::args::{FunctionSpec, Kind, Text, all_scalar, exec, per_row};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "GET_JSON_OBJECT",
    params: &[("json", Kind::Text), ("path", Kind::Text)],
    required: 2,
    returns: DataType::Utf8,
    volatility: Volatility::Immutable,
};

pub(crate) struct GetJsonObject;

impl SqlFunction for GetJsonObject {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let (texts, paths) = (Text::of(&args[0])?, Text::of(&args[1])?);
        // A constant path (the usual case) is parsed once.
        let constant = match &args[1] {
            ColumnarValue::Scalar(_) => paths.get(0).map(parse_path).transpose()?,
            ColumnarValue::Array(_) => None,
        };
        per_row(rows, all_scalar(args), &DataType::Utf8, |row| {
            let (Some(text), Some(path)) = (texts.get(row), paths.get(row)) else {
                return Ok(None);
            };
            let parsed;
            let steps = match &constant {
                Some(steps) => steps,
                None => {
                    parsed = parse_path(path)?;
                    &parsed
                }
            };
            let Ok(json) = serde_json::from_str::<Value>(text) else {
                return Ok(None);
            };
            Ok(lookup(&json, steps).and_then(shown).map(String::into_bytes))
        })
    }
}

/// One step down a path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Step>> {
    let bad = |why: &str| {
        exec(
            SPEC.function,
            format!(
                "the path '{}' {why}; write paths as $.name, $['name'] or $.list[0]",
                path.chars().take(100).collect::<String>()
            ),
        )
    };
    let mut rest = path
        .trim()
        .strip_prefix('$')
        .ok_or_else(|| bad("does not start with $"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name == "*" {
                return Err(bad("has an empty or wildcard field name"));
            }
            steps.push(Step::Field(name.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| bad("has a [ without ]"))?;
            let inside = after[..end].trim();
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            steps.push(match quoted {
                Some(name) => Step::Field(name.to_owned()),
                None => Step::Index(
                    inside
                        .parse()
                        .map_err(|_| bad("has an index that is not a whole number"))?,
                ),
            });
            rest = &after[end + 1..];
        } else {
            return Err(bad("has something other than .name or [...] after a step"));
        }
    }
    Ok(steps)
}

fn lookup<'a>(json: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(json, |value, step| match step {
        Step::Field(name) => value.as_object()?.get(name),
        Step::Index(i) => value.as_array()?.get(*i),
    })
}

/// A value as GET_JSON_OBJECT returns it.
fn shown(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(json: &str, path: &str) -> Option<String> {
        let json: Value = serde_json::from_str(json).expect("json");
        lookup(&json, &parse_path(path).expect("path")).and_then(shown)
    }

    #[test]
    fn paths_reach_fields_and_elements() {
        let doc = r#"{"a": {"b": [{"t": "AES-GCM-256"}, 7]}, "s": "x", "n": null, "k.y": 1}"#;
        assert_eq!(get(doc, "$.a.b[0].t").as_deref(), Some("AES-GCM-256"));
        assert_eq!(get(doc, "$['a']['b'][1]").as_deref(), Some("7"));
        assert_eq!(get(doc, "$.s").as_deref(), Some("x"));
        assert_eq!(
            get(doc, "$.a.b[0]").as_deref(),
            Some(r#"{"t":"AES-GCM-256"}"#)
        );
        assert_eq!(get(doc, "$[\"k.y\"]").as_deref(), Some("1"));
        assert_eq!(get(doc, "$").map(|s| s.len() > 10), Some(true));
        assert_eq!(get(doc, "$.n"), None);
        assert_eq!(get(doc, "$.missing"), None);
        assert_eq!(get(doc, "$.a.b[9]"), None);
        assert_eq!(get(doc, "$.s.deeper"), None);
    }

    proptest::proptest! {
        // Any path text parses or is refused, never panics; any path that
        // parses looks anything up without panicking.
        #[test]
        fn any_path_parses_or_is_refused(path in "\\PC{0,40}", json in "\\PC{0,40}") {
            if let Ok(steps) = parse_path(&path)
                && let Ok(value) = serde_json::from_str::<Value>(&json)
            {
                let _ = lookup(&value, &steps).and_then(shown);
            }
        }

        #[test]
        fn path_like_text_parses_or_is_refused(path in "[$][.\\[\\]'\"a-z0-9* ]{0,24}") {
            let doc: Value = serde_json::from_str(r#"{"a": [1, {"b": "c"}], "x": {"y": null}}"#)
                .expect("json");
            if let Ok(steps) = parse_path(&path) {
                let _ = lookup(&doc, &steps).and_then(shown);
            }
        }
    }

    #[test]
    fn malformed_paths_say_what_is_wrong() {
        for (path, why) in [
            ("a.b", "does not start with $"),
            ("$.", "empty or wildcard"),
            ("$.*", "empty or wildcard"),
            ("$[1", "without ]"),
            ("$[x]", "not a whole number"),
            ("$a", "other than .name"),
        ] {
            let e = parse_path(path).expect_err(path).to_string();
            assert!(e.contains(why), "{path}: {e}");
        }
    }
}
