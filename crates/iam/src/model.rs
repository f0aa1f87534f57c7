//! The records the identity service keeps: accounts, users, access keys,
//! roles, custom policies, attachments and STS sessions.
//!
//! User and role names are kept as typed (`name`) and looked up by their
//! canonical lower-case form (see `names.rs`). Secrets appear here only
//! sealed (see `secret.rs`); no record holds a secret in the clear.

use std::fmt;

use time::OffsetDateTime;

use crate::arn::Arn;
use crate::names::{self, AccountId};
use crate::principal::Principal;

/// A policy, as attachments and decisions name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyRef {
    /// A built-in policy (see `policy::builtin`), such as `AliyunKMSCryptoUserAccess`.
    System(String),
    /// A policy an account created.
    Custom {
        /// The account that owns it.
        account: AccountId,
        /// Its name.
        name: String,
    },
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System(name) => write!(f, "system policy {name}"),
            Self::Custom { account, name } => {
                write!(f, "custom policy {name} of account {account}")
            }
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its uid.
    pub id: AccountId,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A RAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its account.
    pub account: AccountId,
    /// Its name as typed.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl User {
    /// The user's ARN (name in lower case).
    pub fn arn(&self) -> Arn {
        Arn::user(&self.account, &self.name)
    }

    /// The user as a principal.
    pub fn principal(&self) -> Principal {
        Principal::User {
            account: self.account.clone(),
            name: names::canonical(&self.name),
        }
    }
}

/// Whether an access key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKeyStatus {
    /// Usable.
    Active,
    /// Refused by authentication until made active again.
    Inactive,
}

impl AccessKeyStatus {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }

    /// Parses [`AccessKeyStatus::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Active" => Some(Self::Active),
            "Inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// A long-lived access key of an account root or a user, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The public id, `LTAI...`.
    pub id: String,
    /// The root or user it belongs to.
    pub owner: Principal,
    /// Active or inactive.
    pub status: AccessKeyStatus,
    /// The secret, sealed by the service's `SecretSealer` with the id as
    /// context. `Debug` shows only its length: with the no-op sealer of tests
    /// these bytes are the secret itself.
    pub sealed_secret: Vec<u8>,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A RAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its account.
    pub account: AccountId,
    /// Its name as typed.
    pub name: String,
    /// Its trust policy, as given (checked when set).
    pub trust_policy: String,
    /// The longest session AssumeRole may grant, in seconds (3600 to 43200).
    pub max_session_duration: u32,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl Role {
    /// The role's ARN (name in lower case).
    pub fn arn(&self) -> Arn {
        Arn::role(&self.account, &self.name)
    }
}

/// A custom policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPolicy {
    /// The account that owns it.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The document, as given (checked when created).
    pub document: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// What a policy can be attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttachTarget {
    /// A user, by account and name (any case).
    User {
        /// The account.
        account: AccountId,
        /// The name.
        name: String,
    },
    /// A role, by account and name (any case).
    Role {
        /// The account.
        account: AccountId,
        /// The name.
        name: String,
    },
}

impl AttachTarget {
    /// The target's account.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::User { account, .. } | Self::Role { account, .. } => account,
        }
    }

    /// The target's ARN.
    pub fn arn(&self) -> Arn {
        match self {
            Self::User { account, name } => Arn::user(account, name),
            Self::Role { account, name } => Arn::role(account, name),
        }
    }

    /// The canonical name.
    pub(crate) fn name_key(&self) -> String {
        match self {
            Self::User { name, .. } | Self::Role { name, .. } => names::canonical(name),
        }
    }

    /// `user` or `role`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Role { .. } => "role",
        }
    }
}

/// Temporary credentials issued by AssumeRole, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StsSessionRecord {
    /// The public id, `STS....`.
    pub access_key_id: String,
    /// The assumed-role principal the credentials act as.
    pub principal: Principal,
    /// The secret, sealed with the access key id as context (`Debug` shows
    /// only its length).
    pub sealed_secret: Vec<u8>,
    /// SHA-256 of the security token: the token is only ever compared, never
    /// needed back, so only its hash is kept.
    pub token_sha256: [u8; 32],
    /// When the credentials stop working.
    pub expires_at: OffsetDateTime,
    /// When they were issued.
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("status", &self.status)
            .field(
                "sealed_secret",
                &format_args!("({} bytes)", self.sealed_secret.len()),
            )
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl fmt::Debug for StsSessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsSessionRecord")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field(
                "sealed_secret",
                &format_args!("({} bytes)", self.sealed_secret.len()),
            )
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_do_not_print_their_sealed_secrets() {
        let key = AccessKeyRecord {
            id: "LTAI1".into(),
            owner: Principal::Root {
                account: AccountId::new("1").unwrap(),
            },
            status: AccessKeyStatus::Active,
            sealed_secret: b"plain-secret-under-no-sealing".to_vec(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("plain-secret"), "{shown}");
        assert!(!shown.contains("112, 108"), "{shown}");
        assert!(shown.contains("29 bytes"), "{shown}");
    }
}
