//! `sealhouse kms ...`: the embedded key management service, as the identity
//! from `identity.rs` (every call authorised and audited as that principal).
//!
//! Errors print the KMS error code and message (`Rejected.Disabled: key ...
//! is Disabled ...`). `kms config` shows where things are and the key cache
//! TTL that long-running consumers use (`cache_ttl.rs`).

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Args, Subcommand};
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::api::{
    CreateAliasRequest, CreateKeyRequest, DataKeySpec, DecryptRequest, DeleteAliasRequest,
    EncryptRequest, EncryptionContext, GenerateDataKeyRequest, KeyMetadata, KeyRequest,
    ListAliasesRequest, ListAuditEventsRequest, ListKeyVersionsRequest, ListKeysRequest, Origin,
    OutcomeFilter, ReEncryptRequest, RotationInterval, ScheduleKeyDeletionRequest,
    UpdateRotationPolicyRequest,
};
use sealhouse_kms::{ErrorCode, Kms, KmsError};

use crate::cache_ttl::{CACHE_TTL_ENV, cache_ttl, show_duration};
use crate::identity::{self, IdentityArgs};
use crate::local::Local;

#[derive(Args)]
pub(crate) struct KmsArgs {
    #[command(flatten)]
    who: IdentityArgs,
    #[command(subcommand)]
    command: KmsCommand,
}

