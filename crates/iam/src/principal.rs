//! Principals: who makes a request.
//!
//! An account's root, a RAM user, a session of a role, or a service acting on
//! a caller's behalf. Services are principals of their own so that roles can
//! trust them; the names the spec's trust policies use are accepted as aliases
//! (see [`ServiceName`]).

use std::fmt;

use crate::arn::Arn;
use crate::names::{AccountId, NameError};

/// The name of a service principal, in canonical form.
///
/// Our services have two names each: our own and the original cloud's, which
/// the spec's trust policies use verbatim. Both map to the same canonical name:
///
/// | canonical | also accepted |
/// |---|---|
/// | `sealhouse-warehouse` | `odps.aliyuncs.com` |
/// | `sealhouse-external-engine` | `hologres.aliyuncs.com` |
///
/// Other well-formed names (`ecs.aliyuncs.com`, ...) are accepted in trust
/// policies, lower-cased, so that documents written for the cloud load; they
/// only ever match a service principal of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceName(String);

impl ServiceName {
    /// The warehouse (the cloud's MaxCompute, `odps.aliyuncs.com`).
    pub const WAREHOUSE: &'static str = "sealhouse-warehouse";
    /// The external query engine (the cloud's Hologres, `hologres.aliyuncs.com`).
    pub const EXTERNAL_ENGINE: &'static str = "sealhouse-external-engine";

    const ALIASES: [(&'static str, &'static str); 2] = [
        ("odps.aliyuncs.com", Self::WAREHOUSE),
        ("hologres.aliyuncs.com", Self::EXTERNAL_ENGINE),
    ];

    /// Parses a service name, mapping aliases to their canonical name.
    pub fn new(name: &str) -> Result<Self, NameError> {
        let lower = name.to_ascii_lowercase();
        let ok = (1..=128).contains(&lower.len())
            && lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !ok {
            return Err(NameError {
                kind: "service name",
                value: name.to_owned(),
                rule: "a service name is letters, digits, hyphens and periods, such as odps.aliyuncs.com",
            });
        }
        let canonical = Self::ALIASES
            .iter()
            .find(|(alias, _)| *alias == lower)
            .map(|(_, canonical)| (*canonical).to_owned())
            .unwrap_or(lower);
        Ok(Self(canonical))
    }

    /// The warehouse service.
    pub fn warehouse() -> Self {
        Self(Self::WAREHOUSE.to_owned())
    }

    /// The external query engine service.
    pub fn external_engine() -> Self {
        Self(Self::EXTERNAL_ENGINE.to_owned())
    }

    /// The canonical name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cloud's name for this service, if it has one.
    pub fn alias(&self) -> Option<&'static str> {
        Self::ALIASES
            .iter()
            .find(|(_, canonical)| *canonical == self.0)
            .map(|(alias, _)| *alias)
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.alias() {
            Some(alias) => write!(f, "{} ({alias})", self.0),
            None => f.write_str(&self.0),
        }
    }
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An account's root: allowed everything on its own account's resources.
    Root {
        /// The account.
        account: AccountId,
    },
    /// A RAM user: allowed what its attached policies allow.
    User {
        /// The user's account.
        account: AccountId,
        /// The user name, lower case.
        name: String,
    },
    /// A session of a role: allowed what the role's attached policies allow.
    AssumedRole {
        /// The role's account.
        account: AccountId,
        /// The role name, lower case.
        role: String,
        /// The session name.
        session: String,
    },
    /// A service acting on a caller's behalf. It holds no permissions of its
    /// own: it acts only through roles that trust it.
    Service(ServiceName),
}

impl Principal {
    /// The principal an ARN names; `None` for ARNs that name resources, not
    /// principals (roles, keys, ...).
    pub fn from_arn(arn: &Arn) -> Option<Self> {
        match arn {
            Arn::Root { account } => Some(Self::Root {
                account: account.clone(),
            }),
            Arn::User { account, name } => Some(Self::User {
                account: account.clone(),
                name: name.clone(),
            }),
            Arn::AssumedRole {
                account,
                role,
                session,
            } => Some(Self::AssumedRole {
                account: account.clone(),
                role: role.clone(),
                session: session.clone(),
            }),
            _ => None,
        }
    }

    /// The principal's ARN; services have none.
    pub fn arn(&self) -> Option<Arn> {
        match self {
            Self::Root { account } => Some(Arn::root(account)),
            Self::User { account, name } => Some(Arn::user(account, name)),
            Self::AssumedRole {
                account,
                role,
                session,
            } => Some(Arn::AssumedRole {
                account: account.clone(),
                role: role.clone(),
                session: session.clone(),
            }),
            Self::Service(_) => None,
        }
    }

    /// The principal's account; services belong to none.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Root { account }
            | Self::User { account, .. }
            | Self::AssumedRole { account, .. } => Some(account),
            Self::Service(_) => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.arn()) {
            (Self::Service(name), _) => write!(f, "service {name}"),
            (_, Some(arn)) => write!(f, "{arn}"),
            (_, None) => f.write_str("(unnamed principal)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_service_names_are_aliases() {
        assert_eq!(
            ServiceName::new("odps.aliyuncs.com").unwrap(),
            ServiceName::warehouse()
        );
        assert_eq!(
            ServiceName::new("Sealhouse-Warehouse").unwrap(),
            ServiceName::warehouse()
        );
        assert_eq!(
            ServiceName::new("hologres.aliyuncs.com").unwrap(),
            ServiceName::external_engine()
        );
        let ecs = ServiceName::new("ecs.aliyuncs.com").unwrap();
        assert_eq!(ecs.as_str(), "ecs.aliyuncs.com");
        assert_eq!(ecs.alias(), None);
        assert!(ServiceName::new("a b").is_err());
        assert_eq!(
            ServiceName::warehouse().to_string(),
            "sealhouse-warehouse (odps.aliyuncs.com)"
        );
    }

    #[test]
    fn principals_round_trip_through_arns() {
        for text in [
            "acs:ram::1:root",
            "acs:ram::1:user/alice",
            "acs:ram::1:assumed-role/r/sess",
        ] {
            let arn = Arn::parse(text).unwrap();
            let p = Principal::from_arn(&arn).unwrap();
            assert_eq!(p.arn(), Some(arn));
            assert_eq!(p.to_string(), text);
            assert_eq!(p.account().unwrap().as_str(), "1");
        }
        assert_eq!(
            Principal::from_arn(&Arn::parse("acs:ram::1:role/r").unwrap()),
            None
        );
        let svc = Principal::Service(ServiceName::warehouse());
        assert_eq!(svc.account(), None);
        assert_eq!(
            svc.to_string(),
            "service sealhouse-warehouse (odps.aliyuncs.com)"
        );
    }
}
