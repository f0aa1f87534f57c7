//! Resource names (ARNs) in the spec's syntax: `acs:<service>:<region>:<account>:<resource>`.
//!
//! The forms this system gives meaning to:
//!
//! | ARN | variant |
//! |---|---|
//! | `acs:ram::<uid>:root` | [`Arn::Root`] |
//! | `acs:ram::<uid>:user/<name>` | [`Arn::User`] |
//! | `acs:ram::<uid>:role/<name>` | [`Arn::Role`] |
//! | `acs:ram::<uid>:assumed-role/<role>/<session>` | [`Arn::AssumedRole`] |
//! | `acs:kms:<region>:<uid>:key/<key-id>` | [`Arn::KmsKey`] |
//!
//! Any other well-formed ARN is [`Arn::Other`]. RAM ARNs have an empty region
//! and always name an account. User and role names are case-insensitive (see
//! `names.rs`): parsing lower-cases them, so two ARNs that differ only in the
//! case of a role name are equal and print the same, in lower case. Policy
//! `Resource` patterns are matched case-sensitively against this canonical
//! form, so policies should name roles in lower case, as the cloud prints them.

use std::fmt;
use std::str::FromStr;

use crate::names::{self, AccountId, NameError, printable};

/// An ARN that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ARN {}: {problem}", printable(arn))]
pub struct ArnError {
    /// The text given.
    pub arn: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A parsed ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Arn {
    /// An account's root principal.
    Root {
        /// The account.
        account: AccountId,
    },
    /// A RAM user.
    User {
        /// The user's account.
        account: AccountId,
        /// The user name, lower case.
        name: String,
    },
    /// A RAM role.
    Role {
        /// The role's account.
        account: AccountId,
        /// The role name, lower case.
        name: String,
    },
    /// A session of a role: the principal that assuming the role yields.
    AssumedRole {
        /// The role's account.
        account: AccountId,
        /// The role name, lower case.
        role: String,
        /// The session name, as given.
        session: String,
    },
    /// A KMS customer master key.
    KmsKey {
        /// The region, such as `cn-beijing`.
        region: String,
        /// The key's account.
        account: AccountId,
        /// The key id.
        key_id: String,
    },
    /// Any other resource.
    Other {
        /// The service, such as `oss`.
        service: String,
        /// The region; may be empty.
        region: String,
        /// The account; absent for global resources.
        account: Option<AccountId>,
        /// The resource path.
        resource: String,
    },
}

impl Arn {
    /// Parses an ARN.
    pub fn parse(text: &str) -> Result<Self, ArnError> {
        let fail = |problem: String| ArnError {
            arn: text.to_owned(),
            problem,
        };
        let mut fields: Vec<&str> = text.splitn(5, ':').collect();
        // Spec 001 writes RAM ARNs with one colon after `ram`
        // (`acs:ram:<uid>:role/<name>`): the same ARN, its empty region left
        // out. Read as the canonical form, which is what is printed.
        if let ["acs", "ram", account, resource] = fields[..]
            && !account.is_empty()
            && account.bytes().all(|b| b.is_ascii_digit())
        {
            fields = vec!["acs", "ram", "", account, resource];
        }
        let [prefix, service, region, account, resource] = fields[..] else {
            return Err(fail(
                "an ARN has five fields, acs:<service>:<region>:<account>:<resource>".into(),
            ));
        };
        if prefix != "acs" {
            return Err(fail("an ARN starts with 'acs:'".into()));
        }
        if service.is_empty() || !service.bytes().all(is_lower_id_byte) {
            return Err(fail(
                "the service field must be lower-case letters, digits or hyphens".into(),
            ));
        }
        if !region.bytes().all(is_lower_id_byte) {
            return Err(fail(
                "the region field must be lower-case letters, digits or hyphens".into(),
            ));
        }
        let account = if account.is_empty() {
            None
        } else {
            Some(AccountId::new(account).map_err(|e| fail(e.to_string()))?)
        };
        if resource.is_empty() {
            return Err(fail("the resource field is empty".into()));
        }
        let parsed = match service {
            "ram" => parse_ram(region, account, resource),
            "kms" => parse_kms(region, account, resource),
            _ => Ok(Self::Other {
                service: service.to_owned(),
                region: region.to_owned(),
                account,
                resource: resource.to_owned(),
            }),
        };
        parsed.map_err(fail)
    }

    /// The root ARN of `account`.
    pub fn root(account: &AccountId) -> Self {
        Self::Root {
            account: account.clone(),
        }
    }

