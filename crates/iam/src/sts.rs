//! STS: AssumeRole, which issues expiring temporary credentials, and the
//! PassRole check.
//!
//! AssumeRole by `caller` of role `R` needs both:
//!
//! - (a) the caller's own account allows it `sts:AssumeRole` on `R`'s ARN
//!   (see `authorize.rs`: roots always; users and role sessions by their
//!   policies). Services skip (a): they hold no policies and are admitted by
//!   trust alone.
//! - (b) `R`'s trust policy names the caller: its service name, its account
//!   root (any principal of that account that passes (a)), the user itself, or
//!   the role whose session it is. This holds within one account too.
//!
//! The session acts with the role's attached policies. Credentials last from
//! 900 seconds to the role's maximum session duration (default 3600).
//!
//! PassRole: handing a role to a service so that the service assumes it. The
//! caller must be allowed `ram:PassRole` on the role's ARN, and the role must
//! be of the caller's account (a role of another account cannot be passed).

use time::{Duration, OffsetDateTime};

use crate::arn::Arn;
use crate::authn::{STS_KEY_PREFIX, token_hash};
use crate::denied::AccessDenied;
use crate::error::Error;
use crate::model::{Role, StsSessionRecord};
use crate::names::{self, printable};
use crate::policy::context::RequestContext;
use crate::principal::Principal;
use crate::secret::{SecretText, random_base62};
use crate::service::Iam;

/// The shortest session AssumeRole grants, in seconds.
pub const MIN_SESSION_SECONDS: u32 = 900;

/// Temporary credentials from AssumeRole. The secret and token are returned
/// once and stored only sealed (secret) or hashed (token).
#[derive(Debug)]
pub struct TemporaryCredentials {
    /// The access key id, `STS.` and 24 characters.
    pub access_key_id: String,
    /// The HMAC secret.
    pub secret: SecretText,
    /// The security token requests must carry beside the signature.
    pub security_token: SecretText,
    /// When the credentials stop working.
    pub expiration: OffsetDateTime,
    /// The session principal the credentials act as.
    pub assumed_role: Principal,
}

impl Iam {
    /// Checks that `caller` may pass `role` to a service.
    pub fn check_pass_role(
        &self,
        caller: &Principal,
        role: &Arn,
        context: &RequestContext,
    ) -> Result<(), AccessDenied> {
        self.load_role(caller, "ram:PassRole", role)?;
        self.authorize(caller, "ram:PassRole", role, context)
    }

    /// Checks (a) and (b) of AssumeRole and returns the role, issuing nothing.
    pub fn check_assume_role(
        &self,
        caller: &Principal,
        role: &Arn,
        context: &RequestContext,
    ) -> Result<Role, AccessDenied> {
        let ctx = self.with_current_time(context);
        self.load_role(caller, "sts:AssumeRole", role)?;
        if !matches!(caller, Principal::Service(_)) {
            self.identity_allows(caller, "sts:AssumeRole", role, &ctx)?;
        }
        self.trust_consents(caller, role, &ctx)
    }

    /// AssumeRole: checks, then issues and records temporary credentials.
    /// `duration_seconds` defaults to 3600, capped at the role's maximum.
    pub fn assume_role(
        &self,
        caller: &Principal,
        role: &Arn,
        session_name: &str,
        duration_seconds: Option<u32>,
        context: &RequestContext,
    ) -> Result<TemporaryCredentials, Error> {
        names::check_session_name(session_name)?;
        let role = self.check_assume_role(caller, role, context)?;
        let max = role.max_session_duration;
        let duration = duration_seconds.unwrap_or(max.min(3600));
        if !(MIN_SESSION_SECONDS..=max).contains(&duration) {
            return Err(Error::InvalidRequest(format!(
                "DurationSeconds {duration} is out of range: role {} allows {MIN_SESSION_SECONDS} \
                 to {max} seconds",
                role.arn()
            )));
        }
        let assumed_role = session_principal(&role, session_name);
        let access_key_id = format!("{STS_KEY_PREFIX}{}", random_base62(24)?);
        let secret = SecretText::random(40)?;
        let security_token = SecretText::random(96)?;
        let now = self.now();
        let expiration = now + Duration::seconds(i64::from(duration));
        let record = StsSessionRecord {
            sealed_secret: self
                .sealer()
                .seal(secret.as_secret(), access_key_id.as_bytes())?,
            access_key_id: access_key_id.clone(),
            principal: assumed_role.clone(),
            token_sha256: token_hash(&security_token),
            expires_at: expiration,
            created_at: now,
        };
        self.store().insert_sts_session(&record)?;
        Ok(TemporaryCredentials {
            access_key_id,
            secret,
            security_token,
            expiration,
            assumed_role,
        })
    }

    /// Deletes expired temporary credentials; returns how many.
    pub fn purge_expired_sessions(&self) -> Result<usize, Error> {
        Ok(self.store().delete_expired_sts_sessions(self.now())?)
    }
}

/// The principal of a session of `role` named `session`.
pub(crate) fn session_principal(role: &Role, session: &str) -> Principal {
    Principal::AssumedRole {
        account: role.account.clone(),
        role: names::canonical(&role.name),
        session: session.to_owned(),
    }
}

/// A session name derived from `text`: its allowed characters, 2 to 64 of them.
pub(crate) fn session_name_from(text: &str) -> String {
    let mut name: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-@".contains(*c))
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    debug_assert!(
        names::check_session_name(&name).is_ok(),
        "{}",
        printable(&name)
    );
    name
}

#[cfg(test)]
#[path = "sts_tests.rs"]
mod sts_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_session_names_are_valid() {
        assert_eq!(
            session_name_from("sealhouse-warehouse"),
            "sealhouse-warehouse"
        );
        assert_eq!(session_name_from("a"), "a-");
        assert_eq!(
            session_name_from("odps.aliyuncs.com/x y"),
            "odps.aliyuncs.comxy"
        );
        assert_eq!(session_name_from(&"z".repeat(100)).len(), 64);
    }
}
