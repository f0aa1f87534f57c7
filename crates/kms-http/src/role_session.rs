//! A KMS connection acting as a role: temporary credentials from
//! [`KmsClient::assume_role`], renewed a few minutes before they expire.
//! How a principal that reaches the KMS only over HTTP (a cluster
//! executor) uses keys of another account, whose administrator made a role
//! that trusts it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::signing::Credentials;
use sealhouse_kms::{ErrorCode, KmsData, KmsError};
use time::OffsetDateTime;

use crate::KmsClient;

/// How long before their expiry a session's credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The KMS acting as a session of one role.
pub struct RoleSessionKms {
    /// The caller's own client, which assumes the role.
    via: KmsClient,
    role_arn: String,
    session_name: String,
    /// What to do when the role cannot be assumed.
    hint: Option<String>,
    current: Mutex<Option<Session>>,
}

struct Session {
    client: Arc<KmsClient>,
    expires: OffsetDateTime,
}

impl fmt::Debug for RoleSessionKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleSessionKms")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl RoleSessionKms {
    /// The KMS as session `session_name` of `role_arn`, assumed through
    /// `via` when first used.
    pub fn new(via: KmsClient, role_arn: &str, session_name: &str) -> Self {
        Self {
            via,
            role_arn: role_arn.to_owned(),
            session_name: session_name.to_owned(),
            hint: None,
            current: Mutex::new(None),
        }
    }

    /// Adds `hint` (what to do) to the error when the role cannot be
    /// assumed.
    #[must_use]
    pub fn with_hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.to_owned());
        self
    }

    /// A client of the current session, assuming the role again if there
    /// is none or it expires soon.
    fn session(&self) -> Result<Arc<KmsClient>, KmsError> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let now = OffsetDateTime::now_utc();
        if let Some(session) = current.as_ref()
            && session.expires - RENEW_BEFORE > now
        {
            return Ok(Arc::clone(&session.client));
        }
        let answer = self
            .via
            .assume_role(&self.role_arn, &self.session_name)
            .map_err(|e| {
                KmsError::new(
                    e.code(),
                    format!(
                        "cannot act as role {} (assumed to use that account's keys): {}{}",
                        self.role_arn,
                        e.message(),
                        self.hint
                            .as_deref()
                            .map(|h| format!("; {h}"))
                            .unwrap_or_default()
                    ),
                )
            })?;
        let expires = OffsetDateTime::parse(
            &answer.credentials.expiration,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| {
            KmsError::new(
                ErrorCode::InternalFailure,
                format!(
                    "the KMS answered AssumeRole of {} with an expiry that does not parse",
                    self.role_arn
                ),
            )
        })?;
        let credentials = Credentials::new(
            answer.credentials.access_key_id.clone(),
            SecretBytes::from_slice(answer.credentials.access_key_secret.as_bytes()),
        )
        .with_security_token(SecretBytes::from_slice(
            answer.credentials.security_token.as_bytes(),
        ));
        let client = Arc::new(self.via.with_credentials(credentials));
        *current = Some(Session {
            client: Arc::clone(&client),
            expires,
        });
        Ok(client)
    }
}

/// Every data operation, through the current session.
macro_rules! session_calls {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        impl KmsData for RoleSessionKms {
            $(
                fn $data_method(&self, request: &$data_req) -> Result<$data_resp, KmsError> {
                    self.session()?.$data_method(request)
                }
            )*
        }
    };
}

sealhouse_kms::kms_operations!(session_calls);
