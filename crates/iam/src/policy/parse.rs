//! The parts of the document grammar that policies and trust policies share:
//! the `{"Version":"1","Statement":[...]}` envelope, `Effect`, and fields that
//! take a string or a list of strings.

use serde_json::{Map, Value};

use super::PolicyError;

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The statement grants.
    Allow,
    /// The statement forbids; an explicit deny overrides every allow.
    Deny,
}

/// A statement's JSON object and its path (`Statement[2]`).
pub(crate) type StatementObject = (Map<String, Value>, String);

/// Parses the envelope and returns each statement object with its path.
pub(crate) fn statements(text: &str) -> Result<Vec<StatementObject>, PolicyError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| PolicyError::at("", format!("not valid JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(PolicyError::at(
            "",
            "a policy is a JSON object {\"Version\":\"1\",\"Statement\":[...]}",
        ));
    };
    only_keys(&top, "", &["Version", "Statement"])?;
    match top.get("Version") {
        Some(Value::String(v)) if v == "1" => {}
        Some(other) => {
            return Err(PolicyError::at(
                "Version",
                format!("the only supported version is \"1\" (a string), not {other}"),
            ));
        }
        None => {
            return Err(PolicyError::at(
                "",
                "Version is missing; add \"Version\": \"1\"",
            ));
        }
    }
    let list = match top.remove("Statement") {
        Some(Value::Array(list)) => list,
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(PolicyError::at(
                "Statement",
                "Statement is a list of statement objects",
            ));
        }
        None => return Err(PolicyError::at("", "Statement is missing")),
    };
    if list.is_empty() {
        return Err(PolicyError::at(
            "Statement",
            "the list is empty; a policy needs at least one statement",
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let path = format!("Statement[{i}]");
            match s {
                Value::Object(map) => Ok((map, path)),
                _ => Err(PolicyError::at(&path, "a statement is a JSON object")),
            }
        })
        .collect()
}

/// Fails on a key not in `allowed`, naming the ones that are.
pub(crate) fn only_keys(
    map: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
) -> Result<(), PolicyError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = match key.as_str() {
                "Principal" => {
                    "; Principal belongs in a role's trust policy, not in a permission policy"
                        .to_owned()
                }
                "Resource" | "NotResource" => {
                    "; a trust policy applies to its role and names no Resource".to_owned()
                }
                _ => format!("; allowed fields are {}", allowed.join(", ")),
            };
            let at = if path.is_empty() {
                "the document"
            } else {
                path
            };
            return Err(PolicyError::at(
                path,
                format!("unknown field '{key}' in {at}{hint}"),
            ));
        }
    }
    Ok(())
}

/// Parses the statement's `Effect`.
pub(crate) fn effect(map: &Map<String, Value>, path: &str) -> Result<Effect, PolicyError> {
    match map.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Value::String(s)) if s == "Deny" => Ok(Effect::Deny),
        Some(other) => Err(PolicyError::at(
            &format!("{path}.Effect"),
            format!("Effect must be \"Allow\" or \"Deny\", not {other}"),
        )),
        None => Err(PolicyError::at(
            path,
            "Effect is missing; add \"Effect\": \"Allow\" or \"Deny\"",
        )),
    }
}

/// Parses a field holding a string or a non-empty list of non-empty strings.
pub(crate) fn string_list(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(PolicyError::at(path, "an entry is the empty string")),
        other => Err(PolicyError::at(
            path,
            format!("entries are strings, not {other}"),
        )),
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(PolicyError::at(
            path,
            "the list is empty; name at least one entry",
        )),
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}
