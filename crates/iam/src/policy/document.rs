//! Permission policy documents, the spec's grammar:
//!
//! ```json
//! {"Version": "1",
//!  "Statement": [{"Effect": "Allow" | "Deny",
//!                 "Action" | "NotAction": "<service>:<action>" | [...],
//!                 "Resource" | "NotResource": "<arn pattern>" | [...],
//!                 "Condition": {"<operator>": {"<key>": <value> | [...]}}}]}
//! ```
//!
//! Each statement has exactly one of `Action` / `NotAction` and exactly one of
//! `Resource` / `NotResource`; `Condition` and `Sid` are optional. `NotAction`
//! matches every action except those listed, `NotResource` every resource
//! except those listed. A single statement object in place of the list is
//! accepted. Unknown fields are errors, so that a misspelt `Condtion` cannot
//! silently widen a grant.

use serde_json::{Map, Value};

use super::PolicyError;
use super::condition::{self, Condition};
use super::context::RequestContext;
pub use super::parse::Effect;
use super::parse::{self as grammar, only_keys, string_list};
use super::wildcard;

/// A parsed, valid policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    statements: Vec<Statement>,
}

/// Which values a statement's `Action` or `Resource` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// `Action` / `Resource`: the values matching any pattern.
    AnyOf(Vec<String>),
    /// `NotAction` / `NotResource`: the values matching none of the patterns.
    NoneOf(Vec<String>),
}

impl Patterns {
    fn covers(&self, value: &str, ignore_case: bool) -> bool {
        match self {
            Self::AnyOf(list) => list
                .iter()
                .any(|p| wildcard::matches(p, value, ignore_case)),
            Self::NoneOf(list) => !list
                .iter()
                .any(|p| wildcard::matches(p, value, ignore_case)),
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

impl Statement {
    /// The statement's `Sid`, if it has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or Deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The actions covered.
    pub fn actions(&self) -> &Patterns {
        &self.actions
    }

    /// The resources covered.
    pub fn resources(&self) -> &Patterns {
        &self.resources
    }

    /// Whether the statement applies to a request: its action and resource
    /// are covered (actions ignoring case, resources exactly) and every
    /// condition holds.
    pub fn applies(&self, action: &str, resource: &str, ctx: &RequestContext) -> bool {
        self.actions.covers(action, true)
            && self.resources.covers(resource, false)
            && self.conditions.iter().all(|c| c.holds(ctx))
    }
}

impl PolicyDocument {
    /// Parses and checks a document.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let statements = grammar::statements(text)?
            .iter()
            .map(|(map, path)| parse_statement(map, path))
            .collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

fn parse_statement(map: &Map<String, Value>, path: &str) -> Result<Statement, PolicyError> {
    only_keys(
        map,
        path,
        &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ],
    )?;
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::at(&format!("{path}.Sid"), "Sid is a string")),
    };
    let effect = grammar::effect(map, path)?;
    let actions = pair(map, path, "Action", "NotAction")?;
    for action in pattern_list(&actions) {
        check_action(action, path)?;
    }
    let resources = pair(map, path, "Resource", "NotResource")?;
    let conditions = match map.get("Condition") {
        Some(block) => condition::parse_block(block, &format!("{path}.Condition"))?,
        None => Vec::new(),
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

fn pair(
    map: &Map<String, Value>,
    path: &str,
    field: &str,
    negated: &str,
) -> Result<Patterns, PolicyError> {
    match (map.get(field), map.get(negated)) {
        (Some(v), None) => Ok(Patterns::AnyOf(string_list(v, &format!("{path}.{field}"))?)),
        (None, Some(v)) => Ok(Patterns::NoneOf(string_list(
            v,
            &format!("{path}.{negated}"),
        )?)),
        (Some(_), Some(_)) => Err(PolicyError::at(
            path,
            format!("a statement has {field} or {negated}, not both"),
        )),
        (None, None) => Err(PolicyError::at(
            path,
            format!("{field} is missing; name what the statement covers (\"*\" for everything)"),
        )),
    }
}

fn pattern_list(p: &Patterns) -> &[String] {
    match p {
        Patterns::AnyOf(l) | Patterns::NoneOf(l) => l,
    }
}

/// An action pattern is `*` or `<service>:<action>`, such as `kms:Decrypt`,
/// `kms:GenerateDataKey*` or `kms:*`.
pub(crate) fn check_action(action: &str, path: &str) -> Result<(), PolicyError> {
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_' | '.'))
    };
    let ok = action == "*"
        || action
            .split_once(':')
            .is_some_and(|(service, name)| part_ok(service) && part_ok(name));
    if ok {
        Ok(())
    } else {
        Err(PolicyError::at(
            path,
            format!(
                "action '{action}' is not of the form <service>:<action> (such as kms:Decrypt or kms:*) or *"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_pass_role_document_parses() {
        let doc = PolicyDocument::parse(
            r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole",
                 "Resource": "acs:ram:*:*:role/mf-secr" } ], "Version": "1" }"#,
        )
        .unwrap();
        let s = &doc.statements()[0];
        assert_eq!(s.effect(), Effect::Allow);
        assert_eq!(s.actions(), &Patterns::AnyOf(vec!["ram:PassRole".into()]));
        let ctx = RequestContext::new();
        assert!(s.applies(
            "ram:passrole",
            "acs:ram::1892732288741234:role/mf-secr",
            &ctx
        ));
        assert!(!s.applies(
            "ram:PassRole",
            "acs:ram::1892732288741234:role/mf-secr2b",
            &ctx
        ));
    }

    #[test]
    fn not_action_and_not_resource_invert() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"1","Statement":{"Sid":"x","Effect":"Deny",
                "NotAction":["kms:Describe*","kms:List*"],"NotResource":"acs:kms:*:1:key/public-*"}}"#,
        )
        .unwrap();
        let s = &doc.statements()[0];
        assert_eq!(s.sid(), Some("x"));
        let ctx = RequestContext::new();
        assert!(s.applies("kms:Decrypt", "acs:kms:r:1:key/k", &ctx));
        assert!(!s.applies("kms:DescribeKey", "acs:kms:r:1:key/k", &ctx));
        assert!(!s.applies("kms:Decrypt", "acs:kms:r:1:key/public-1", &ctx));
    }

