//! `sealhouse external-engine ...`: what an external query engine (the
//! spec's Hologres; pyarrow through `python/sealhouse-kms-client` in our
//! tests) needs to read a project's encrypted Parquet files directly, with
//! its own role, instead of through the warehouse (docs/external-engines.md).
//!
//! - `credentials`: the external-engine service (`hologres.aliyuncs.com`)
//!   assumes a role the caller passes to it, and the role session's STS
//!   credentials are printed as JSON. The role must trust that service and
//!   the caller must be allowed `ram:PassRole` on it (an account root is).
//! - `manifest`: a table's committed data files and how they are encrypted,
//!   as JSON, for a caller allowed to SELECT from the table. Encrypted files
//!   are listed only once the project's database setting
//!   `hg_experimental_enable_access_odps_orc_via_holo` is false (spec 004).
//!
//! Neither reads a key: which files an engine can decrypt is decided by the
//! KMS when the engine's role asks it to unwrap their keys.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_iam::{Arn, DenyReason, Principal, RequestContext, ServiceName};
use sealhouse_sql::SqlSession;
use sealhouse_storage::{DataFile, DatabaseSetting, FileStore, KeySource, StorageAlgorithm};
use serde_json::{Value, json};
use time::UtcOffset;
use time::format_description::well_known::Rfc3339;

use crate::data_dir;
use crate::identity::{self, IdentityArgs};
use crate::local::Local;

/// The trusted-service name a role's trust policy gives the external engine.
const TRUSTED_SERVICE: &str = "hologres.aliyuncs.com";

#[derive(Args)]
pub(crate) struct ExternalEngineArgs {
    #[command(flatten)]
    who: IdentityArgs,
    #[command(subcommand)]
    command: ExternalEngineCommand,
}

#[derive(Subcommand)]
enum ExternalEngineCommand {
    /// The external-engine service (hologres.aliyuncs.com) assumes a role; prints its STS credentials as JSON.
    Credentials {
        /// The role, which must trust hologres.aliyuncs.com (as AliyunHologresEncryptionDefaultRole does).
        #[arg(long, value_name = "ARN")]
        role_arn: String,
        /// How long the credentials last, 900 seconds to the role's maximum (default 3600).
        #[arg(long, value_name = "SECONDS")]
        duration_seconds: Option<u32>,
        /// The role session's name (appears in the KMS audit log).
        #[arg(long, default_value = "external-engine", value_name = "NAME")]
        session_name: String,
    },
    /// A table's committed data files and their encryption, as JSON (needs SELECT on the table).
    Manifest {
        /// The table, as PROJECT.TABLE.
        #[arg(value_name = "PROJECT.TABLE")]
        table: String,
    },
}

pub(crate) fn run(args: ExternalEngineArgs) -> Result<()> {
    let dir = data_dir::resolve(args.who.data_dir.clone())?;
    let local = Local::open(&dir)?;
    let caller = identity::resolve(&local, &args.who)?;
    let out = match args.command {
        ExternalEngineCommand::Credentials {
            role_arn,
            duration_seconds,
            session_name,
        } => credentials(&local, &caller, &role_arn, duration_seconds, &session_name)?,
        ExternalEngineCommand::Manifest { table } => manifest(&local, caller, &table)?,
    };
    let text = serde_json::to_string_pretty(&out).context("printing JSON")?;
    println!("{text}");
    Ok(())
}

