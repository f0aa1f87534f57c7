//! Trust policies: who may assume a role.
//!
//! ```json
//! {"Version": "1",
//!  "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
//!                 "Principal": {"Service": ["odps.aliyuncs.com"]}}]}
//! ```
//!
//! `Principal` holds `Service` (service names, aliases accepted, see
//! [`ServiceName`]) and/or `RAM` (ARNs), each a string or a list, as the cloud
//! writes them. A `RAM` entry is one of:
//!
//! - an account's root ARN `acs:ram::<uid>:root` (or the bare uid): any
//!   principal of that account — its root, its users, sessions of its roles —
//!   that its own account's policies allow `sts:AssumeRole` on the role;
//! - a user ARN: that user;
//! - a role ARN: any session of that role.
//!
//! `"*"` and assumed-role ARNs are refused: a trust policy names whom it
//! trusts. `Action` must be `sts:AssumeRole`; `Condition` works as in
//! permission policies; `Deny` statements override `Allow` ones.

use serde_json::{Map, Value};

use super::PolicyError;
use super::condition::{self, Condition};
use super::context::RequestContext;
use super::parse::{self as grammar, Effect, only_keys, string_list};
use crate::arn::Arn;
use crate::names::AccountId;
use crate::principal::{Principal, ServiceName};

/// A parsed, valid trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicy {
    statements: Vec<TrustStatement>,
}

/// A RAM principal named in a trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedRam {
    /// Any principal of the account.
    Account(AccountId),
    /// One user.
    User(Arn),
    /// Any session of one role.
    Role(Arn),
}

/// One statement of a trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustStatement {
    effect: Effect,
    services: Vec<ServiceName>,
    ram: Vec<TrustedRam>,
    conditions: Vec<Condition>,
}

impl TrustStatement {
    fn names(&self, principal: &Principal) -> bool {
        match principal {
            Principal::Service(name) => self.services.contains(name),
            Principal::Root { account } => self.ram.contains(&TrustedRam::Account(account.clone())),
            Principal::User { account, name } => self.ram.iter().any(|t| match t {
                TrustedRam::Account(a) => a == account,
                TrustedRam::User(arn) => *arn == Arn::user(account, name),
                TrustedRam::Role(_) => false,
            }),
            Principal::AssumedRole { account, role, .. } => self.ram.iter().any(|t| match t {
                TrustedRam::Account(a) => a == account,
                TrustedRam::Role(arn) => *arn == Arn::role(account, role),
                TrustedRam::User(_) => false,
            }),
        }
    }
}

/// What a trust policy says about one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustDecision {
    /// Statement `n` (0-based) trusts the principal, and none denies it.
    Trusted(usize),
    /// Statement `n` (0-based) explicitly denies the principal.
    Denied(usize),
    /// No statement names the principal (or their conditions do not hold).
    NotNamed,
}

impl TrustPolicy {
    /// Parses and checks a trust policy.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let statements = grammar::statements(text)?
            .iter()
            .map(|(map, path)| parse_statement(map, path))
            .collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// A policy trusting one service, as the console writes it.
    pub fn trusting_service(service: &str) -> String {
        format!(
            r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"Service":["{service}"]}}}}],"Version":"1"}}"#
        )
    }

    /// A policy trusting RAM principals (ARNs), as the console writes it.
    pub fn trusting_ram(arns: &[&str]) -> String {
        let list: Vec<String> = arns.iter().map(|a| format!("\"{a}\"")).collect();
        format!(
            r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":[{}]}}}}],"Version":"1"}}"#,
            list.join(",")
        )
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[TrustStatement] {
        &self.statements
    }

    /// Whether the policy lets `principal` assume the role.
    pub fn decide(&self, principal: &Principal, ctx: &RequestContext) -> TrustDecision {
        let applies =
            |s: &TrustStatement| s.names(principal) && s.conditions.iter().all(|c| c.holds(ctx));
        let find = |effect| {
            self.statements
                .iter()
                .position(|s| s.effect == effect && applies(s))
        };
        if let Some(i) = find(Effect::Deny) {
            TrustDecision::Denied(i)
        } else if let Some(i) = find(Effect::Allow) {
            TrustDecision::Trusted(i)
        } else {
            TrustDecision::NotNamed
        }
    }
}

