//! Authorisation: may this principal perform this action on this resource?
//!
//! Two sides must agree, as in the original cloud:
//!
//! 1. **The principal's own account.** An account root is allowed everything
//!    (no policy applies to it). A user is allowed what its attached policies
//!    allow, a role session what its role's attached policies allow, by the
//!    rule of `policy::evaluate` (explicit deny wins, default deny). Services
//!    hold no permissions: they act only by assuming a role that trusts them.
//! 2. **The resource's account**, when it is another one. Its consent is:
//!    - for `sts:AssumeRole` on a role: the role's trust policy naming the
//!      principal, its role, or its account (`policy::trust`);
//!    - for KMS keys (any `kms` resource): never. A key is used only by
//!      principals of its own account, including sessions of that account's
//!      roles, so cross-account use goes through a role chain that ends in a
//!      role of the key's account;
//!    - for anything else (PassRole of another account's role included):
//!      never; there are no resource policies.
//!
//! `authorize` does not consult the trust policy of a role in the caller's
//! own account: whether a principal may *call* AssumeRole is side 1 only.
//! `sts.rs` checks trust on every AssumeRole, whatever the accounts.

use crate::arn::Arn;
use crate::denied::{AccessDenied, DenyReason};
use crate::model::{AttachTarget, PolicyRef, Role};
use crate::policy::context::{CURRENT_TIME, RequestContext};
use crate::policy::document::PolicyDocument;
use crate::policy::evaluate::{Decision, Request, evaluate};
use crate::policy::trust::{TrustDecision, TrustPolicy};
use crate::principal::Principal;
use crate::service::Iam;

