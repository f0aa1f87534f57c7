//! `AssumeRole` over the same signed API: a principal that reaches the KMS
//! only over HTTP (a cluster executor, another engine) gets temporary
//! credentials of a role that trusts it, as STS gives them. The identity
//! service checks both sides, as in-process callers' AssumeRole does: the
//! caller's own policies allow `sts:AssumeRole` on the role, and the role's
//! trust policy names the caller.

use sealhouse_iam::{Arn, Error as IamError, Iam, Principal, RequestContext};
use sealhouse_kms::{ErrorCode, KmsError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The action's name in `x-acs-action`.
pub const ASSUME_ROLE: &str = "AssumeRole";

/// AssumeRole's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AssumeRoleRequest {
    /// The role, `acs:ram::<uid>:role/<name>`.
    pub role_arn: String,
    /// The session's name (in the session principal's ARN).
    pub role_session_name: String,
    /// Seconds the credentials last (900 up to the role's maximum; default
    /// 3600, capped at it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

/// AssumeRole's answer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResponse {
    /// The request's id.
    pub request_id: String,
    /// The temporary credentials.
    pub credentials: StsCredentials,
    /// Whom they act as.
    pub assumed_role_user: AssumedRoleUser,
}

impl std::fmt::Debug for AssumeRoleResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRoleResponse")
            .field("access_key_id", &self.credentials.access_key_id)
            .field("expiration", &self.credentials.expiration)
            .field("arn", &self.assumed_role_user.arn)
            .finish_non_exhaustive()
    }
}

/// Temporary credentials, as STS writes them.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsCredentials {
    /// `STS.` and 24 characters.
    pub access_key_id: String,
    /// The secret.
    pub access_key_secret: String,
    /// The token requests carry beside the signature.
    pub security_token: String,
    /// When they stop working (RFC 3339, UTC).
    pub expiration: String,
}

/// The session principal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    /// Its ARN.
    pub arn: String,
}

/// Runs AssumeRole for `caller` with the parameters in `body`.
pub(crate) fn assume_role(
    iam: &Iam,
    caller: &Principal,
    context: &RequestContext,
    body: &[u8],
    request_id: &str,
) -> Result<Value, KmsError> {
    let request: AssumeRoleRequest = serde_json::from_slice(body).map_err(|e| {
        KmsError::new(
            ErrorCode::InvalidParameter,
            format!(
                "AssumeRole's parameters do not parse ({e}); send {{\"RoleArn\": ..., \
                 \"RoleSessionName\": ...}}"
            ),
        )
    })?;
    let role = Arn::parse(&request.role_arn).map_err(|e| {
        KmsError::new(
            ErrorCode::InvalidParameter,
            format!("RoleArn: {e}; give acs:ram::<uid>:role/<name>"),
        )
    })?;
    let issued = iam
        .assume_role(
            caller,
            &role,
            &request.role_session_name,
            request.duration_seconds,
            context,
        )
        .map_err(|e| match e {
            IamError::AccessDenied(denied) if !denied.is_internal() => {
                KmsError::new(ErrorCode::NoPermission, denied.to_string())
            }
            IamError::AccessDenied(_) | IamError::Store(_) => KmsError::new(
                ErrorCode::InternalFailure,
                "the identity store failed; retry",
            ),
            e => KmsError::new(ErrorCode::InvalidParameter, e.to_string()),
        })?;
    let expiration = issued
        .expiration
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| KmsError::new(ErrorCode::InternalFailure, "an expiry out of range"))?;
    let response = AssumeRoleResponse {
        request_id: request_id.to_owned(),
        credentials: StsCredentials {
            access_key_id: issued.access_key_id,
            access_key_secret: issued.secret.expose().to_owned(),
            security_token: issued.security_token.expose().to_owned(),
            expiration,
        },
        assumed_role_user: AssumedRoleUser {
            arn: issued
                .assumed_role
                .arn()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        },
    };
    serde_json::to_value(&response)
        .map_err(|_| KmsError::new(ErrorCode::InternalFailure, "the answer did not encode"))
}