    /// The ARN of role `name` of `account` (the name is lower-cased).
    pub fn role(account: &AccountId, name: &str) -> Self {
        Self::Role {
            account: account.clone(),
            name: names::canonical(name),
        }
    }

    /// The ARN of user `name` of `account` (the name is lower-cased).
    pub fn user(account: &AccountId, name: &str) -> Self {
        Self::User {
            account: account.clone(),
            name: names::canonical(name),
        }
    }

    /// The ARN of KMS key `key_id` in `region` of `account`.
    pub fn kms_key(region: &str, account: &AccountId, key_id: &str) -> Self {
        Self::KmsKey {
            region: region.to_owned(),
            account: account.clone(),
            key_id: key_id.to_owned(),
        }
    }

    /// The account the resource belongs to, if any.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Root { account }
            | Self::User { account, .. }
            | Self::Role { account, .. }
            | Self::AssumedRole { account, .. }
            | Self::KmsKey { account, .. } => Some(account),
            Self::Other { account, .. } => account.as_ref(),
        }
    }

    /// The service field (`ram`, `kms`, ...).
    pub fn service(&self) -> &str {
        match self {
            Self::Root { .. }
            | Self::User { .. }
            | Self::Role { .. }
            | Self::AssumedRole { .. } => "ram",
            Self::KmsKey { .. } => "kms",
            Self::Other { service, .. } => service,
        }
    }
}

fn is_lower_id_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

fn parse_ram(region: &str, account: Option<AccountId>, resource: &str) -> Result<Arn, String> {
    if !region.is_empty() {
        return Err("RAM ARNs have an empty region field: acs:ram::<uid>:...".into());
    }
    let Some(account) = account else {
        return Err("RAM ARNs name an account: acs:ram::<uid>:...".into());
    };
    let name_err = |e: NameError| e.to_string();
    if resource == "root" {
        return Ok(Arn::Root { account });
    }
    if let kind @ ("user" | "role" | "assumed-role") = resource {
        return Err(format!("a RAM {kind} ARN ends in {kind}/<name>"));
    }
    if let Some(name) = resource.strip_prefix("user/") {
        names::check_user_name(name).map_err(name_err)?;
        return Ok(Arn::user(&account, name));
    }
    if let Some(name) = resource.strip_prefix("role/") {
        names::check_role_name(name).map_err(name_err)?;
        return Ok(Arn::role(&account, name));
    }
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let Some((role, session)) = rest.split_once('/') else {
            return Err("an assumed-role ARN ends in assumed-role/<role>/<session>".into());
        };
        names::check_role_name(role).map_err(name_err)?;
        names::check_session_name(session).map_err(name_err)?;
        return Ok(Arn::AssumedRole {
            account,
            role: names::canonical(role),
            session: session.to_owned(),
        });
    }
    Ok(Arn::Other {
        service: "ram".into(),
        region: String::new(),
        account: Some(account),
        resource: resource.to_owned(),
    })
}

fn parse_kms(region: &str, account: Option<AccountId>, resource: &str) -> Result<Arn, String> {
    let Some(key_id) = resource.strip_prefix("key/") else {
        return Ok(Arn::Other {
            service: "kms".into(),
            region: region.to_owned(),
            account,
            resource: resource.to_owned(),
        });
    };
    if region.is_empty() {
        return Err("a KMS key ARN names its region: acs:kms:<region>:<uid>:key/<key-id>".into());
    }
    let Some(account) = account else {
        return Err("a KMS key ARN names its account: acs:kms:<region>:<uid>:key/<key-id>".into());
    };
    let id_ok = (1..=128).contains(&key_id.len())
        && key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(
            "a key id is 1 to 128 letters, digits, hyphens or underscores, such as key-bjj6527b6c6465hsf1234"
                .into(),
        );
    }
    Ok(Arn::kms_key(region, &account, key_id))
}

