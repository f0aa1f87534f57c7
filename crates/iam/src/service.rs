//! The identity service: administration of accounts, users, access keys,
//! roles and policies. Authentication is in `authn.rs`, authorisation in
//! `authorize.rs`, AssumeRole and PassRole in `sts.rs`, role chains in
//! `role_chain.rs`.

use crate::arn::Arn;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::model::{
    AccessKeyRecord, AccessKeyStatus, Account, AttachTarget, CustomPolicy, PolicyRef, Role, User,
};
use crate::names::{self, AccountId};
use crate::policy::builtin;
use crate::policy::document::PolicyDocument;
use crate::policy::trust::TrustPolicy;
use crate::principal::Principal;
use crate::secret::{SecretSealer, SecretText, random_base62};
use crate::store::Store;

/// The longest custom policy document accepted, in bytes (the cloud's limit).
pub const MAX_POLICY_DOCUMENT_BYTES: usize = 6144;
/// The default and smallest maximum session duration of a role, in seconds.
pub const DEFAULT_MAX_SESSION_SECONDS: u32 = 3600;
/// The largest maximum session duration a role may have, in seconds.
pub const LARGEST_MAX_SESSION_SECONDS: u32 = 43_200;

/// A long-lived access key, as returned once at creation. The secret is not
/// shown again: later only its sealed form exists.
#[derive(Debug)]
pub struct NewAccessKey {
    /// The public id, `LTAI` and 20 characters.
    pub id: String,
    /// The secret: give it to its owner and drop it.
    pub secret: SecretText,
    /// The root or user it belongs to.
    pub owner: Principal,
}

/// The identity service over a store.
pub struct Iam {
    store: Box<dyn Store>,
    sealer: Box<dyn SecretSealer>,
    clock: Box<dyn Clock>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Iam")
    }
}

impl Iam {
    /// A service over `store`, sealing secrets with `sealer`, on the system clock.
    pub fn new(store: impl Store + 'static, sealer: impl SecretSealer + 'static) -> Self {
        Self {
            store: Box::new(store),
            sealer: Box::new(sealer),
            clock: Box::new(SystemClock),
        }
    }

    /// The same service reading time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn sealer(&self) -> &dyn SecretSealer {
        self.sealer.as_ref()
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Creates an account and its root's first access key.
    pub fn create_account(&self, id: &AccountId) -> Result<NewAccessKey, Error> {
        let owner = Principal::Root {
            account: id.clone(),
        };
        let (key, record) = self.new_access_key(owner)?;
        let account = Account {
            id: id.clone(),
            created_at: self.now(),
        };
        self.store.insert_account(&account, &record)?;
        Ok(key)
    }

