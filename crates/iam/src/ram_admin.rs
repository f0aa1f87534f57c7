//! RAM administration as a principal: each operation is authorised here,
//! with the cloud's RAM action names (`ram:CreateUser`,
//! `ram:AttachPolicyToRole`, ...) on the ARN of what it changes, before it
//! runs. An account root may do everything in its account; a RAM user or a
//! role session needs a policy allowing the action (for instance the system
//! policy `AliyunRAMFullAccess`); nobody administers another account. The
//! CLI, and any later HTTP or SQL front end, call this and cannot forget a
//! check.

use crate::model::{CustomPolicy, Role, User};
use crate::{
    AccountId, Arn, AttachTarget, Error, Iam, NewAccessKey, PolicyRef, Principal, RequestContext,
};

/// The administration of one account, as one caller.
pub struct RamAdmin<'a> {
    iam: &'a Iam,
    caller: &'a Principal,
    account: AccountId,
}

impl Iam {
    /// Administration of `caller`'s own account; each operation is
    /// authorised as `caller`. A service administers no account.
    pub fn admin<'a>(&'a self, caller: &'a Principal) -> Result<RamAdmin<'a>, Error> {
        let account = caller.account().cloned().ok_or_else(|| {
            Error::InvalidRequest(format!(
                "{caller} administers no account; sign in as an account root, a RAM user or a \
                 role session"
            ))
        })?;
        Ok(RamAdmin {
            iam: self,
            caller,
            account,
        })
    }
}