fn parse_statement(map: &Map<String, Value>, path: &str) -> Result<TrustStatement, PolicyError> {
    only_keys(
        map,
        path,
        &["Sid", "Effect", "Action", "Principal", "Condition"],
    )?;
    let effect = grammar::effect(map, path)?;
    let action_path = format!("{path}.Action");
    let Some(actions) = map.get("Action") else {
        return Err(PolicyError::at(
            path,
            "Action is missing; a trust statement has \"Action\": \"sts:AssumeRole\"",
        ));
    };
    for action in string_list(actions, &action_path)? {
        if !action.eq_ignore_ascii_case("sts:AssumeRole") {
            return Err(PolicyError::at(
                &action_path,
                format!("a trust policy's only action is sts:AssumeRole, not '{action}'"),
            ));
        }
    }
    let principal_path = format!("{path}.Principal");
    let Some(Value::Object(principal)) = map.get("Principal") else {
        return Err(PolicyError::at(
            path,
            "Principal is missing or not an object; write {\"Service\": [...]} or {\"RAM\": [...]}",
        ));
    };
    if principal.is_empty() {
        return Err(PolicyError::at(
            &principal_path,
            "names no principal; add Service or RAM",
        ));
    }
    let mut services = Vec::new();
    let mut ram = Vec::new();
    for (kind, names) in principal {
        let kind_path = format!("{principal_path}.{kind}");
        let names = string_list(names, &kind_path)?;
        match kind.as_str() {
            "Service" => {
                for n in names {
                    services.push(
                        ServiceName::new(&n)
                            .map_err(|e| PolicyError::at(&kind_path, e.to_string()))?,
                    );
                }
            }
            "RAM" => {
                for n in names {
                    ram.push(trusted_ram(&n, &kind_path)?);
                }
            }
            other => {
                return Err(PolicyError::at(
                    &principal_path,
                    format!("unsupported principal type '{other}'; use Service or RAM"),
                ));
            }
        }
    }
    let conditions = match map.get("Condition") {
        Some(block) => condition::parse_block(block, &format!("{path}.Condition"))?,
        None => Vec::new(),
    };
    Ok(TrustStatement {
        effect,
        services,
        ram,
        conditions,
    })
}