    #[test]
    fn bad_documents_say_what_and_where() {
        let ok_stmt = r#""Effect":"Allow","Action":"kms:*","Resource":"*""#;
        let cases = [
            ("{".to_owned(), "not valid JSON"),
            ("[]".to_owned(), "a policy is a JSON object"),
            (format!(r#"{{"Statement":[{{{ok_stmt}}}]}}"#), "Version is missing"),
            (format!(r#"{{"Version":"2","Statement":[{{{ok_stmt}}}]}}"#), "at Version: the only supported version is \"1\""),
            (format!(r#"{{"Version":1,"Statement":[{{{ok_stmt}}}]}}"#), "not 1"),
            (r#"{"Version":"1","Statement":[]}"#.to_owned(), "at least one statement"),
            (r#"{"Version":"1"}"#.to_owned(), "Statement is missing"),
            (format!(r#"{{"Version":"1","Statment":[{{{ok_stmt}}}]}}"#), "unknown field 'Statment'"),
            (r#"{"Version":"1","Statement":[{"Effect":"Permit","Action":"a:b","Resource":"*"}]}"#.to_owned(), "at Statement[0].Effect: Effect must be \"Allow\" or \"Deny\""),
            (r#"{"Version":"1","Statement":[{"Action":"a:b","Resource":"*"}]}"#.to_owned(), "Effect is missing"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#.to_owned(), "at Statement[0].Action: the list is empty"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"","Resource":"*"}]}"#.to_owned(), "empty string"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}"#.to_owned(), "Action is missing"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","NotAction":"c:d","Resource":"*"}]}"#.to_owned(), "not both"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"Decrypt","Resource":"*"}]}"#.to_owned(), "action 'Decrypt' is not of the form"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b"}]}"#.to_owned(), "Resource is missing"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":7}]}"#.to_owned(), "entries are strings"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Principal":"*"}]}"#.to_owned(), "Principal belongs in a role's trust policy"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condtion":{}}]}"#.to_owned(), "unknown field 'Condtion'"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Foo":{"k":"v"}}}]}"#.to_owned(), "at Statement[0].Condition.Foo: unknown condition operator 'Foo'"),
            (r#"{"Version":"1","Statement":[3]}"#.to_owned(), "a statement is a JSON object"),
        ];
        for (json, needle) in cases {
            let err = PolicyDocument::parse(&json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}\n  => {err}");
            assert!(err.starts_with("invalid policy document"), "{err}");
        }
    }
}
