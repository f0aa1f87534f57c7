//! Evaluation of a principal's policies against one request.
//!
//! The rule, as in the original cloud: a statement applies when its action
//! and resource cover the request and all its conditions hold. If any
//! applicable statement of any policy is a `Deny`, the request is denied
//! (explicit deny wins, whatever the order); otherwise, if any applicable
//! statement is an `Allow`, it is allowed; otherwise it is denied implicitly.
//!
//! The decision names the statement that decided: the first denying statement
//! in (policy, statement) order, else the first allowing one.

use std::fmt;

use super::context::RequestContext;
use super::document::{Effect, PolicyDocument};
use crate::model::PolicyRef;

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, such as `kms:Decrypt`.
    pub action: &'a str,
    /// The resource ARN, as text.
    pub resource: &'a str,
    /// The request's condition keys.
    pub context: &'a RequestContext,
}

/// Which statement of which policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The policy.
    pub policy: PolicyRef,
    /// The statement's position in the policy's `Statement` list, from 0.
    pub index: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement[{}]", self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " (Sid {})", crate::names::printable(sid))?;
        }
        write!(f, " of {}", self.policy)
    }
}

/// The outcome of evaluating policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allowed(StatementRef),
    /// A `Deny` statement applies.
    ExplicitDeny(StatementRef),
    /// No statement applies: denied by default.
    NoAllow,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }
}

/// Evaluates `request` against `policies`, in order.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = (&'a PolicyRef, &'a PolicyDocument)>,
    request: &Request<'_>,
) -> Decision {
    let mut first_allow = None;
    for (policy, document) in policies {
        for (index, statement) in document.statements().iter().enumerate() {
            if !statement.applies(request.action, request.resource, request.context) {
                continue;
            }
            let at = || StatementRef {
                policy: policy.clone(),
                index,
                sid: statement.sid().map(str::to_owned),
            };
            match statement.effect() {
                Effect::Deny => return Decision::ExplicitDeny(at()),
                Effect::Allow if first_allow.is_none() => first_allow = Some(at()),
                Effect::Allow => {}
            }
        }
    }
    first_allow.map_or(Decision::NoAllow, Decision::Allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> PolicyDocument {
        PolicyDocument::parse(json).unwrap()
    }

    fn req<'a>(action: &'a str, resource: &'a str, ctx: &'a RequestContext) -> Request<'a> {
        Request {
            action,
            resource,
            context: ctx,
        }
    }

    #[test]
    fn deny_wins_allow_allows_default_denies() {
        let allow = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        );
        let deny = doc(r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"ram:*","Resource":"*"},
                {"Sid":"NoDecrypt","Effect":"Deny","Action":"kms:Decrypt","Resource":"acs:kms:*:*:key/secret-*"}]}"#);
        let p_allow = PolicyRef::System("A".into());
        let p_deny = PolicyRef::System("D".into());
        let set = [(&p_allow, &allow), (&p_deny, &deny)];
        let ctx = RequestContext::new();
        let key = "acs:kms:cn-beijing:1:key/secret-1";
        match evaluate(set, &req("kms:Decrypt", key, &ctx)) {
            Decision::ExplicitDeny(at) => {
                assert_eq!(at.policy, p_deny);
                assert_eq!(at.index, 1);
                assert_eq!(
                    at.to_string(),
                    "Statement[1] (Sid 'NoDecrypt') of system policy D"
                );
            }
            other => panic!("{other:?}"),
        }
        let d = evaluate(set, &req("kms:Encrypt", key, &ctx));
        assert_eq!(
            d,
            Decision::Allowed(StatementRef {
                policy: p_allow.clone(),
                index: 0,
                sid: None
            })
        );
        assert!(d.is_allowed());
        assert_eq!(
            evaluate(set, &req("sts:AssumeRole", key, &ctx)),
            Decision::NoAllow
        );
        assert_eq!(
            evaluate([], &req("kms:Encrypt", key, &ctx)),
            Decision::NoAllow
        );
    }

    #[test]
    fn conditions_gate_statements() {
        let d = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
                "Condition":{"IpAddress":{"acs:SourceIp":"192.168.0.0/16"}}}]}"#,
        );
        let p = PolicyRef::System("P".into());
        let inside = RequestContext::new().with("acs:SourceIp", "192.168.3.4");
        let outside = RequestContext::new().with("acs:SourceIp", "10.0.0.1");
        assert!(evaluate([(&p, &d)], &req("kms:Decrypt", "x", &inside)).is_allowed());
        assert!(!evaluate([(&p, &d)], &req("kms:Decrypt", "x", &outside)).is_allowed());
        assert!(
            !evaluate([(&p, &d)], &req("kms:Decrypt", "x", &RequestContext::new())).is_allowed()
        );
    }
}
