//! Turning a request for storage encryption (`ENCRYPTION ALGORITHM ... KEY
//! ...`) into the project's fixed setting: the default key is created in
//! the KMS on first use; a BYOK key is checked to be the caller's, enabled,
//! and usable by the caller for everything storage encryption will do.

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{AccountId, Arn, Iam, Principal};
use sealhouse_kms::api::{
    CreateKeyRequest, DataKeySpec, DecryptRequest, EncryptRequest, EncryptionContext,
    GenerateDataKeyRequest, KeyRequest, KeySpec, KeyState,
};
use sealhouse_kms::{ErrorCode, Kms, KmsGateway};

use super::keys::data_key_context;
use super::{KeySource, ProjectEncryption, SERVICE_ACCOUNT, StorageAlgorithm};

/// Why storage encryption cannot be set up as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The request names something that is not a usable key.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not use the key for storage encryption.
    #[error("access denied: {message}")]
    Denied {
        /// Who was refused.
        principal: String,
        /// What they asked to do.
        action: String,
        /// On what (the key's ARN).
        resource: String,
        /// Why, and what would allow it.
        message: String,
    },
    /// The KMS refused or failed (its code says why: a disabled key, no
    /// permission, ...).
    #[error("{message}")]
    Kms {
        /// The KMS's error code.
        code: ErrorCode,
        /// What was attempted with which key, and the KMS's answer.
        message: String,
    },
    /// The identity service failed, or the key is not enabled.
    #[error("{0}")]
    Failed(String),
}

/// Where setup reaches the identity service and the KMS.
#[derive(Debug, Clone, Copy)]
pub struct SetupServices<'a> {
    /// The identity service (the warehouse service account is made here).
    pub iam: &'a Iam,
    /// The KMS as any principal.
    pub gateway: &'a KmsGateway,
    /// The KMS's region (named in errors' example ARNs).
    pub region: &'a str,
}

/// The key a statement asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChoice {
    /// The service's default key for the project.
    Default,
    /// The caller's CMK, by ARN.
    Byok(String),
}

/// What `ENCRYPTION ...` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionRequest {
    /// The algorithm.
    pub algorithm: StorageAlgorithm,
    /// The key.
    pub key: KeyChoice,
}

/// What the RC4 algorithm is told, wherever it is chosen or shown.
pub const RC4_WARNING: &str = "warning: RC4 is insecure (biased keystream, no integrity of \
     its own); it is accepted only for compatibility. Sealhouse adds an HMAC-SHA256 per segment \
     so tampering is detected, but confidentiality is weak: prefer AES256 or AESCTR";

/// The setting for `project` as `caller` asks it: creates the default key,
/// or checks the BYOK key. Nothing is recorded here; the caller stores the
/// setting (and a failure to store it leaves at most an unused default key).
pub fn prepare(
    services: SetupServices<'_>,
    caller: &Principal,
    project: &str,
    request: &EncryptionRequest,
    now: i64,
) -> Result<ProjectEncryption, SetupError> {
    let enabled_by = caller
        .arn()
        .map(|a| a.to_string())
        .unwrap_or_else(|| caller.to_string());
    let (key_source, key_arn) = match &request.key {
        KeyChoice::Default => (
            KeySource::Default,
            create_default_key(services, project, caller)?,
        ),
        KeyChoice::Byok(arn) => (
            KeySource::Byok,
            check_byok_key(services, caller, project, arn)?,
        ),
    };
    Ok(ProjectEncryption {
        algorithm: request.algorithm,
        key_source,
        key_arn,
        enabled_at: now,
        enabled_by,
    })
}

fn create_default_key(
    services: SetupServices<'_>,
    project: &str,
    caller: &Principal,
) -> Result<String, SetupError> {
    let account = AccountId::new(SERVICE_ACCOUNT)
        .map_err(|e| SetupError::Failed(format!("the service account id is invalid: {e}")))?;
    services.iam.ensure_service_account(&account).map_err(|e| {
        SetupError::Failed(format!("cannot set up the warehouse service account: {e}"))
    })?;
    let owner = caller
        .account()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".to_owned());
    let kms = services.gateway.connect(Principal::Root { account });
    let created = kms
        .create_key(&CreateKeyRequest {
            description: format!(
                "Sealhouse default storage key of project {project} (account {owner}); \
                 owned by the warehouse service, not grantable"
            ),
            // The project's owner may see the key (DescribeKey), never use it.
            viewer_account: caller.account().cloned(),
            ..CreateKeyRequest::default()
        })
        .map_err(|e| SetupError::Kms {
            code: e.code(),
            message: format!("cannot create the default storage key of project '{project}': {e}"),
        })?;
    Ok(created.key_metadata.arn)
}