#[derive(Subcommand)]
enum KmsCommand {
    /// CreateKey: a new customer master key in the caller's account.
    CreateKey {
        #[arg(long, default_value = "")]
        description: String,
        /// Aliyun_KMS (material generated here) or EXTERNAL (bring your own key).
        #[arg(long, default_value = "Aliyun_KMS")]
        origin: String,
        /// Enable automatic rotation with this interval (7d to 365d, or seconds such as 604800s).
        #[arg(long, value_name = "INTERVAL")]
        rotation_interval: Option<String>,
    },
    /// DescribeKey: a key's metadata.
    DescribeKey(KeyArg),
    /// ListKeys: the caller's keys in this region.
    ListKeys(PageArgs),
    /// EnableKey: Disabled → Enabled.
    EnableKey(KeyArg),
    /// DisableKey: Enabled → Disabled (cryptographic use refused until enabled).
    DisableKey(KeyArg),
    /// ScheduleKeyDeletion: the key and its material are destroyed after 7 to 30 days.
    ScheduleKeyDeletion {
        #[command(flatten)]
        key: KeyArg,
        /// The pending window, 7 to 30 days.
        #[arg(long)]
        days: u32,
    },
    /// CancelKeyDeletion: PendingDeletion → Enabled.
    CancelKeyDeletion(KeyArg),
    /// CreateKeyVersion: rotate by hand; the new version becomes primary.
    Rotate(KeyArg),
    /// ListKeyVersions: a key's versions, oldest first.
    ListKeyVersions(KeyArg),
    /// CreateAlias: alias/<name> for a key.
    CreateAlias {
        /// alias/<name>.
        #[arg(long)]
        alias_name: String,
        #[command(flatten)]
        key: KeyArg,
    },
    /// ListAliases: the caller's aliases in this region.
    ListAliases(PageArgs),
    /// DeleteAlias: the alias goes; its key stays.
    DeleteAlias {
        /// alias/<name>.
        #[arg(long)]
        alias_name: String,
    },
    /// UpdateRotationPolicy: automatic rotation on (with an interval) or off.
    UpdateRotationPolicy {
        #[command(flatten)]
        key: KeyArg,
        /// Rotate automatically at this interval (7d to 365d, or seconds such as 604800s).
        #[arg(long, required_unless_present = "disable")]
        rotation_interval: Option<String>,
        /// Turn automatic rotation off.
        #[arg(long, conflicts_with = "rotation_interval")]
        disable: bool,
    },
    /// GetParametersForImport: the RSA public key and import token for an EXTERNAL key.
    GetParametersForImport(crate::kms_byok_cmd::ParametersArgs),
    /// ImportKeyMaterial: your wrapped key material; PendingImport -> Enabled.
    ImportKeyMaterial(crate::kms_byok_cmd::ImportArgs),
    /// DeleteKeyMaterial: destroys an EXTERNAL key's material; Enabled/Disabled -> PendingImport.
    DeleteKeyMaterial(crate::kms_byok_cmd::DeleteArgs),
    /// Encrypt: prints the ciphertext blob in base64.
    Encrypt {
        #[command(flatten)]
        key: KeyArg,
        /// The text to encrypt (1 to 6144 bytes).
        #[arg(long)]
        plaintext: String,
        /// Encryption context, a JSON object of strings; Decrypt must present the same.
        #[arg(long, value_name = "JSON")]
        context: Option<String>,
    },
    /// Decrypt: prints the plaintext (text, or base64 with --base64).
    Decrypt {
        /// The blob, base64.
        #[arg(long, value_name = "B64")]
        ciphertext_blob: String,
        #[arg(long, value_name = "JSON")]
        context: Option<String>,
        /// Print the plaintext as base64 (binary plaintexts, data keys).
        #[arg(long)]
        base64: bool,
    },
    /// ReEncrypt: a ciphertext blob under another key (or context), inside the KMS.
    ReEncrypt {
        /// The blob, base64.
        #[arg(long)]
        ciphertext_blob: String,
        /// The key to encrypt under (id, ARN or alias).
        #[arg(long)]
        destination_key_id: String,
        /// The blob's encryption context (JSON object of strings).
        #[arg(long)]
        source_context: Option<String>,
        /// The new blob's encryption context.
        #[arg(long)]
        destination_context: Option<String>,
    },
    /// GenerateDataKey: prints the data key (base64) and its ciphertext blob.
    GenerateDataKey {
        #[command(flatten)]
        key: KeyArg,
        /// AES_256 (32 bytes, default) or AES_128.
        #[arg(long)]
        key_spec: Option<String>,
        /// 1 to 1024 bytes; takes precedence over --key-spec.
        #[arg(long)]
        number_of_bytes: Option<u32>,
        #[arg(long, value_name = "JSON")]
        context: Option<String>,
        /// Print only the ciphertext blob (GenerateDataKeyWithoutPlaintext).
        #[arg(long)]
        without_plaintext: bool,
    },
    /// The audit log of the caller's account, oldest first.
    Audit {
        /// Only calls by this principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Only calls on this key (id or ARN).
        #[arg(long)]
        key_id: Option<String>,
        /// Only this operation (Decrypt or kms:Decrypt).
        #[arg(long)]
        action: Option<String>,
        /// ok, error, or an error code such as Forbidden.NoPermission.
        #[arg(long)]
        outcome: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Print the data directory, region, root key source and key cache TTL.
    Config,
    /// Serve the KMS over signed HTTP (ACS3-HMAC-SHA256) until SIGTERM or
    /// SIGINT.
    Serve(crate::kms_serve::KmsServeArgs),
}

#[derive(Args)]
struct KeyArg {
    /// Key id, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long)]
    key_id: String,
}

#[derive(Args)]
struct PageArgs {
    #[arg(long, default_value_t = 1)]
    page: u32,
    #[arg(long, default_value_t = 100)]
    page_size: u32,
}

pub(crate) fn run(args: KmsArgs) -> Result<()> {
    let dir = crate::data_dir::resolve(args.who.data_dir.clone())?;
    let local = Local::open(&dir)?;
    if let KmsCommand::Config = args.command {
        // Configuration is not a KMS call: no identity needed.
        let ttl = cache_ttl()?;
        println!("data_dir: {}", local.dir.display());
        println!("identity_store: {}", local.dir.join("iam/iam.db").display());
        println!("key_store: {}", local.dir.join("kms/kms.db").display());
        println!("audit_log: {}", local.dir.join("kms/audit.db").display());
        println!("root_key: {}", local.root_key_source.location());
        println!("root_key_source: {}", local.root_key_source.explanation());
        println!("installation_id: {}", local.installation_id);
        println!("region: {}", local.kms.region());
        println!("local_account: {}", local.default_account);
        println!(
            "key_cache_ttl: {} ({})",
            show_duration(ttl),
            if std::env::var_os(CACHE_TTL_ENV).is_some() {
                format!("from ${CACHE_TTL_ENV}")
            } else {
                format!("default; set ${CACHE_TTL_ENV} to change, 0 = no caching")
            }
        );
        return Ok(());
    }
    if let KmsCommand::Serve(serve) = args.command {
        // Requests are authenticated one by one by their signatures.
        return crate::kms_serve::run(local, serve);
    }
    let caller = identity::resolve(&local, &args.who)?;
    let kms = local.kms.as_principal(caller);
    run_command(&kms, args.command)
}

fn run_command(kms: &dyn Kms, command: KmsCommand) -> Result<()> {
    match command {
        KmsCommand::CreateKey {
            description,
            origin,
            rotation_interval,
        } => {
            let mut request = CreateKeyRequest {
                origin: Origin::parse(&origin).map_err(kms_err("--origin"))?,
                description,
                ..CreateKeyRequest::default()
            };
            if let Some(interval) = rotation_interval {
                request.enable_automatic_rotation = true;
                request.rotation_interval = Some(
                    RotationInterval::parse(&interval).map_err(kms_err("--rotation-interval"))?,
                );
            }
            let response = kms.create_key(&request).map_err(kms_err("CreateKey"))?;
            print_metadata(&response.key_metadata);
        }
        KmsCommand::DescribeKey(k) => {
            let response = kms
                .describe_key(&KeyRequest::new(k.key_id))
                .map_err(kms_err("DescribeKey"))?;
            print_metadata(&response.key_metadata);
        }
        KmsCommand::ListKeys(p) => {
            let response = kms
                .list_keys(&ListKeysRequest {
                    page_number: p.page,
                    page_size: p.page_size,
                })
                .map_err(kms_err("ListKeys"))?;
            for key in response.keys {
                println!("{}\t{}", key.key_id, key.key_arn);
            }
        }
        KmsCommand::EnableKey(k) => {
            kms.enable_key(&KeyRequest::new(&k.key_id))
                .map_err(kms_err("EnableKey"))?;
            println!("{}: Enabled", k.key_id);
        }
        KmsCommand::DisableKey(k) => {
            kms.disable_key(&KeyRequest::new(&k.key_id))
                .map_err(kms_err("DisableKey"))?;
            println!("{}: Disabled", k.key_id);
        }
        KmsCommand::ScheduleKeyDeletion { key, days } => {
            let response = kms
                .schedule_key_deletion(&ScheduleKeyDeletionRequest {
                    key_id: key.key_id,
                    pending_window_in_days: days,
                })
                .map_err(kms_err("ScheduleKeyDeletion"))?;
            println!("key_id: {}", response.key_id);
            println!("delete_date: {}", date(response.delete_date));
        }
        KmsCommand::CancelKeyDeletion(k) => {
            let response = kms
                .cancel_key_deletion(&KeyRequest::new(&k.key_id))
                .map_err(kms_err("CancelKeyDeletion"))?;
            println!("{}: {}", k.key_id, response.key_state);
        }
        KmsCommand::Rotate(k) => {
            let response = kms
                .create_key_version(&KeyRequest::new(k.key_id))
                .map_err(kms_err("CreateKeyVersion"))?;
            println!("key_id: {}", response.key_version.key_id);
            println!("key_version_id: {}", response.key_version.key_version_id);
        }
        KmsCommand::ListKeyVersions(k) => {
            let response = kms
                .list_key_versions(&ListKeyVersionsRequest::new(k.key_id))
                .map_err(kms_err("ListKeyVersions"))?;
            for v in response.key_versions {
                println!("{}\t{}", v.key_version_id, date(v.creation_date));
            }
        }
        KmsCommand::CreateAlias { alias_name, key } => {
            kms.create_alias(&CreateAliasRequest {
                alias_name: alias_name.clone(),
                key_id: key.key_id.clone(),
            })
            .map_err(kms_err("CreateAlias"))?;
            println!("{alias_name} -> {}", key.key_id);
        }
        KmsCommand::ListAliases(p) => {
            let response = kms
                .list_aliases(&ListAliasesRequest {
                    page_number: p.page,
                    page_size: p.page_size,
                })
                .map_err(kms_err("ListAliases"))?;
            for a in response.aliases {
                println!("{}\t{}\t{}", a.alias_name, a.key_id, a.alias_arn);
            }
        }
        KmsCommand::DeleteAlias { alias_name } => {
            kms.delete_alias(&DeleteAliasRequest {
                alias_name: alias_name.clone(),
            })
            .map_err(kms_err("DeleteAlias"))?;
            println!("{alias_name}: deleted");
        }
        KmsCommand::UpdateRotationPolicy {
            key,
            rotation_interval,
            disable,
        } => {
            let rotation_interval = match rotation_interval {
                Some(i) if !disable => {
                    Some(RotationInterval::parse(&i).map_err(kms_err("--rotation-interval"))?)
                }
                _ => None,
            };
            kms.update_rotation_policy(&UpdateRotationPolicyRequest {
                key_id: key.key_id.clone(),
                enable_automatic_rotation: !disable,
                rotation_interval,
            })
            .map_err(kms_err("UpdateRotationPolicy"))?;
            let response = kms
                .describe_key(&KeyRequest::new(key.key_id))
                .map_err(kms_err("DescribeKey"))?;
            print_metadata(&response.key_metadata);
        }
        KmsCommand::GetParametersForImport(args) => crate::kms_byok_cmd::parameters(kms, args)?,
        KmsCommand::ImportKeyMaterial(args) => crate::kms_byok_cmd::import(kms, args)?,
        KmsCommand::DeleteKeyMaterial(args) => crate::kms_byok_cmd::delete(kms, args)?,
        KmsCommand::ReEncrypt {
            ciphertext_blob,
            destination_key_id,
            source_context,
            destination_context,
        } => {
            let blob = BASE64
                .decode(ciphertext_blob.trim())
                .context("--ciphertext-blob is not base64")?;
            let response = kms
                .re_encrypt(&ReEncryptRequest {
                    ciphertext_blob: blob,
                    source_encryption_context: parse_context(source_context.as_deref())?,
                    destination_key_id,
                    destination_encryption_context: parse_context(destination_context.as_deref())?,
                })
                .map_err(kms_err("ReEncrypt"))?;
            println!("{}", BASE64.encode(&response.ciphertext_blob));
        }
        KmsCommand::Encrypt {
            key,
            plaintext,
            context,
        } => {
            let response = kms
                .encrypt(&EncryptRequest {
                    key_id: key.key_id,
                    plaintext: SecretBytes::new(plaintext.into_bytes()),
                    encryption_context: parse_context(context.as_deref())?,
                })
                .map_err(kms_err("Encrypt"))?;
            println!("{}", BASE64.encode(&response.ciphertext_blob));
        }
        KmsCommand::Decrypt {
            ciphertext_blob,
            context,
            base64,
        } => {
            let blob = BASE64
                .decode(ciphertext_blob.trim())
                .context("--ciphertext-blob is not base64")?;
            let response = kms
                .decrypt(&DecryptRequest {
                    ciphertext_blob: blob,
                    encryption_context: parse_context(context.as_deref())?,
                })
                .map_err(kms_err("Decrypt"))?;
            let plain = response.plaintext.expose();
            match std::str::from_utf8(plain) {
                Ok(text) if !base64 => println!("{text}"),
                _ => println!("{}", BASE64.encode(plain)),
            }
        }
        KmsCommand::GenerateDataKey {
            key,
            key_spec,
            number_of_bytes,
            context,
            without_plaintext,
        } => {
            let request = GenerateDataKeyRequest {
                key_id: key.key_id,
                key_spec: key_spec
                    .as_deref()
                    .map(DataKeySpec::parse)
                    .transpose()
                    .map_err(kms_err("--key-spec"))?,
                number_of_bytes,
                encryption_context: parse_context(context.as_deref())?,
            };
            if without_plaintext {
                let response = kms
                    .generate_data_key_without_plaintext(&request)
                    .map_err(kms_err("GenerateDataKeyWithoutPlaintext"))?;
                println!(
                    "ciphertext_blob: {}",
                    BASE64.encode(&response.ciphertext_blob)
                );
            } else {
                let response = kms
                    .generate_data_key(&request)
                    .map_err(kms_err("GenerateDataKey"))?;
                println!("plaintext: {}", BASE64.encode(response.plaintext.expose()));
                println!(
                    "ciphertext_blob: {}",
                    BASE64.encode(&response.ciphertext_blob)
                );
            }
        }
        KmsCommand::Audit {
            principal,
            key_id,
            action,
            outcome,
            page,
        } => {
            let outcome = match outcome.as_deref() {
                None => None,
                Some("ok" | "Ok") => Some(OutcomeFilter::Ok),
                Some("error" | "AnyError") => Some(OutcomeFilter::AnyError),
                Some(code) => Some(OutcomeFilter::Code(ErrorCode::from_code(code).ok_or_else(
                    || anyhow!("--outcome {code} is not ok, error or a KMS error code"),
                )?)),
            };
            let response = kms
                .list_audit_events(&ListAuditEventsRequest {
                    principal,
                    key_id,
                    action,
                    outcome,
                    page_number: page.page,
                    page_size: page.page_size,
                    ..ListAuditEventsRequest::default()
                })
                .map_err(kms_err("ListAuditEvents"))?;
            for e in response.events {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    date(e.time),
                    e.principal,
                    e.action,
                    e.key_arn.as_deref().unwrap_or("-"),
                    e.outcome.as_str()
                );
            }
        }
        KmsCommand::Config | KmsCommand::Serve(_) => {
            unreachable!("handled before authentication")
        }
    }
    Ok(())
}

