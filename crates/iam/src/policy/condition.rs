//! `Condition` blocks: `{"<operator>": {"<key>": value | [values]}}`.
//!
//! Semantics, fixed here and in `docs/iam.md`:
//!
//! - A statement's conditions all must hold (AND across operators and keys);
//!   one key's values are alternatives (OR across values).
//! - Positive operators (`StringEquals`, `IpAddress`, `NumericLessThan`, ...)
//!   are false when the request lacks the key, or when its value does not parse
//!   for the operator (a number, an RFC 3339 time, an IP address, a boolean).
//! - Negated operators (`StringNotEquals`, `StringNotEqualsIgnoreCase`,
//!   `StringNotLike`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) are
//!   exactly the negation of their positive partner, the request value
//!   matching none of the listed values. So a missing key makes them true, as
//!   in the cloud: `Deny` with `NotIpAddress` denies a request whose source is
//!   unknown. To require the key as well, add a positive condition on it.
//! - Every operator also has an `...IfExists` form, true when the key is
//!   missing and otherwise the plain operator.
//! - Condition keys are case-insensitive. Values compare case-sensitively
//!   except under `...IgnoreCase` (Unicode lower case of both sides).
//!   `StringLike` uses the wildcards of `wildcard.rs`.
//!
//! Policy values are checked when the document is parsed: numbers must be
//! finite, dates RFC 3339, blocks valid CIDR, booleans `true` or `false`.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PolicyError;
use super::context::RequestContext;
use super::ip::Cidr;
use super::wildcard;

/// A condition operator, without its `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // The names are the cloud's operator names.
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

impl Operator {
    /// Every operator, in the order error messages list them.
    pub const ALL: [Self; 21] = {
        use Operator::*;
        [
            StringEquals,
            StringNotEquals,
            StringEqualsIgnoreCase,
            StringNotEqualsIgnoreCase,
            StringLike,
            StringNotLike,
            NumericEquals,
            NumericNotEquals,
            NumericLessThan,
            NumericLessThanEquals,
            NumericGreaterThan,
            NumericGreaterThanEquals,
            DateEquals,
            DateNotEquals,
            DateLessThan,
            DateLessThanEquals,
            DateGreaterThan,
            DateGreaterThanEquals,
            Bool,
            IpAddress,
            NotIpAddress,
        ]
    };

    /// The operator's name as policies spell it.
    pub fn name(self) -> &'static str {
        use Operator::*;
        match self {
            StringEquals => "StringEquals",
            StringNotEquals => "StringNotEquals",
            StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            StringLike => "StringLike",
            StringNotLike => "StringNotLike",
            NumericEquals => "NumericEquals",
            NumericNotEquals => "NumericNotEquals",
            NumericLessThan => "NumericLessThan",
            NumericLessThanEquals => "NumericLessThanEquals",
            NumericGreaterThan => "NumericGreaterThan",
            NumericGreaterThanEquals => "NumericGreaterThanEquals",
            DateEquals => "DateEquals",
            DateNotEquals => "DateNotEquals",
            DateLessThan => "DateLessThan",
            DateLessThanEquals => "DateLessThanEquals",
            DateGreaterThan => "DateGreaterThan",
            DateGreaterThanEquals => "DateGreaterThanEquals",
            Bool => "Bool",
            IpAddress => "IpAddress",
            NotIpAddress => "NotIpAddress",
        }
    }

    /// The positive partner of a negated operator, or `None` for a positive one.
    fn negation_of(self) -> Option<Self> {
        use Operator::*;
        Some(match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            _ => return None,
        })
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Values of one condition, parsed for its operator.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Dates(Vec<OffsetDateTime>),
    Bools(Vec<bool>),
    Blocks(Vec<Cidr>),
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    operator: Operator,
    if_exists: bool,
    key: String,
    values: Values,
}

impl Condition {
    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The condition key as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the condition holds for `ctx`.
    pub fn holds(&self, ctx: &RequestContext) -> bool {
        let Some(value) = ctx.get(&self.key) else {
            return self.if_exists || self.operator.negation_of().is_some();
        };
        match self.operator.negation_of() {
            Some(positive) => !self.any_value_matches(positive, value),
            None => self.any_value_matches(self.operator, value),
        }
    }