impl FromStr for Arn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root { account } => write!(f, "acs:ram::{account}:root"),
            Self::User { account, name } => write!(f, "acs:ram::{account}:user/{name}"),
            Self::Role { account, name } => write!(f, "acs:ram::{account}:role/{name}"),
            Self::AssumedRole {
                account,
                role,
                session,
            } => write!(f, "acs:ram::{account}:assumed-role/{role}/{session}"),
            Self::KmsKey {
                region,
                account,
                key_id,
            } => write!(f, "acs:kms:{region}:{account}:key/{key_id}"),
            Self::Other {
                service,
                region,
                account,
                resource,
            } => {
                let account = account.as_ref().map(AccountId::as_str).unwrap_or("");
                write!(f, "acs:{service}:{region}:{account}:{resource}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(s: &str) -> AccountId {
        AccountId::new(s).unwrap()
    }

    #[test]
    fn ram_forms_parse_and_print_back() {
        for text in [
            "acs:ram::1892732288741234:root",
            "acs:ram::1892732288741234:user/alice",
            "acs:ram::1892732288741234:role/mf-secr",
            "acs:ram::1885386054511234:assumed-role/b-secr/Warehouse-1",
            "acs:kms:cn-beijing:1892732288741234:key/key-bjj6527b6c6465hsf1234",
            "acs:oss:cn-hangzhou:1892732288741234:bucket/x:y",
            "acs:oss:::global",
            "acs:ram::1892732288741234:group/admins",
            "acs:kms:cn-beijing:1892732288741234:alias/mine",
        ] {
            let arn = Arn::parse(text).unwrap();
            assert_eq!(arn.to_string(), text);
            assert_eq!(text.parse::<Arn>().unwrap(), arn);
        }
    }

    #[test]
    fn the_spec_s_one_colon_ram_spelling_reads_as_the_canonical_arn() {
        // Spec 001: 'acs:ram:${<UserId>}:role/${<roleName>}'.
        for (spec, canonical) in [
            (
                "acs:ram:1892732288741234:role/mf-secr",
                "acs:ram::1892732288741234:role/mf-secr",
            ),
            (
                "acs:ram:1885386054511234:user/alice",
                "acs:ram::1885386054511234:user/alice",
            ),
            (
                "acs:ram:1892732288741234:root",
                "acs:ram::1892732288741234:root",
            ),
        ] {
            let arn = Arn::parse(spec).unwrap();
            assert_eq!(arn, Arn::parse(canonical).unwrap());
            assert_eq!(arn.to_string(), canonical);
        }
        // Only RAM, and only with an account where the region would be.
        assert!(Arn::parse("acs:kms:1892732288741234:key/k").is_err());
        assert!(Arn::parse("acs:ram:cn-beijing:role/r").is_err());
    }

    #[test]
    fn variants_and_accounts() {
        let a = acct("1892732288741234");
        assert_eq!(
            Arn::parse("acs:ram::1892732288741234:role/mf-secr").unwrap(),
            Arn::role(&a, "mf-secr")
        );
        let key = Arn::parse("acs:kms:cn-beijing:1892732288741234:key/key-1").unwrap();
        assert_eq!(key, Arn::kms_key("cn-beijing", &a, "key-1"));
        assert_eq!(key.account(), Some(&a));
        assert_eq!(key.service(), "kms");
        assert_eq!(Arn::parse("acs:oss:::b").unwrap().account(), None);
        assert_eq!(Arn::root(&a).service(), "ram");
    }

    #[test]
    fn role_and_user_names_are_case_insensitive_and_print_lower_case() {
        let upper = Arn::parse("acs:ram::1892732288741234:role/MF-Secr").unwrap();
        let lower = Arn::parse("acs:ram::1892732288741234:role/mf-secr").unwrap();
        assert_eq!(upper, lower);
        assert_eq!(upper.to_string(), "acs:ram::1892732288741234:role/mf-secr");
        let session = Arn::parse("acs:ram::1:assumed-role/R/Sess").unwrap();
        assert_eq!(session.to_string(), "acs:ram::1:assumed-role/r/Sess");
    }

    #[test]
    fn malformed_arns_say_what_is_wrong() {
        let cases = [
            ("acs:ram::123", "five fields"),
            ("acs:ram::123:role", "ends in role/<name>"),
            ("arn:ram::123:root:x", "starts with 'acs:'"),
            ("acs:RAM::123:root", "service field"),
            ("acs::cn:123:x", "service field"),
            ("acs:ram:cn-beijing:123:root", "empty region"),
            ("acs:ram:::root", "name an account"),
            ("acs:ram::12ab:root", "decimal digits"),
            ("acs:ram::189273228874****:role/mf-secr", "decimal digits"),
            ("acs:ram::123:role/", "role name"),
            ("acs:ram::123:role/a b", "role name"),
            (
                "acs:ram::123:assumed-role/r",
                "assumed-role/<role>/<session>",
            ),
            ("acs:ram::123:assumed-role/r/s", "session name"),
            ("acs:kms::123:key/k", "names its region"),
            ("acs:kms:cn-beijing::key/k", "names its account"),
            ("acs:kms:cn-beijing:123:key/", "key id"),
            ("acs:kms:cn-beijing:123:", "resource field is empty"),
        ];
        for (text, needle) in cases {
            let err = Arn::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.starts_with("invalid ARN"), "{err}");
        }
    }
}