/// Wraps a KMS error with the operation: `Decrypt: Rejected.Disabled: ...`.
pub(crate) fn kms_err(what: &'static str) -> impl Fn(KmsError) -> anyhow::Error {
    move |e| anyhow::Error::new(e).context(what)
}

fn parse_context(text: Option<&str>) -> Result<EncryptionContext> {
    match text {
        None => Ok(EncryptionContext::new()),
        Some(text) => serde_json::from_str(text)
            .context("--context must be a JSON object of strings, such as {\"table\":\"t1\"}"),
    }
}

fn print_metadata(m: &KeyMetadata) {
    println!("key_id: {}", m.key_id);
    println!("arn: {}", m.arn);
    println!("key_state: {}", m.key_state);
    println!("origin: {}", m.origin);
    println!("description: {}", m.description);
    println!("creator: {}", m.creator);
    println!("creation_date: {}", date(m.creation_date));
    println!(
        "primary_key_version: {}",
        m.primary_key_version.as_deref().unwrap_or("-")
    );
    println!("automatic_rotation: {}", m.automatic_rotation);
    if let Some(i) = m.rotation_interval {
        println!("rotation_interval: {i}");
    }
    if let Some(d) = m.next_rotation_date {
        println!("next_rotation_date: {}", date(d));
    }
    if let Some(d) = m.delete_date {
        println!("delete_date: {}", date(d));
    }
}

pub(crate) fn date(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
