//! Wrapping and unwrapping keysets as a session's identity, through the role
//! chain of DESIGN.md ("Identity"): the caller passes the first role to the
//! warehouse service (ram:PassRole), the service assumes it (the role's trust
//! policy names the service), each further role of `role_chain` is assumed by
//! the previous one, and the last role calls the KMS. Errors name the step.
//!
//! The chain is walked on every use, so a grant removed in the identity
//! service takes effect at the next statement. The KMS's answers are cached
//! per chain for the configured TTL (`IdentityServices`), so a key state change in
//! the KMS takes effect when the entry expires, as the spec says. Within one
//! statement an unwrap happens once per distinct (chain, wrapped keyset),
//! whatever the TTL: DataFusion may evaluate a constant call both while
//! planning and while running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::error::{DataFusionError, Result};
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{Arn, Principal, RequestContext, RoleChainError, ServiceName};
use sealhouse_kms::api::{DecryptRequest, EncryptRequest};
use sealhouse_kms::wrapped_keyset::{self as format, context};

use super::services::IdentityServices;
use crate::SqlError;
use crate::functions::{exec, raise};

/// A role chain as the functions take it: `role_arn` and the optional
/// comma-separated `role_chain`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoleArgs<'a> {
    pub(crate) role_arn: &'a str,
    pub(crate) role_chain: Option<&'a str>,
}

/// An unwrap's outcome, kept for the statement.
type Unwrapped = Result<Arc<SecretBytes>, SqlError>;

/// One session's access to wrapped keysets.
pub(crate) struct KeysetWrapper {
    services: Arc<IdentityServices>,
    caller: Principal,
    /// Unwraps done in the current statement, successful or not.
    statement: Mutex<HashMap<(String, Vec<u8>), Unwrapped>>,
}

impl KeysetWrapper {
    pub(crate) fn new(services: Arc<IdentityServices>, caller: Principal) -> Self {
        Self {
            services,
            caller,
            statement: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets the statement's unwraps (the KMS cache keeps its own).
    pub(crate) fn end_statement(&self) {
        self.statement
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The binary keyset inside `wrapped`. With `cmk_arn`, the wrapped keyset
    /// must have been wrapped by that CMK.
    pub(crate) fn unwrap(
        &self,
        function: &str,
        cmk_arn: Option<&str>,
        roles: RoleArgs<'_>,
        wrapped: &[u8],
    ) -> Result<Arc<SecretBytes>> {
        let parsed = format::decode(wrapped).map_err(|e| exec(function, e))?;
        if let Some(arn) = cmk_arn {
            let named = cmk_key_id(function, arn, &self.services.region)?;
            if named != parsed.key_id {
                return Err(exec(
                    function,
                    format!(
                        "the wrapped keyset was wrapped by CMK {}, not by {arn}; pass that CMK's ARN",
                        parsed.key_id
                    ),
                ));
            }
        }
        let (chain, session) = self.walk_chain(function, roles)?;
        let memo_key = (chain.clone(), wrapped.to_vec());
        if let Some(done) = self
            .statement
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&memo_key)
        {
            return done.clone().map_err(raise);
        }
        let kms = self.services.kms_for(&chain, session.clone());
        let outcome = kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: parsed.blob,
                encryption_context: context(),
            })
            .map(|r| Arc::new(r.plaintext))
            .map_err(|e| SqlError::Kms {
                code: e.code(),
                message: format!(
                    "{function}: the KMS refused to unwrap the keyset with CMK {} as {session}: {e}",
                    parsed.key_id
                ),
            });
        self.statement
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(memo_key, outcome.clone());
        outcome.map_err(raise)
    }

    /// `keyset` wrapped by the CMK `cmk_arn`.
    pub(crate) fn wrap(
        &self,
        function: &str,
        cmk_arn: &str,
        roles: RoleArgs<'_>,
        keyset: &SecretBytes,
    ) -> Result<Vec<u8>> {
        cmk_key_id(function, cmk_arn, &self.services.region)?;
        let (chain, session) = self.walk_chain(function, roles)?;
        let kms = self.services.kms_for(&chain, session.clone());
        let response = kms
            .encrypt(&EncryptRequest {
                key_id: cmk_arn.to_owned(),
                plaintext: SecretBytes::from_slice(keyset.expose()),
                encryption_context: context(),
            })
            .map_err(|e| {
                raise(SqlError::Kms {
                    code: e.code(),
                    message: format!(
                        "{function}: the KMS refused to wrap the keyset with {cmk_arn} as \
                         {session}: {e}"
                    ),
                })
            })?;
        Ok(format::encode(&response.key_id, &response.ciphertext_blob))
    }

    /// Walks the role chain; returns its cache key and the last session.
    fn walk_chain(&self, function: &str, roles: RoleArgs<'_>) -> Result<(String, Principal)> {
        let role = Arn::parse(roles.role_arn.trim())
            .map_err(|e| exec(function, format!("role_arn: {e}")))?;
        let chain = roles
            .role_chain
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|arn| {
                        Arn::parse(arn).map_err(|e| exec(function, format!("role_chain: {e}")))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let session = self
            .services
            .iam
            .resolve_role_chain(
                &self.caller,
                &ServiceName::warehouse(),
                &role,
                &chain,
                &RequestContext::new(),
            )
            .map_err(|e| chain_refused(function, e))?;
        let mut key = format!("{}\n{role}", self.caller);
        for hop in &chain {
            key.push_str(&format!("\n{hop}"));
        }
        Ok((key, session))
    }
}

/// The key id of a CMK ARN (`acs:kms:<region>:<uid>:key/<key-id>`).
/// The key id of the CMK ARN `arn`, which must name a key of `region` (the
/// KMS's: a key is used in its own region, as in the original service).
fn cmk_key_id(function: &str, arn: &str, region: &str) -> Result<String> {
    match Arn::parse(arn.trim()) {
        Ok(Arn::KmsKey { region: named, .. }) if named != region => Err(exec(
            function,
            format!(
                "kms_cmk_arn {arn} names region {named}, but this warehouse and its KMS are in \
                 region {region}; use a CMK of {region}, or run Sealhouse for region {named} \
                 (--region, $SEALHOUSE_REGION)"
            ),
        )),
        Ok(Arn::KmsKey { key_id, .. }) => Ok(key_id),
        Ok(_) => Err(exec(
            function,
            format!("kms_cmk_arn {arn} is not a KMS key ARN (acs:kms:<region>:<uid>:key/<key-id>)"),
        )),
        Err(e) => Err(exec(function, format!("kms_cmk_arn: {e}"))),
    }
}

/// A role chain that stopped: a refused step is an access denial naming
/// who was refused what; a chain too long is a value the function refuses.
fn chain_refused(function: &str, error: RoleChainError) -> DataFusionError {
    let message = format!("{function}: {error}");
    raise(match &error {
        RoleChainError::Denied { denied, .. } => SqlError::denied(
            denied.principal(),
            denied.action(),
            denied.resource(),
            message,
        ),
        _ => SqlError::InvalidInput(message),
    })
}