impl Iam {
    /// Decides a request; `Err` names the principal, action, resource and why.
    ///
    /// `acs:CurrentTime` is taken from the service's clock unless `context`
    /// sets it.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Arn,
        context: &RequestContext,
    ) -> Result<(), AccessDenied> {
        let ctx = self.with_current_time(context);
        self.identity_allows(principal, action, resource, &ctx)?;
        self.resource_consents(principal, action, resource, &ctx)
    }

    /// Decides a request on a resource of another account whose owner has
    /// consented to it outside the identity service (a KMS key naming the
    /// caller's account as a viewer, for `kms:DescribeKey`): only the
    /// principal's own policies are consulted. The caller of this function
    /// vouches for the consent.
    pub fn authorize_consented(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Arn,
        context: &RequestContext,
    ) -> Result<(), AccessDenied> {
        let ctx = self.with_current_time(context);
        self.identity_allows(principal, action, resource, &ctx)
    }

    pub(crate) fn with_current_time(&self, context: &RequestContext) -> RequestContext {
        let mut ctx = context.clone();
        if !ctx.contains(CURRENT_TIME) {
            let now = self
                .now()
                .format(&time::format_description::well_known::Rfc3339);
            // A time the clock gives always formats; if not, the key stays
            // absent and Date conditions on it are false.
            if let Ok(now) = now {
                ctx.insert(CURRENT_TIME, now);
            }
        }
        ctx
    }

    /// Side 1: the principal's own policies.
    pub(crate) fn identity_allows(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Arn,
        ctx: &RequestContext,
    ) -> Result<(), AccessDenied> {
        let deny = |reason| AccessDenied::new(principal, action, resource, reason);
        let (holder, target) = match principal {
            Principal::Service(_) => return Err(deny(DenyReason::ServiceHasNoPermissions)),
            Principal::Root { account } => {
                return match self.store().account(account) {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(deny(DenyReason::UnknownPrincipal)),
                    Err(e) => Err(deny(DenyReason::Internal(e.to_string()))),
                };
            }
            Principal::User { account, name } => (
                format!("user {name}"),
                AttachTarget::User {
                    account: account.clone(),
                    name: name.clone(),
                },
            ),
            Principal::AssumedRole { account, role, .. } => (
                format!("role {role}"),
                AttachTarget::Role {
                    account: account.clone(),
                    name: role.clone(),
                },
            ),
        };
        let policies = self.policies_of(&target).map_err(deny)?;
        let resource_text = resource.to_string();
        let request = Request {
            action,
            resource: &resource_text,
            context: ctx,
        };
        match evaluate(policies.iter().map(|(r, d)| (r, d)), &request) {
            Decision::Allowed(_) => Ok(()),
            Decision::ExplicitDeny(at) => Err(deny(DenyReason::ExplicitDeny(at))),
            Decision::NoAllow => Err(deny(DenyReason::NoPolicyAllows {
                holder,
                attached: policies.len(),
            })),
        }
    }

    /// The parsed policies attached to a user or role that exists.
    fn policies_of(
        &self,
        target: &AttachTarget,
    ) -> Result<Vec<(PolicyRef, PolicyDocument)>, DenyReason> {
        let internal = |e: &dyn std::fmt::Display| DenyReason::Internal(e.to_string());
        let exists = match target {
            AttachTarget::User { account, name } => {
                self.store().user(account, name).map(|u| u.is_some())
            }
            AttachTarget::Role { account, name } => {
                self.store().role(account, name).map(|r| r.is_some())
            }
        };
        if !exists.map_err(|e| internal(&e))? {
            return Err(DenyReason::UnknownPrincipal);
        }
        let refs = self.store().attached(target).map_err(|e| internal(&e))?;
        refs.into_iter()
            .map(|r| {
                let text = self.policy_document(&r).map_err(|e| internal(&e))?;
                // Documents were checked when created; one that no longer
                // parses means a damaged store, and fails closed.
                let doc = PolicyDocument::parse(&text)
                    .map_err(|e| internal(&format!("stored {r} no longer parses: {e}")))?;
                Ok((r, doc))
            })
            .collect()
    }

    /// Side 2: the resource account's consent, when it is another account.
    fn resource_consents(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Arn,
        ctx: &RequestContext,
    ) -> Result<(), AccessDenied> {
        let Some(resource_account) = resource.account() else {
            return Ok(());
        };
        if principal.account() == Some(resource_account) {
            return Ok(());
        }
        let deny = |reason| Err(AccessDenied::new(principal, action, resource, reason));
        match resource {
            Arn::Role { .. } if action.eq_ignore_ascii_case("sts:AssumeRole") => {
                self.trust_consents(principal, resource, ctx).map(drop)
            }
            _ if resource.service() == "kms" => deny(DenyReason::CrossAccountKms {
                key_account: resource_account.clone(),
            }),
            _ => deny(DenyReason::CrossAccount {
                resource_account: resource_account.clone(),
            }),
        }
    }

    /// The role, if its trust policy lets `principal` assume it.
    pub(crate) fn trust_consents(
        &self,
        principal: &Principal,
        role_arn: &Arn,
        ctx: &RequestContext,
    ) -> Result<Role, AccessDenied> {
        let deny = |reason| AccessDenied::new(principal, "sts:AssumeRole", role_arn, reason);
        let role = self.load_role(principal, "sts:AssumeRole", role_arn)?;
        let trust = TrustPolicy::parse(&role.trust_policy).map_err(|e| {
            deny(DenyReason::Internal(format!(
                "the stored trust policy no longer parses: {e}"
            )))
        })?;
        match trust.decide(principal, ctx) {
            TrustDecision::Trusted(_) => Ok(role),
            TrustDecision::Denied(statement) => Err(deny(DenyReason::TrustDenies {
                role: role_arn.clone(),
                statement,
            })),
            TrustDecision::NotNamed => Err(deny(DenyReason::NotTrusted {
                role: role_arn.clone(),
                service: matches!(principal, Principal::Service(_)),
            })),
        }
    }

    /// A role by ARN, or the refusal naming it.
    pub(crate) fn load_role(
        &self,
        principal: &Principal,
        action: &str,
        role_arn: &Arn,
    ) -> Result<Role, AccessDenied> {
        let deny = |reason| AccessDenied::new(principal, action, role_arn, reason);
        let Arn::Role { account, name } = role_arn else {
            return Err(deny(DenyReason::NoSuchRole {
                role: role_arn.clone(),
            }));
        };
        match self.store().role(account, name) {
            Ok(Some(role)) => Ok(role),
            Ok(None) => Err(deny(DenyReason::NoSuchRole {
                role: role_arn.clone(),
            })),
            Err(e) => Err(deny(DenyReason::Internal(e.to_string()))),
        }
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
