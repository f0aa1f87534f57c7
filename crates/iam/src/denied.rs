//! `AccessDenied`: the one refusal of authorisation, naming who asked, for
//! what, on what, and why, so that an administrator knows which grant to add.

use std::fmt;

use crate::arn::Arn;
use crate::names::AccountId;
use crate::policy::evaluate::StatementRef;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// A `Deny` statement applies.
    ExplicitDeny(StatementRef),
    /// No statement of the principal's policies allows the request.
    NoPolicyAllows {
        /// Whose policies were consulted: `user alice` or `role mf-secr`.
        holder: String,
        /// How many policies are attached to it.
        attached: usize,
    },
    /// A KMS key used from outside its account.
    CrossAccountKms {
        /// The key's account.
        key_account: AccountId,
    },
    /// A resource of another account that has no way to consent, other than
    /// a role's trust policy for `sts:AssumeRole`.
    CrossAccount {
        /// The resource's account.
        resource_account: AccountId,
    },
    /// A service asked directly; services act only through roles.
    ServiceHasNoPermissions,
    /// The role's trust policy does not name the principal.
    NotTrusted {
        /// The role.
        role: Arn,
        /// Whether the principal is a service (named under `Service`, not `RAM`).
        service: bool,
    },
    /// A statement of the role's trust policy denies the principal.
    TrustDenies {
        /// The role.
        role: Arn,
        /// The statement's position, from 0.
        statement: usize,
    },
    /// The role does not exist.
    NoSuchRole {
        /// The role asked for.
        role: Arn,
    },
    /// The principal (its account, user or role) no longer exists.
    UnknownPrincipal,
    /// The identity store could not be read; nothing is allowed then.
    Internal(String),
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExplicitDeny(at) => write!(f, "explicitly denied by {at}"),
            Self::NoPolicyAllows {
                holder,
                attached: 0,
            } => write!(
                f,
                "no policy allows it: {holder} has no policies attached; attach one that allows \
                 this action on this resource"
            ),
            Self::NoPolicyAllows { holder, attached } => write!(
                f,
                "no policy allows it: none of the {attached} policies attached to {holder} allows \
                 this action on this resource; attach one that does"
            ),
            Self::CrossAccountKms { key_account } => write!(
                f,
                "the key belongs to account {key_account}, and KMS keys are used only by \
                 principals of their own account; assume a role of account {key_account} \
                 (a role chain) that is allowed to use the key"
            ),
            Self::CrossAccount { resource_account } => write!(
                f,
                "the resource belongs to account {resource_account}; reach it by assuming a role \
                 of that account"
            ),
            Self::ServiceHasNoPermissions => f.write_str(
                "services hold no permissions of their own; they act by assuming a role that \
                 trusts them",
            ),
            Self::NotTrusted {
                role,
                service: true,
            } => write!(
                f,
                "the trust policy of role {role} does not name this service under \
                 Principal.Service"
            ),
            Self::NotTrusted {
                role,
                service: false,
            } => write!(
                f,
                "the trust policy of role {role} names neither this principal (its user or role \
                 ARN) nor its account (acs:ram::<uid>:root) under Principal.RAM"
            ),
            Self::TrustDenies { role, statement } => write!(
                f,
                "Statement[{statement}] of the trust policy of role {role} denies this principal"
            ),
            Self::NoSuchRole { role } => write!(f, "role {role} does not exist"),
            Self::UnknownPrincipal => f.write_str(
                "the principal does not exist (its account, user or role was not found)",
            ),
            Self::Internal(detail) => write!(
                f,
                "the identity store could not be read, so nothing is allowed: {detail}"
            ),
        }
    }
}

/// A refused request: who asked, for what, on what, and why.
///
/// Boxed inside, so that `Result<_, AccessDenied>` stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "access denied: {} is not allowed {} on {}: {}",
    .0.principal,
    .0.action,
    .0.resource,
    .0.reason
)]
pub struct AccessDenied(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    principal: String,
    action: String,
    resource: String,
    reason: DenyReason,
}

impl AccessDenied {
    pub(crate) fn new(
        principal: &impl fmt::Display,
        action: &str,
        resource: &impl fmt::Display,
        reason: DenyReason,
    ) -> Self {
        Self(Box::new(Details {
            principal: principal.to_string(),
            action: action.to_owned(),
            resource: resource.to_string(),
            reason,
        }))
    }

    /// The principal's ARN, or `service <name>`.
    pub fn principal(&self) -> &str {
        &self.0.principal
    }

    /// The action asked for.
    pub fn action(&self) -> &str {
        &self.0.action
    }

    /// The resource's ARN.
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    /// Why it was refused.
    pub fn reason(&self) -> &DenyReason {
        &self.0.reason
    }

    /// Whether the refusal is the store's failure rather than a decision:
    /// an HTTP layer answers 500, not 403.
    pub fn is_internal(&self) -> bool {
        matches!(self.0.reason, DenyReason::Internal(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_principal_action_resource_and_reason() {
        let d = AccessDenied::new(
            &"acs:ram::1885386054511234:user/u",
            "ram:PassRole",
            &"acs:ram::1885386054511234:role/b-secr",
            DenyReason::NoPolicyAllows {
                holder: "user u".into(),
                attached: 0,
            },
        );
        assert_eq!(
            d.to_string(),
            "access denied: acs:ram::1885386054511234:user/u is not allowed ram:PassRole on \
             acs:ram::1885386054511234:role/b-secr: no policy allows it: user u has no policies \
             attached; attach one that allows this action on this resource"
        );
        assert!(!d.is_internal());
    }
}