    fn any_value_matches(&self, op: Operator, value: &str) -> bool {
        use Operator::*;
        match &self.values {
            Values::Strings(list) => list.iter().any(|x| match op {
                StringEquals => value == x,
                StringEqualsIgnoreCase => value.to_lowercase() == x.to_lowercase(),
                _ => wildcard::matches(x, value, false),
            }),
            Values::Numbers(list) => parse_number(value).is_some_and(|v| {
                list.iter().any(|&x| match op {
                    NumericEquals => v == x,
                    NumericLessThan => v < x,
                    NumericLessThanEquals => v <= x,
                    NumericGreaterThan => v > x,
                    _ => v >= x,
                })
            }),
            Values::Dates(list) => parse_date(value).is_some_and(|v| {
                list.iter().any(|&x| match op {
                    DateEquals => v == x,
                    DateLessThan => v < x,
                    DateLessThanEquals => v <= x,
                    DateGreaterThan => v > x,
                    _ => v >= x,
                })
            }),
            Values::Bools(list) => parse_bool(value).is_some_and(|v| list.contains(&v)),
            Values::Blocks(list) => value
                .parse::<IpAddr>()
                .is_ok_and(|ip| list.iter().any(|c| c.contains(ip))),
        }
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    text.parse::<f64>()
        .ok()
        .filter(|v| looks_numeric && v.is_finite())
}

fn parse_date(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses a statement's `Condition` object; `path` locates it for errors.
pub(crate) fn parse_block(block: &Value, path: &str) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = block else {
        return Err(PolicyError::at(
            path,
            "Condition must be an object of {\"<operator>\": {\"<key>\": <values>}}",
        ));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let op_path = format!("{path}.{op_name}");
        let base = op_name.strip_suffix("IfExists").unwrap_or(op_name);
        let Some(operator) = Operator::parse(base) else {
            return Err(PolicyError::at(&op_path, unknown_operator(op_name)));
        };
        let Value::Object(keys) = keys else {
            return Err(PolicyError::at(
                &op_path,
                "an operator takes an object of {\"<key>\": <value or list of values>}",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::at(&op_path, "names no condition key"));
        }
        for (key, raw) in keys {
            let key_path = format!("{op_path}.{key}");
            if key.is_empty() {
                return Err(PolicyError::at(&op_path, "a condition key is empty"));
            }
            let texts = value_texts(raw, &key_path)?;
            out.push(Condition {
                operator,
                if_exists: base.len() != op_name.len(),
                key: key.clone(),
                values: parse_values(operator, texts, &key_path)?,
            });
        }
    }
    Ok(out)
}

fn unknown_operator(name: &str) -> String {
    let names: Vec<&str> = Operator::ALL.iter().map(|op| op.name()).collect();
    let hint = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name.strip_suffix("IfExists").unwrap_or(name)))
        .map(|n| format!(" (did you mean {n}?)"))
        .unwrap_or_default();
    format!(
        "unknown condition operator '{name}'{hint}; valid operators are {}, each also with the suffix IfExists",
        names.join(", ")
    )
}

fn value_texts(raw: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::at(
            path,
            "a condition value is a string, number or boolean",
        )),
    };
    match raw {
        Value::Array(items) if items.is_empty() => {
            Err(PolicyError::at(path, "the list of values is empty"))
        }
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_values(op: Operator, texts: Vec<String>, path: &str) -> Result<Values, PolicyError> {
    use Operator::*;
    let each = |parse: &dyn Fn(&str) -> Result<(), String>| -> Result<(), PolicyError> {
        for t in &texts {
            parse(t).map_err(|e| PolicyError::at(path, format!("{} {e}", op.name())))?;
        }
        Ok(())
    };
    let base = op.negation_of().unwrap_or(op);
    Ok(match base {
        StringEquals | StringEqualsIgnoreCase | StringLike => Values::Strings(texts),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => {
            each(&|t| {
                parse_number(t)
                    .map(drop)
                    .ok_or_else(|| format!("takes numbers; '{t}' is not a finite number"))
            })?;
            Values::Numbers(texts.iter().filter_map(|t| parse_number(t)).collect())
        }
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => {
            each(&|t| {
                parse_date(t).map(drop).ok_or_else(|| {
                    format!("takes RFC 3339 times such as 2026-01-31T12:00:00Z; '{t}' is not one")
                })
            })?;
            Values::Dates(texts.iter().filter_map(|t| parse_date(t)).collect())
        }
        Bool => {
            each(&|t| {
                parse_bool(t)
                    .map(drop)
                    .ok_or_else(|| format!("takes true or false; '{t}' is neither"))
            })?;
            Values::Bools(texts.iter().filter_map(|t| parse_bool(t)).collect())
        }
        _ => {
            let mut blocks = Vec::with_capacity(texts.len());
            for t in &texts {
                blocks.push(
                    Cidr::parse(t)
                        .map_err(|e| PolicyError::at(path, format!("{} {e}", op.name())))?,
                );
            }
            Values::Blocks(blocks)
        }
    })
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
