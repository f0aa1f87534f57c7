//! A cluster executor's own principal: `sealhouse cluster identity create`
//! makes a user in the warehouse service account for it, allowed
//! `kms:Decrypt` on that account's keys and nothing else, and writes what
//! the executor needs (its access key, the warehouse's public capability
//! key, where the table files are) to a file only its owner may read.
//! `sealhouse cluster executor --identity FILE --kms URL` then reads with
//! that alone: no root key, no catalog key, no key of any project.
//!
//! Default-key projects' CMKs and the cluster-keyset CMK live in the service
//! account, so an executor identity reads every unencrypted and default-key
//! project and opens sealed keysets and tag keys. A BYOK project's CMK
//! belongs to its customer's account, which no service-account principal
//! may use directly: the executor assumes that account's
//! [`BYOK_ROLE`], which the account's administrator makes (trusting the
//! service account, allowed Decrypt with the key), or the scan fails with
//! the refusal.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sealhouse_iam::{AccountId, AttachTarget, Error as IamError, Iam, PolicyRef, Principal};
use sealhouse_storage::encryption::SERVICE_ACCOUNT;
use sealhouse_storage::{CapabilityKey, StorageLocation};
use serde::{Deserialize, Serialize};

/// The service-account policy every executor identity has.
pub(crate) const EXECUTOR_POLICY: &str = "SealhouseClusterExecutor";

/// The role an account that wants its BYOK projects read on a cluster
/// makes: it trusts the executors' principals and may Decrypt with the
/// project's key. Executors assume it to read that account's files.
pub(crate) const BYOK_ROLE: &str = "SealhouseClusterExecutorRole";

/// What it allows: Decrypt with the service account's own keys (the
/// default storage keys, the cluster-keyset key), in any region, and
/// assuming any account's [`BYOK_ROLE`] that trusts it.
const EXECUTOR_POLICY_DOCUMENT: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":["acs:kms:*:0000000000000000:key/*"]},{"Effect":"Allow","Action":["sts:AssumeRole"],"Resource":["acs:ram::*:role/sealhouseclusterexecutorrole"]}]}"#;

/// User names of executor identities start with it.
const USER_PREFIX: &str = "cluster-executor-";

/// An executor identity file.
#[derive(Serialize, Deserialize)]
pub(crate) struct ExecutorIdentity {
    /// The user's ARN.
    pub(crate) principal: String,
    /// Its access key.
    pub(crate) access_key_id: String,
    pub(crate) access_key_secret: String,
    /// The warehouse's public scan-capability key (hex).
    pub(crate) capability_key: String,
    /// Where the warehouse's table files are.
    pub(crate) tables: StorageLocation,
}

impl std::fmt::Debug for ExecutorIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorIdentity")
            .field("principal", &self.principal)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl ExecutorIdentity {
    /// Reads and checks the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the executor identity {}", path.display()))?;
        let identity: Self = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not an executor identity file (make one with `sealhouse cluster identity \
                 create`)",
                path.display()
            )
        })?;
        identity.capability_key()?;
        Ok(identity)
    }

    /// The account of its principal.
    pub(crate) fn account(&self) -> Result<AccountId> {
        sealhouse_iam::Arn::parse(&self.principal)
            .ok()
            .and_then(|a| a.account().cloned())
            .with_context(|| format!("the executor identity's principal {:?}", self.principal))
    }

    /// The name of its sessions of other accounts' roles: its user's name.
    pub(crate) fn session_name(&self) -> String {
        self.principal
            .rsplit('/')
            .next()
            .unwrap_or("cluster-executor")
            .to_owned()
    }

    /// The capability key it names.
    pub(crate) fn capability_key(&self) -> Result<CapabilityKey> {
        self.capability_key
            .parse()
            .map_err(|e: String| anyhow::anyhow!("the executor identity's capability key: {e}"))
    }
}

fn service_account() -> Result<AccountId> {
    AccountId::new(SERVICE_ACCOUNT).context("the service account id")
}

fn user_name(name: &str) -> Result<String> {
    if name.is_empty()
        || name.len() > 40
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!(
            "executor name {name:?}: use 1 to 40 letters, digits, '-' or '_' (such as executor1)"
        );
    }
    Ok(format!("{USER_PREFIX}{name}"))
}

/// Makes (or reuses) executor identity `name` with a new access key, and
/// writes its file to `out` (which must not exist).
pub(crate) fn create(
    iam: &Iam,
    name: &str,
    capability_key: CapabilityKey,
    tables: StorageLocation,
    out: &Path,
) -> Result<ExecutorIdentity> {
    if out.exists() {
        bail!(
            "{} exists; an identity file is never overwritten: choose another path",
            out.display()
        );
    }
    let user = user_name(name)?;
    let account = service_account()?;
    iam.ensure_service_account(&account)
        .context("setting up the warehouse service account")?;
    match iam.create_policy(
        &account,
        EXECUTOR_POLICY,
        EXECUTOR_POLICY_DOCUMENT,
        "Sealhouse cluster executors: Decrypt with the warehouse service's own keys",
    ) {
        Ok(_) | Err(IamError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e).context("creating the executor policy"),
    }
    match iam.create_user(&account, &user) {
        Ok(_) | Err(IamError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e).context("creating the executor's user"),
    }
    let target = AttachTarget::User {
        account: account.clone(),
        name: user.clone(),
    };
    let policy = PolicyRef::Custom {
        account: account.clone(),
        name: EXECUTOR_POLICY.to_owned(),
    };
    if !iam.attached_policies(&target)?.contains(&policy) {
        iam.attach_policy(&target, &policy)
            .context("allowing the executor Decrypt")?;
    }
    let principal = Principal::User {
        account,
        name: user,
    };
    let key = iam
        .create_access_key(&principal)
        .context("making the executor's access key")?;
    let identity = ExecutorIdentity {
        principal: principal.arn().map(|a| a.to_string()).unwrap_or_default(),
        access_key_id: key.id,
        access_key_secret: key.secret.expose().to_owned(),
        capability_key: capability_key.to_string(),
        tables,
    };
    let text = serde_json::to_vec_pretty(&identity).context("encoding the identity")?;
    sealhouse_crypto::private_fs::write_new_whole(out, &text)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(identity)
}

/// Takes Decrypt away from executor identity `name` (its policy is
/// detached): its scans of encrypted projects fail once its key cache
/// expires. Its access keys stay, so it still authenticates.
pub(crate) fn revoke(iam: &Iam, name: &str) -> Result<()> {
    let account = service_account()?;
    let user = user_name(name)?;
    iam.user(&account, &user)
        .with_context(|| format!("no executor identity {name}"))?;
    iam.detach_policy(
        &AttachTarget::User {
            account: account.clone(),
            name: user,
        },
        &PolicyRef::Custom {
            account,
            name: EXECUTOR_POLICY.to_owned(),
        },
    )
    .context("detaching the executor policy")
}
