//! One call through the service: who makes it, what it touches, and the audit
//! event it leaves, whatever its outcome.
//!
//! [`Call`] is created by the handle for every operation, carries the request
//! id and the time of the call, authorises through the identity service, and
//! collects the key ARNs the operation names or finds; the handle then writes
//! the audit event (`service.rs`). A call whose result cannot be audited does
//! not return its result.

use sealhouse_iam::{AccountId, Arn, Iam, Principal, RequestContext};
use time::OffsetDateTime;

use crate::audit::NewEvent;
use crate::error::{ErrorCode, KmsError};
use crate::ids;
use crate::store::KeyRecord;

/// A key a call touched, for the audit log.
#[derive(Debug, Clone)]
struct Touched {
    arn: String,
    key_id: String,
    account: Option<AccountId>,
}

/// One call in progress.
pub(crate) struct Call<'a> {
    principal: &'a Principal,
    context: &'a RequestContext,
    iam: &'a Iam,
    operation: &'static str,
    request_id: String,
    now: OffsetDateTime,
    key: Option<Touched>,
    other_key: Option<Touched>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(
        principal: &'a Principal,
        context: &'a RequestContext,
        iam: &'a Iam,
        operation: &'static str,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            principal,
            context,
            iam,
            operation,
            request_id: ids::new_request_id(),
            now,
            key: None,
            other_key: None,
        }
    }

    /// The request id (`RequestId` of the response and of the audit event).
    pub(crate) fn request_id(&self) -> String {
        self.request_id.clone()
    }

    /// The time of the call in Unix seconds.
    pub(crate) fn now_unix(&self) -> i64 {
        self.now.unix_timestamp()
    }

    /// The operation's name, such as `Encrypt`.
    pub(crate) fn operation(&self) -> &'static str {
        self.operation
    }

    /// `kms:<Operation>`: the action authorised for most operations.
    pub(crate) fn action(&self) -> String {
        format!("kms:{}", self.operation)
    }

    /// The caller's account: where its keys and aliases live. A service has
    /// none and may not call the KMS directly.
    pub(crate) fn caller_account(&self) -> Result<AccountId, KmsError> {
        self.principal.account().cloned().ok_or_else(|| {
            KmsError::new(
                ErrorCode::NoPermission,
                format!(
                    "access denied: {} is not allowed {}: services hold no permissions of \
                     their own; they act by assuming a role that trusts them",
                    self.principal,
                    self.action()
                ),
            )
        })
    }

    /// Authorises `action` on `resource` for the caller.
    pub(crate) fn authorize(&self, action: &str, resource: &Arn) -> Result<(), KmsError> {
        self.iam
            .authorize(self.principal, action, resource, self.context)
            .map_err(|denied| KmsError::denied(&denied))
    }

    /// Authorises `action` on `resource` of another account that consented
    /// to it outside the identity service (a key's viewer): the caller's own
    /// policies decide.
    pub(crate) fn authorize_consented(&self, action: &str, resource: &Arn) -> Result<(), KmsError> {
        self.iam
            .authorize_consented(self.principal, action, resource, self.context)
            .map_err(|denied| KmsError::denied(&denied))
    }

    /// Authorises `action` on the resource whose ARN is `resource`.
    pub(crate) fn authorize_text(&self, action: &str, resource: &str) -> Result<(), KmsError> {
        let arn = Arn::parse(resource).map_err(|e| {
            KmsError::internal(format!("the KMS built an ARN that does not parse: {e}"))
        })?;
        self.authorize(action, &arn)
    }

    /// Records that the call touched `key`: the first key noted is the
    /// event's key, the second (ReEncrypt's destination) its other key.
    pub(crate) fn note_key(&mut self, key: &KeyRecord) {
        self.note(
            key.arn_text(),
            key.key_id.clone(),
            Some(key.account.clone()),
        );
    }

    /// Records a key named by ARN that does not exist.
    pub(crate) fn note_missing_key(&mut self, arn: String, key_id: String) {
        self.note(arn, key_id, None);
    }

    fn note(&mut self, arn: String, key_id: String, account: Option<AccountId>) {
        let touched = Touched {
            arn,
            key_id,
            account,
        };
        match (&self.key, &self.other_key) {
            (None, _) => self.key = Some(touched),
            (Some(first), None) if first.arn != touched.arn => self.other_key = Some(touched),
            _ => {}
        }
    }

    /// The audit event of this call, ending with `outcome`.
    pub(crate) fn event(&self, outcome: &str) -> NewEvent {
        NewEvent {
            time: self.now,
            request_id: self.request_id.clone(),
            principal: self.principal.to_string(),
            principal_account: self.principal.account().map(ToString::to_string),
            action: self.operation.to_owned(),
            key_arn: self.key.as_ref().map(|k| k.arn.clone()),
            key_id: self.key.as_ref().map(|k| k.key_id.clone()),
            key_account: self
                .key
                .as_ref()
                .and_then(|k| k.account.as_ref().map(ToString::to_string)),
            other_key_arn: self.other_key.as_ref().map(|k| k.arn.clone()),
            other_key_id: self.other_key.as_ref().map(|k| k.key_id.clone()),
            other_key_account: self
                .other_key
                .as_ref()
                .and_then(|k| k.account.as_ref().map(ToString::to_string)),
            outcome: outcome.to_owned(),
            source_ip: self
                .context
                .get(sealhouse_iam::policy::context::SOURCE_IP)
                .map(str::to_owned),
        }
    }
}