/// The caller passes `role_arn` to the external-engine service, which
/// assumes it: the role session's credentials.
fn credentials(
    local: &Local,
    caller: &Principal,
    role_arn: &str,
    duration_seconds: Option<u32>,
    session_name: &str,
) -> Result<Value> {
    let role = Arn::parse(role_arn).context("--role-arn")?;
    let ctx = RequestContext::new();
    local
        .iam
        .check_pass_role(caller, &role, &ctx)
        .with_context(|| format!("{caller} may not pass role {role} to the external engine"))?;
    let service = Principal::Service(ServiceName::external_engine());
    // The trust check alone first, so that its refusal can say what to add.
    if let Err(denied) = local.iam.check_assume_role(&service, &role, &ctx) {
        if matches!(
            denied.reason(),
            DenyReason::NotTrusted { .. } | DenyReason::TrustDenies { .. }
        ) {
            bail!(
                "the external-engine service ({TRUSTED_SERVICE}) cannot assume role {role}: \
                 {reason}. The role's trust policy must allow it, for instance with the statement \
                 {{\"Action\": \"sts:AssumeRole\", \"Effect\": \"Allow\", \"Principal\": \
                 {{\"Service\": [\"{TRUSTED_SERVICE}\"]}}}} (sealhouse iam update-role --name \
                 <role> --trust-policy ...)",
                reason = denied.reason()
            );
        }
        return Err(denied).context("the external-engine service could not assume the role");
    }
    let creds = local
        .iam
        .assume_role(&service, &role, session_name, duration_seconds, &ctx)
        .with_context(|| format!("the external-engine service assuming role {role}"))?;
    let expiration = creds
        .expiration
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .context("formatting the expiration")?
        .format(&Rfc3339)
        .context("formatting the expiration")?;
    Ok(json!({
        "AccessKeyId": creds.access_key_id,
        "AccessKeySecret": creds.secret.expose(),
        "SecurityToken": creds.security_token.expose(),
        "Expiration": expiration,
        "AssumedRole": creds.assumed_role.to_string(),
    }))
}

/// The manifest of `project.table`, for a caller allowed to SELECT from it.
fn manifest(local: &Local, caller: Principal, name: &str) -> Result<Value> {
    let Some((project, table)) = name.split_once('.') else {
        bail!("'{name}' is not PROJECT.TABLE: name the table with its project, as sales.orders");
    };
    let catalog = local.catalog()?;
    let services = local.identity_services()?;
    let warehouse = SqlSession::with_identity(Arc::clone(&catalog), caller, services);
    let info = warehouse.table_for_reading(project, table)?;
    let project_info = catalog.project(&info.project)?;
    let encryption = project_info.encryption()?;
    let files = catalog.files(&info)?;
    // Spec 004: the direct read path cannot read encrypted data; the
    // database setting chooses the path that reads it with the engine's own
    // keys.
    let setting = DatabaseSetting::ExternalDirectRead;
    if files.iter().any(|f| f.encryption.is_some()) && project_info.setting(setting) == "true" {
        bail!(
            "table {}.{} holds storage-encrypted files, which an external engine's direct read \
             path cannot read ({} is true, the default). Switch the database to the path that \
             reads encrypted data with the engine's own key permissions: ALTER DATABASE {} SET \
             {} = false; (needs the project's Super_Administrator), then ask again",
            info.project,
            info.name,
            setting.name(),
            info.project,
            setting.name()
        );
    }
    let columns: Vec<Value> = info
        .columns
        .iter()
        .map(|(name, ty)| json!({"name": name, "type": ty.to_string()}))
        .collect();
    let encryption = encryption.map(|e| {
        json!({
            "algorithm": e.algorithm.name(),
            "key": match e.key_source {
                KeySource::Default => "default",
                KeySource::Byok => "byok",
            },
            "key_arn": e.key_arn,
        })
    });
    let file_store = catalog.file_store();
    let files: Vec<Value> = files.iter().map(|f| file_entry(file_store, f)).collect();
    Ok(json!({
        "project": info.project,
        "table": info.name,
        "columns": columns,
        "encryption": encryption,
        "files": files,
    }))
}

/// One file of a manifest: its absolute path on the local disk, or its
/// `s3://bucket/prefix/...` URL, which the engine reads with its own
/// credentials.
fn file_entry(file_store: &FileStore, file: &DataFile) -> Value {
    let format = match file.encryption {
        Some(StorageAlgorithm::AesCtr | StorageAlgorithm::Rc4) => "segmented",
        Some(StorageAlgorithm::Aes256) | None => "parquet",
    };
    json!({
        "path": file_store.external_url(&file.key),
        "size": file.bytes,
        "rows": file.rows,
        "format": format,
        "encryption": file.encryption.map(StorageAlgorithm::name),
    })
}