/// The refusal of a key of another account: a bring-your-own key is the
/// caller's own.
fn foreign_key(caller: &Principal, key: &str, project: &str) -> SetupError {
    SetupError::Denied {
        principal: caller.to_string(),
        action: "use for storage encryption".to_owned(),
        resource: key.to_owned(),
        message: format!(
            "{caller} may not use {key} for storage encryption of project '{project}': a \
             bring-your-own key must belong to the caller's own account"
        ),
    }
}

fn check_byok_key(
    services: SetupServices<'_>,
    caller: &Principal,
    project: &str,
    requested: &str,
) -> Result<String, SetupError> {
    // An ARN must name a key (or alias) of the caller's own account; a key
    // id or alias/<name> is looked up as the caller, so it can only name
    // one of the caller's keys in this region.
    if requested.starts_with("acs:") {
        let parsed = Arn::parse(requested).ok().filter(|a| {
            let text = a.to_string();
            a.service() == "kms"
                && (text.contains(":key/") || text.contains(":alias/"))
                && a.account().is_some()
        });
        let Some(parsed) = parsed else {
            return Err(SetupError::Invalid(format!(
                "'{requested}' is not a KMS key ARN; use KEY 'DEFAULT', a key id, alias/<name>, \
                 or a key ARN such as acs:kms:{}:<your account>:key/<key id> (sealhouse kms \
                 list-keys shows them)",
                services.region
            )));
        };
        if parsed.account() != caller.account() {
            return Err(foreign_key(caller, requested, project));
        }
    }
    let fail = |what: &str, name: &str, e: sealhouse_kms::KmsError| SetupError::Kms {
        code: e.code(),
        message: format!(
            "cannot use {name} for storage encryption of project '{project}': {what} failed: \
             {e}. Whoever enables storage encryption with a key of theirs must be allowed \
             kms:DescribeKey, kms:GenerateDataKey, kms:Encrypt and kms:Decrypt on it"
        ),
    };
    let kms = services.gateway.connect(caller.clone());
    let described = kms
        .describe_key(&KeyRequest::new(requested.to_owned()))
        .map_err(|e| match e.code() {
            ErrorCode::KeyNotFound | ErrorCode::AliasNotFound => SetupError::Invalid(format!(
                "'{requested}' is not a KMS key ARN, nor the id or alias of one of your keys in \
                 {}: use KEY 'DEFAULT', a key id, alias/<name>, or a key ARN (sealhouse kms \
                 list-keys shows them) ({e})",
                services.region
            )),
            _ => fail("DescribeKey", requested, e),
        })?
        .key_metadata;
    // What the project records and every later call names: the key's ARN.
    let arn = described.arn.clone();
    let parsed = Arn::parse(&arn)
        .map_err(|e| SetupError::Failed(format!("the KMS described {requested} as {e}")))?;
    if parsed.account() != caller.account() {
        return Err(foreign_key(caller, &arn, project));
    }
    let fail = |what: &str, e: sealhouse_kms::KmsError| fail(what, &arn, e);
    if described.key_state != KeyState::Enabled {
        // The code the KMS gives for using a key in that state.
        let code = match described.key_state {
            KeyState::PendingDeletion => ErrorCode::PendingDeletion,
            KeyState::PendingImport => ErrorCode::PendingImport,
            _ => ErrorCode::Disabled,
        };
        return Err(SetupError::Kms {
            code,
            message: format!(
                "cannot use {arn} for storage encryption of project '{project}': the key is {}; \
                 enable it first (sealhouse kms enable-key)",
                described.key_state
            ),
        });
    }
    if described.key_spec != KeySpec::Aes256 {
        return Err(SetupError::Invalid(format!(
            "cannot use {arn} for storage encryption: its key spec is {}, storage encryption \
             needs a symmetric {} key",
            described.key_spec,
            KeySpec::Aes256
        )));
    }
    // Do once, as the caller, what the warehouse will do: storage
    // encryption is only enabled by someone allowed to use the key for it.
    let mut request = GenerateDataKeyRequest::new(arn.to_owned());
    request.key_spec = Some(DataKeySpec::Aes256);
    request.encryption_context = data_key_context();
    let generated = kms
        .generate_data_key(&request)
        .map_err(|e| fail("GenerateDataKey", e))?;
    kms.decrypt(&DecryptRequest {
        ciphertext_blob: generated.ciphertext_blob,
        encryption_context: data_key_context(),
    })
    .map_err(|e| fail("Decrypt", e))?;
    kms.encrypt(&EncryptRequest {
        key_id: arn.to_owned(),
        plaintext: SecretBytes::new(vec![0; 16]),
        encryption_context: EncryptionContext::new(),
    })
    .map_err(|e| fail("Encrypt", e))?;
    Ok(arn)
}
