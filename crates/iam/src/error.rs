//! The crate's error type.
//!
//! Variants keep apart bad input (names, ARNs, documents, request values),
//! references to things that do not exist or already do, refusals
//! ([`AccessDenied`], [`AuthError`], [`RoleChainError`]) and failures of the
//! store or the sealer. No variant carries a secret: messages name access key
//! ids, ARNs and policy names only.

use time::OffsetDateTime;

use crate::arn::ArnError;
use crate::denied::AccessDenied;
use crate::names::NameError;
use crate::policy::PolicyError;
use crate::role_chain::RoleChainError;
use crate::secret::SealError;
use crate::store::StoreError;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name or account id that breaks its rule.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// An ARN that does not parse, or names the wrong kind of thing.
    #[error(transparent)]
    InvalidArn(#[from] ArnError),
    /// A policy or trust policy that does not parse or breaks the grammar.
    #[error(transparent)]
    InvalidPolicy(#[from] PolicyError),
    /// A request value out of range, or an operation that does not apply.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A referenced record does not exist.
    #[error("{kind} {name} does not exist")]
    NotFound {
        /// What kind of record.
        kind: &'static str,
        /// Which.
        name: String,
    },
    /// A record with that name exists.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// What kind of record.
        kind: &'static str,
        /// Which.
        name: String,
    },
    /// Authorisation refused.
    #[error(transparent)]
    AccessDenied(#[from] Box<AccessDenied>),
    /// Authentication refused.
    #[error(transparent)]
    Authentication(#[from] AuthError),
    /// A role chain stopped at a step.
    #[error(transparent)]
    RoleChain(#[from] Box<RoleChainError>),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The secret sealer failed.
    #[error(transparent)]
    Sealing(#[from] SealError),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed; no credential was created")]
    RandomUnavailable,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists { kind, name } => Self::AlreadyExists { kind, name },
            StoreError::NotFound { kind, name } => Self::NotFound { kind, name },
            other => Self::Store(other),
        }
    }
}

impl From<AccessDenied> for Error {
    fn from(e: AccessDenied) -> Self {
        Self::AccessDenied(Box::new(e))
    }
}

impl From<RoleChainError> for Error {
    fn from(e: RoleChainError) -> Self {
        Self::RoleChain(Box::new(e))
    }
}

/// Why credentials were not accepted. The access key id is not secret and is
/// named; nothing else about the credential is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No such access key id.
    #[error("access key id {id} does not exist")]
    UnknownAccessKey {
        /// The id presented.
        id: String,
    },
    /// The access key was made inactive.
    #[error("access key id {id} is inactive; make it active or use another key")]
    AccessKeyInactive {
        /// The id presented.
        id: String,
    },
    /// The temporary credentials expired.
    #[error("the STS credentials {id} expired at {expired_at}; call AssumeRole again")]
    Expired {
        /// The id presented.
        id: String,
        /// When they expired.
        expired_at: OffsetDateTime,
    },
    /// The security token is missing, wrong, or was sent with a long-lived key.
    #[error("the security token does not belong to access key id {id}")]
    BadSecurityToken {
        /// The id presented.
        id: String,
    },
    /// The owner of the key (its account or user) no longer exists.
    #[error("access key id {id} belongs to a principal that no longer exists")]
    OwnerGone {
        /// The id presented.
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_conflicts_become_service_errors() {
        let e: Error = StoreError::AlreadyExists {
            kind: "role",
            name: "r".into(),
        }
        .into();
        assert_eq!(e.to_string(), "role r already exists");
        let e: Error = StoreError::Backend("disk full".into()).into();
        assert_eq!(e.to_string(), "the identity database failed: disk full");
    }
}