    /// Makes sure the service-owned account `id` exists: created on first
    /// use with its root's access key already inactive and its secret
    /// discarded, so nobody can ever sign requests as that account. Services
    /// keep resources there (the warehouse's default storage keys) that no
    /// customer principal can be granted, since policies never reach across
    /// accounts.
    pub fn ensure_service_account(&self, id: &AccountId) -> Result<(), Error> {
        if self.store.account(id)?.is_some() {
            return Ok(());
        }
        let (_discarded, mut record) = self.new_access_key(Principal::Root {
            account: id.clone(),
        })?;
        record.status = AccessKeyStatus::Inactive;
        let account = Account {
            id: id.clone(),
            created_at: self.now(),
        };
        match self.store.insert_account(&account, &record) {
            Ok(()) => Ok(()),
            // Created meanwhile by another process: fine.
            Err(_) if self.store.account(id)?.is_some() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates user `name` in `account`.
    pub fn create_user(&self, account: &AccountId, name: &str) -> Result<User, Error> {
        names::check_user_name(name)?;
        self.require_account(account)?;
        let user = User {
            account: account.clone(),
            name: name.to_owned(),
            created_at: self.now(),
        };
        self.store.insert_user(&user)?;
        Ok(user)
    }

    /// A user by account and name (any case).
    pub fn user(&self, account: &AccountId, name: &str) -> Result<User, Error> {
        self.store
            .user(account, name)?
            .ok_or_else(|| Error::NotFound {
                kind: "user",
                name: Arn::user(account, name).to_string(),
            })
    }

    /// Adds an access key for an account root or a user.
    pub fn create_access_key(&self, owner: &Principal) -> Result<NewAccessKey, Error> {
        match owner {
            Principal::Root { account } => self.require_account(account)?,
            Principal::User { account, name } => drop(self.user(account, name)?),
            other => {
                return Err(Error::InvalidRequest(format!(
                    "only an account root or a user has access keys, not {other}; roles get \
                     temporary credentials from AssumeRole"
                )));
            }
        }
        let (key, record) = self.new_access_key(owner.clone())?;
        self.store.insert_access_key(&record)?;
        Ok(key)
    }

    /// Makes an access key active or inactive.
    pub fn set_access_key_status(&self, id: &str, status: AccessKeyStatus) -> Result<(), Error> {
        Ok(self.store.set_access_key_status(id, status)?)
    }

    fn new_access_key(&self, owner: Principal) -> Result<(NewAccessKey, AccessKeyRecord), Error> {
        let id = format!("LTAI{}", random_base62(20)?);
        let secret = SecretText::random(30)?;
        let record = AccessKeyRecord {
            sealed_secret: self.sealer.seal(secret.as_secret(), id.as_bytes())?,
            id: id.clone(),
            owner: owner.clone(),
            status: AccessKeyStatus::Active,
            created_at: self.now(),
        };
        Ok((NewAccessKey { id, secret, owner }, record))
    }

    /// Creates role `name` in `account` with a trust policy. The maximum
    /// session duration defaults to 3600 seconds and may be up to 43200.
    pub fn create_role(
        &self,
        account: &AccountId,
        name: &str,
        trust_policy: &str,
        max_session_duration: Option<u32>,
        description: &str,
    ) -> Result<Role, Error> {
        names::check_role_name(name)?;
        check_document_size(trust_policy)?;
        TrustPolicy::parse(trust_policy)?;
        let max = max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_SECONDS);
        if !(DEFAULT_MAX_SESSION_SECONDS..=LARGEST_MAX_SESSION_SECONDS).contains(&max) {
            return Err(Error::InvalidRequest(format!(
                "MaxSessionDuration {max} is out of range: use {DEFAULT_MAX_SESSION_SECONDS} to \
                 {LARGEST_MAX_SESSION_SECONDS} seconds"
            )));
        }
        self.require_account(account)?;
        let role = Role {
            account: account.clone(),
            name: name.to_owned(),
            trust_policy: trust_policy.to_owned(),
            max_session_duration: max,
            description: description.to_owned(),
            created_at: self.now(),
        };
        self.store.insert_role(&role)?;
        Ok(role)
    }

    /// A role by ARN.
    pub fn role(&self, role: &Arn) -> Result<Role, Error> {
        let Arn::Role { account, name } = role else {
            return Err(Error::InvalidRequest(format!(
                "{role} is not a role ARN (acs:ram::<uid>:role/<name>)"
            )));
        };
        self.store
            .role(account, name)?
            .ok_or_else(|| Error::NotFound {
                kind: "role",
                name: role.to_string(),
            })
    }

    /// Replaces a role's trust policy.
    pub fn set_role_trust_policy(&self, role: &Arn, trust_policy: &str) -> Result<(), Error> {
        check_document_size(trust_policy)?;
        TrustPolicy::parse(trust_policy)?;
        let existing = self.role(role)?;
        Ok(self
            .store
            .set_role_trust_policy(&existing.account, &existing.name, trust_policy)?)
    }

    /// Creates custom policy `name` in `account`.
    pub fn create_policy(
        &self,
        account: &AccountId,
        name: &str,
        document: &str,
        description: &str,
    ) -> Result<CustomPolicy, Error> {
        names::check_policy_name(name)?;
        check_document_size(document)?;
        PolicyDocument::parse(document)?;
        self.require_account(account)?;
        let policy = CustomPolicy {
            account: account.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            document: document.to_owned(),
            created_at: self.now(),
        };
        self.store.insert_policy(&policy)?;
        Ok(policy)
    }

    /// The document text of a system or custom policy.
    pub fn policy_document(&self, policy: &PolicyRef) -> Result<String, Error> {
        let missing = || Error::NotFound {
            kind: "policy",
            name: policy.to_string(),
        };
        match policy {
            PolicyRef::System(name) => builtin::system_policy(name)
                .map(|(_, doc)| doc.to_owned())
                .ok_or_else(|| {
                    let names: Vec<&str> = builtin::system_policy_names().collect();
                    Error::NotFound {
                        kind: "system policy",
                        name: format!("{name} (system policies: {})", names.join(", ")),
                    }
                }),
            PolicyRef::Custom { account, name } => self
                .store
                .policy(account, name)?
                .map(|p| p.document)
                .ok_or_else(missing),
        }
    }

    /// Attaches a policy to a user or role. Custom policies attach only
    /// within their own account.
    pub fn attach_policy(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), Error> {
        self.check_attachment(target, policy)?;
        Ok(self.store.attach(target, policy)?)
    }

    /// Detaches a policy from a user or role.
    pub fn detach_policy(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), Error> {
        Ok(self.store.detach(target, policy)?)
    }

    /// The policies attached to a user or role, in attachment order.
    pub fn attached_policies(&self, target: &AttachTarget) -> Result<Vec<PolicyRef>, Error> {
        Ok(self.store.attached(target)?)
    }

    fn check_attachment(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), Error> {
        match target {
            AttachTarget::User { account, name } => drop(self.user(account, name)?),
            AttachTarget::Role { account, name } => drop(self.role(&Arn::role(account, name))?),
        }
        if let PolicyRef::Custom { account, name } = policy
            && account != target.account()
        {
            return Err(Error::InvalidRequest(format!(
                "custom policy {name} belongs to account {account} and cannot be attached to {} \
                 of account {}; create the policy in that account",
                target.arn(),
                target.account()
            )));
        }
        self.policy_document(policy).map(drop)
    }

    pub(crate) fn require_account(&self, account: &AccountId) -> Result<(), Error> {
        match self.store.account(account)? {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                kind: "account",
                name: account.to_string(),
            }),
        }
    }
}

fn check_document_size(document: &str) -> Result<(), Error> {
    if document.len() > MAX_POLICY_DOCUMENT_BYTES {
        return Err(Error::InvalidRequest(format!(
            "the policy document is {} bytes; the limit is {MAX_POLICY_DOCUMENT_BYTES}",
            document.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