fn trusted_ram(entry: &str, path: &str) -> Result<TrustedRam, PolicyError> {
    if entry == "*" {
        return Err(PolicyError::at(
            path,
            "'*' is not accepted: name the accounts (acs:ram::<uid>:root), users or roles trusted",
        ));
    }
    if !entry.starts_with("acs:") {
        return AccountId::new(entry)
            .map(TrustedRam::Account)
            .map_err(|e| PolicyError::at(path, format!("{e}; or give an ARN")));
    }
    let arn = Arn::parse(entry).map_err(|e| PolicyError::at(path, e.to_string()))?;
    match arn {
        Arn::Root { account } => Ok(TrustedRam::Account(account)),
        Arn::User { .. } => Ok(TrustedRam::User(arn)),
        Arn::Role { .. } => Ok(TrustedRam::Role(arn)),
        Arn::AssumedRole { account, role, .. } => Err(PolicyError::at(
            path,
            format!(
                "name the role, not one session of it: {}",
                Arn::role(&account, &role)
            ),
        )),
        other => Err(PolicyError::at(
            path,
            format!("{other} is not a principal; name an account root, a user or a role"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(uid: &str) -> AccountId {
        AccountId::new(uid).unwrap()
    }

    fn session(uid: &str, role: &str) -> Principal {
        Principal::AssumedRole {
            account: a(uid),
            role: role.into(),
            session: "s1".into(),
        }
    }

    #[test]
    fn service_trust_accepts_cloud_names() {
        let t = TrustPolicy::parse(&TrustPolicy::trusting_service("odps.aliyuncs.com")).unwrap();
        let ctx = RequestContext::new();
        assert_eq!(
            t.decide(&Principal::Service(ServiceName::warehouse()), &ctx),
            TrustDecision::Trusted(0)
        );
        assert_eq!(
            t.decide(&Principal::Service(ServiceName::external_engine()), &ctx),
            TrustDecision::NotNamed
        );
        assert_eq!(
            t.decide(&Principal::Root { account: a("1") }, &ctx),
            TrustDecision::NotNamed
        );
        let one = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":"sealhouse-warehouse"}}]}"#;
        assert_eq!(TrustPolicy::parse(one).unwrap(), t);
    }

    #[test]
    fn account_root_trusts_every_principal_of_the_account() {
        let t = TrustPolicy::parse(&TrustPolicy::trusting_ram(&[
            "acs:ram::1885386054511234:root",
        ]))
        .unwrap();
        let ctx = RequestContext::new();
        let b = a("1885386054511234");
        for p in [
            Principal::Root { account: b.clone() },
            Principal::User {
                account: b.clone(),
                name: "u".into(),
            },
            session("1885386054511234", "b-secr"),
        ] {
            assert_eq!(t.decide(&p, &ctx), TrustDecision::Trusted(0), "{p}");
        }
        assert_eq!(
            t.decide(&session("1892732288741234", "b-secr"), &ctx),
            TrustDecision::NotNamed
        );
        let bare = TrustPolicy::parse(&TrustPolicy::trusting_ram(&["1885386054511234"])).unwrap();
        assert_eq!(bare, t);
    }

    #[test]
    fn users_and_roles_are_named_exactly_and_deny_wins() {
        let doc = r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1:user/Alice","acs:ram::1:role/R1"]}},
            {"Effect":"Deny","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:role/r1"},
             "Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#;
        let t = TrustPolicy::parse(doc).unwrap();
        let ctx = RequestContext::new();
        let alice = Principal::User {
            account: a("1"),
            name: "alice".into(),
        };
        let bob = Principal::User {
            account: a("1"),
            name: "bob".into(),
        };
        assert_eq!(t.decide(&alice, &ctx), TrustDecision::Trusted(0));
        assert_eq!(t.decide(&bob, &ctx), TrustDecision::NotNamed);
        assert_eq!(
            t.decide(&session("1", "r1"), &ctx),
            TrustDecision::Trusted(0)
        );
        let inside = RequestContext::new().with("acs:SourceIp", "10.1.1.1");
        assert_eq!(
            t.decide(&session("1", "r1"), &inside),
            TrustDecision::Denied(1)
        );
        assert_eq!(t.decide(&session("1", "r2"), &ctx), TrustDecision::NotNamed);
        assert_eq!(
            t.decide(&Principal::Root { account: a("1") }, &ctx),
            TrustDecision::NotNamed
        );
    }

    #[test]
    fn bad_trust_policies_say_why() {
        let wrap = |stmt: &str| format!(r#"{{"Version":"1","Statement":[{stmt}]}}"#);
        let cases = [
            (
                wrap(r#"{"Effect":"Allow","Action":"kms:Decrypt","Principal":{"Service":"x"}}"#),
                "only action is sts:AssumeRole",
            ),
            (
                wrap(r#"{"Effect":"Allow","Principal":{"Service":"x"}}"#),
                "Action is missing",
            ),
            (
                wrap(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
                "Principal is missing",
            ),
            (
                wrap(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{}}"#),
                "names no principal",
            ),
            (
                wrap(
                    r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"x"}}"#,
                ),
                "unsupported principal type 'Federated'",
            ),
            (
                wrap(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"*"}}"#),
                "'*' is not accepted",
            ),
            (
                wrap(
                    r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:assumed-role/r/s1"}}"#,
                ),
                "name the role, not one session",
            ),
            (
                wrap(
                    r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:kms:r:1:key/k"}}"#,
                ),
                "is not a principal",
            ),
            (
                wrap(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"12ab"}}"#),
                "decimal digits",
            ),
            (
                wrap(
                    r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"a b"}}"#,
                ),
                "invalid service name",
            ),
            (
                wrap(
                    r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Principal":{"Service":"x"}}"#,
                ),
                "names no Resource",
            ),
        ];
        for (json, needle) in cases {
            let err = TrustPolicy::parse(&json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}\n  => {err}");
        }
    }
}