impl RamAdmin<'_> {
    /// The account administered: the caller's own.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The user `name` of this account, as policies attach to it.
    pub fn user_target(&self, name: &str) -> AttachTarget {
        AttachTarget::User {
            account: self.account.clone(),
            name: name.to_owned(),
        }
    }

    /// The role `name` of this account, as policies attach to it.
    pub fn role_target(&self, name: &str) -> AttachTarget {
        AttachTarget::Role {
            account: self.account.clone(),
            name: name.to_owned(),
        }
    }

    /// A custom policy of this account (or, with `system`, a system policy).
    pub fn policy(&self, name: &str, system: bool) -> PolicyRef {
        if system {
            PolicyRef::System(name.to_owned())
        } else {
            PolicyRef::Custom {
                account: self.account.clone(),
                name: name.to_owned(),
            }
        }
    }

    fn require(&self, action: &str, resource: &Arn) -> Result<(), Error> {
        self.iam
            .authorize(self.caller, action, resource, &RequestContext::new())
            .map_err(|d| Error::AccessDenied(Box::new(d)))
    }

    /// `ram:CreateUser`.
    pub fn create_user(&self, name: &str) -> Result<User, Error> {
        self.require("ram:CreateUser", &Arn::user(&self.account, name))?;
        self.iam.create_user(&self.account, name)
    }

    /// `ram:CreateAccessKey`: for the user `name`, or the account's root.
    pub fn create_access_key(&self, user: Option<&str>) -> Result<NewAccessKey, Error> {
        let owner = match user {
            Some(name) => Principal::User {
                account: self.account.clone(),
                name: name.to_ascii_lowercase(),
            },
            None => Principal::Root {
                account: self.account.clone(),
            },
        };
        let arn = match user {
            Some(name) => Arn::user(&self.account, name),
            None => Arn::parse(&format!("acs:ram::{}:root", self.account))?,
        };
        self.require("ram:CreateAccessKey", &arn)?;
        self.iam.create_access_key(&owner)
    }

    /// `ram:CreateRole`.
    pub fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        max_session_duration: Option<u32>,
        description: &str,
    ) -> Result<Role, Error> {
        self.require("ram:CreateRole", &Arn::role(&self.account, name))?;
        self.iam.create_role(
            &self.account,
            name,
            trust_policy,
            max_session_duration,
            description,
        )
    }

    /// `ram:UpdateRole`: the role's new trust policy; its ARN.
    pub fn update_role(&self, name: &str, trust_policy: &str) -> Result<Arn, Error> {
        let arn = Arn::role(&self.account, name);
        self.require("ram:UpdateRole", &arn)?;
        self.iam.set_role_trust_policy(&arn, trust_policy)?;
        Ok(arn)
    }

    /// `ram:GetRole`: the role and the policies attached to it.
    pub fn get_role(&self, name: &str) -> Result<(Role, Vec<PolicyRef>), Error> {
        let arn = Arn::role(&self.account, name);
        self.require("ram:GetRole", &arn)?;
        let role = self.iam.role(&arn)?;
        let policies = self.iam.attached_policies(&self.role_target(name))?;
        Ok((role, policies))
    }

    /// `ram:CreatePolicy`.
    pub fn create_policy(
        &self,
        name: &str,
        document: &str,
        description: &str,
    ) -> Result<CustomPolicy, Error> {
        let arn = Arn::parse(&format!("acs:ram::{}:policy/{name}", self.account))?;
        self.require("ram:CreatePolicy", &arn)?;
        self.iam
            .create_policy(&self.account, name, document, description)
    }

    /// `ram:AttachPolicyToUser` / `ram:AttachPolicyToRole`.
    pub fn attach_policy(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), Error> {
        let action = match target {
            AttachTarget::User { .. } => "ram:AttachPolicyToUser",
            AttachTarget::Role { .. } => "ram:AttachPolicyToRole",
        };
        self.require(action, &target.arn())?;
        self.iam.attach_policy(target, policy)
    }

    /// `ram:DetachPolicyFromUser` / `ram:DetachPolicyFromRole`.
    pub fn detach_policy(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), Error> {
        let action = match target {
            AttachTarget::User { .. } => "ram:DetachPolicyFromUser",
            AttachTarget::Role { .. } => "ram:DetachPolicyFromRole",
        };
        self.require(action, &target.arn())?;
        self.iam.detach_policy(target, policy)
    }

    /// `ram:ListPoliciesForUser` / `ram:ListPoliciesForRole`.
    pub fn attached_policies(&self, target: &AttachTarget) -> Result<Vec<PolicyRef>, Error> {
        let action = match target {
            AttachTarget::User { .. } => "ram:ListPoliciesForUser",
            AttachTarget::Role { .. } => "ram:ListPoliciesForRole",
        };
        self.require(action, &target.arn())?;
        self.iam.attached_policies(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceName;
    use crate::policy::builtin::RAM_FULL_ACCESS;
    use crate::testutil::{A, B, acct, iam};

    fn root(uid: &str) -> Principal {
        Principal::Root { account: acct(uid) }
    }

    fn user(uid: &str, name: &str) -> Principal {
        Principal::User {
            account: acct(uid),
            name: name.to_owned(),
        }
    }

    fn denied(result: Result<impl std::fmt::Debug, Error>) -> bool {
        matches!(result, Err(Error::AccessDenied(_)))
    }

    #[test]
    fn a_root_administers_its_account_and_a_user_needs_a_policy() {
        let (iam, _) = iam();
        let a = root(A);
        let admin = iam.admin(&a).expect("root");
        admin.create_user("alice").expect("root creates users");
        let alice = user(A, "alice");
        let as_alice = iam.admin(&alice).expect("user");
        assert!(denied(as_alice.create_user("mallory")));
        assert!(denied(as_alice.create_access_key(None)));
        let target = as_alice.user_target("alice");
        let full = as_alice.policy(RAM_FULL_ACCESS, true);
        assert!(denied(as_alice.attach_policy(&target, &full)));
        // The root grants the RAM full-access policy; now alice may.
        admin.attach_policy(&target, &full).expect("root attaches");
        as_alice
            .create_user("bob")
            .expect("alice creates users now");
        assert_eq!(
            as_alice.attached_policies(&target).expect("list"),
            vec![full]
        );
    }

    #[test]
    fn nobody_administers_another_account() {
        let (iam, _) = iam();
        let b = root(B);
        let admin_b = iam.admin(&b).expect("root of B");
        // The targets are always the caller's own account...
        assert_eq!(admin_b.user_target("x").arn(), Arn::user(&acct(B), "x"));
        // ...and a target of another account is refused.
        iam.admin(&root(A))
            .expect("root of A")
            .create_user("alice")
            .expect("create");
        let foreign = AttachTarget::User {
            account: acct(A),
            name: "alice".into(),
        };
        let full = admin_b.policy(RAM_FULL_ACCESS, true);
        assert!(denied(admin_b.attach_policy(&foreign, &full)));
        // A service has no account to administer.
        let service = Principal::Service(ServiceName::warehouse());
        assert!(matches!(iam.admin(&service), Err(Error::InvalidRequest(_))));
    }
}
