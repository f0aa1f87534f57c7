//! Role chains: how a service comes to act with a role's permissions on a
//! caller's behalf, possibly across accounts (DESIGN.md, "Identity").
//!
//! [`Iam::assume_role_chain`] is the design's algorithm: given the caller, the
//! first role, the service and the further roles in order,
//!
//! 1. **PassRole** — the caller must be allowed `ram:PassRole` on the first
//!    role (so the role is of the caller's account);
//! 2. **trust of the first role for the service** — its trust policy must
//!    name the service; the service now acts as a session of that role;
//! 3. **AssumeRole of each further role by the previous session** — the
//!    session's role must be allowed `sts:AssumeRole` on it, and its trust
//!    policy must name that role or its account.
//!
//! It returns the last session. Each failure is a [`RoleChainError`] naming
//! the step, with the refusal naming the principal, action and resource.
//!
//! [`Iam::resolve_role_chain`] maps the spec's wrapped-keyset arguments
//! (`role_arn`, optional `role_chain`) onto it. Without a chain: the caller
//! passes `role_arn` to the service. With one (the spec's cross-account setup,
//! `role_chain = 'acs:ram::<B>:role/b-secr,acs:ram::<A>:role/mf-secr2b'`,
//! `role_arn = acs:ram::<A>:role/mf-secr`): the caller passes the chain's first
//! role to the service, the chain is walked as above, and then the chain's
//! last session passes `role_arn` to the service (hence the spec grants
//! `mf-secr2b` PassRole on `mf-secr`), which assumes it by its trust of the
//! service. The result is a session of `role_arn`, which calls KMS.

use std::fmt;

use crate::arn::Arn;
use crate::denied::AccessDenied;
use crate::policy::context::RequestContext;
use crate::principal::{Principal, ServiceName};
use crate::service::Iam;
use crate::sts::{session_name_from, session_principal};

/// The most roles one chain may pass through.
pub const MAX_CHAIN_ROLES: usize = 10;

/// One step of a role chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStep {
    /// `by` passes `role` to the service.
    PassRole {
        /// The role passed.
        role: Arn,
        /// Who passes it.
        by: String,
    },
    /// The service assumes `role`, which must trust it.
    ServiceTrust {
        /// The role.
        role: Arn,
        /// The service.
        service: ServiceName,
    },
    /// The previous session assumes `role`.
    AssumeRole {
        /// The role.
        role: Arn,
        /// The session assuming it.
        by: String,
    },
}

impl fmt::Display for ChainStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PassRole { role, by } => write!(f, "PassRole of role {role} by {by}"),
            Self::ServiceTrust { role, service } => {
                write!(f, "trust of role {role} for service {service}")
            }
            Self::AssumeRole { role, by } => write!(f, "AssumeRole of role {role} by {by}"),
        }
    }
}

/// A role chain that stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleChainError {
    /// Step `number` (from 1) was refused.
    #[error("role chain step {number} ({step}) failed: {denied}")]
    Denied {
        /// The step's position, from 1.
        number: usize,
        /// The step (boxed: it names roles, and errors travel far).
        step: Box<ChainStep>,
        /// The refusal: principal, action, resource and reason.
        denied: AccessDenied,
    },
    /// The chain is longer than [`MAX_CHAIN_ROLES`].
    #[error("the role chain has {0} roles; at most {MAX_CHAIN_ROLES} are allowed")]
    TooLong(usize),
}

impl RoleChainError {
    /// The step that failed, if one did.
    pub fn step(&self) -> Option<&ChainStep> {
        match self {
            Self::Denied { step, .. } => Some(step),
            Self::TooLong(_) => None,
        }
    }
}

/// One hop of a walk: a role handed to the service, or assumed directly.
enum Hop<'a> {
    Passed(&'a Arn),
    Assumed(&'a Arn),
}

impl Iam {
    /// The design's role chain (see the module documentation); returns the
    /// session of the last role.
    pub fn assume_role_chain(
        &self,
        caller: &Principal,
        service: &ServiceName,
        first_role: &Arn,
        further_roles: &[Arn],
        context: &RequestContext,
    ) -> Result<Principal, RoleChainError> {
        let hops: Vec<Hop<'_>> = std::iter::once(Hop::Passed(first_role))
            .chain(further_roles.iter().map(Hop::Assumed))
            .collect();
        self.walk(caller, service, &hops, context)
    }

    /// The principal a wrapped-keyset function acts as, from the spec's
    /// `role_arn` and `role_chain` arguments (see the module documentation).
    pub fn resolve_role_chain(
        &self,
        caller: &Principal,
        service: &ServiceName,
        role_arn: &Arn,
        role_chain: &[Arn],
        context: &RequestContext,
    ) -> Result<Principal, RoleChainError> {
        let mut hops: Vec<Hop<'_>> = Vec::with_capacity(role_chain.len() + 1);
        if let Some((first, rest)) = role_chain.split_first() {
            hops.push(Hop::Passed(first));
            hops.extend(rest.iter().map(Hop::Assumed));
        }
        hops.push(Hop::Passed(role_arn));
        self.walk(caller, service, &hops, context)
    }

    fn walk(
        &self,
        caller: &Principal,
        service: &ServiceName,
        hops: &[Hop<'_>],
        context: &RequestContext,
    ) -> Result<Principal, RoleChainError> {
        if hops.len() > MAX_CHAIN_ROLES {
            return Err(RoleChainError::TooLong(hops.len()));
        }
        let session_name = session_name_from(service.as_str());
        let service_principal = Principal::Service(service.clone());
        let denied = |number, step: ChainStep, denied| RoleChainError::Denied {
            number,
            step: Box::new(step),
            denied,
        };
        let mut current = caller.clone();
        let mut number = 0;
        for hop in hops {
            number += 1;
            let role = match hop {
                Hop::Passed(arn) => {
                    let by = current.to_string();
                    self.check_pass_role(&current, arn, context).map_err(|d| {
                        denied(
                            number,
                            ChainStep::PassRole {
                                role: (*arn).clone(),
                                by,
                            },
                            d,
                        )
                    })?;
                    number += 1;
                    self.check_assume_role(&service_principal, arn, context)
                        .map_err(|d| {
                            let step = ChainStep::ServiceTrust {
                                role: (*arn).clone(),
                                service: service.clone(),
                            };
                            denied(number, step, d)
                        })?
                }
                Hop::Assumed(arn) => {
                    self.check_assume_role(&current, arn, context)
                        .map_err(|d| {
                            let by = current.to_string();
                            denied(
                                number,
                                ChainStep::AssumeRole {
                                    role: (*arn).clone(),
                                    by,
                                },
                                d,
                            )
                        })?
                }
            };
            current = session_principal(&role, &session_name);
        }
        Ok(current)
    }
}
