//! `sealhouse iam ...`: accounts, users, access keys, roles, policies, STS
//! and role chains in the embedded identity store.
//!
//! Every command runs as the identity `identity.rs` resolves, in that
//! principal's own account, through the identity service's `RamAdmin`,
//! which authorises it with the cloud's RAM action names on the ARN of what
//! it changes (an account root may do everything in its account; a RAM user
//! or role session needs a policy allowing the action; nobody administers
//! another account). `create-account` is reserved to the
//! root of the installation's local account (the default identity), which
//! stands for whoever owns the data directory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_iam::{
    AccountId, Arn, AttachTarget, Iam, PolicyRef, Principal, RamAdmin, RequestContext, ServiceName,
};

use crate::identity::{self, IdentityArgs};
use crate::local::{self, Local};

#[derive(Args)]
pub(crate) struct IamArgs {
    #[command(flatten)]
    who: IdentityArgs,
    #[command(subcommand)]
    command: IamCommand,
}

#[derive(Subcommand)]
enum IamCommand {
    /// Print the ARN of the principal this command runs as.
    Whoami,
    /// Create an account; prints its root's access key id and secret once.
    CreateAccount {
        /// The account uid (1 to 20 digits; default: 16 random digits).
        #[arg(long)]
        uid: Option<String>,
        /// Append the root's key to the credentials file as this profile instead of printing the secret.
        #[arg(long, value_name = "NAME")]
        write_profile: Option<String>,
    },
    /// Create a RAM user in the caller's account (ram:CreateUser).
    CreateUser {
        #[arg(long)]
        name: String,
    },
    /// Create an access key for a user, or for the caller's root without --user (ram:CreateAccessKey); prints the secret once.
    CreateAccessKey {
        /// The user (default: the account root).
        #[arg(long)]
        user: Option<String>,
        /// Append the key to the credentials file as this profile instead of printing the secret.
        #[arg(long, value_name = "NAME")]
        write_profile: Option<String>,
    },
    /// Create a role with a trust policy (ram:CreateRole).
    CreateRole {
        #[arg(long)]
        name: String,
        /// The trust policy: JSON text, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        trust_policy: String,
        /// Longest session AssumeRole grants, 3600 to 43200 seconds.
        #[arg(long, value_name = "SECONDS")]
        max_session_duration: Option<u32>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Replace a role's trust policy (ram:UpdateRole).
    UpdateRole {
        #[arg(long)]
        name: String,
        /// The new trust policy: JSON text, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        trust_policy: String,
    },
    /// Show a role: ARN, trust policy, attached policies (ram:GetRole).
    GetRole {
        #[arg(long)]
        name: String,
    },
    /// Create a custom policy (ram:CreatePolicy).
    CreatePolicy {
        #[arg(long)]
        name: String,
        /// The policy document: JSON text, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        document: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Attach a policy to a user or role (ram:AttachPolicyToUser / ram:AttachPolicyToRole).
    AttachPolicy(AttachArgs),
    /// Detach a policy from a user or role (ram:DetachPolicyFromUser / ram:DetachPolicyFromRole).
    DetachPolicy(AttachArgs),
    /// List the policies attached to a user or role (ram:ListPoliciesForUser / ram:ListPoliciesForRole).
    ListPolicies(TargetArgs),
    /// AssumeRole: print temporary credentials for a role (sts:AssumeRole and the role's trust).
    AssumeRole {
        #[arg(long, value_name = "ARN")]
        role_arn: String,
        #[arg(long)]
        session_name: String,
        /// Seconds, 900 to the role's maximum (default 3600).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u32>,
        /// Append the credentials to the credentials file as this profile instead of printing them.
        #[arg(long, value_name = "NAME")]
        write_profile: Option<String>,
    },
    /// Walk a role chain as the caller (as a wrapped-keyset function does) and optionally authorise the final principal.
    CheckRoleChain(CheckArgs),
}

#[derive(Args)]
struct TargetArgs {
    /// A user of the caller's account.
    #[arg(long, conflicts_with = "role", required_unless_present = "role")]
    user: Option<String>,
    /// A role of the caller's account.
    #[arg(long)]
    role: Option<String>,
}

#[derive(Args)]
struct AttachArgs {
    /// The policy's name.
    #[arg(long)]
    policy: String,
    /// A system policy (AliyunKMSCryptoUserAccess, AliyunKMSFullAccess, AliyunRAMFullAccess, AliyunSTSAssumeRoleAccess, AdministratorAccess) rather than a custom one.
    #[arg(long)]
    system: bool,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct CheckArgs {
    /// The role the service finally assumes (the functions' role_arn).
    #[arg(long, value_name = "ARN")]
    role_arn: String,
    /// Comma-separated role ARNs walked first (the functions' role_chain).
    #[arg(long, value_name = "ARN,ARN")]
    role_chain: Option<String>,
    /// The service that assumes the roles.
    #[arg(long, default_value = "odps.aliyuncs.com")]
    service: String,
    /// Authorise the final principal for this action ...
    #[arg(long, requires = "resource")]
    action: Option<String>,
    /// ... on this resource ARN.
    #[arg(long, requires = "action", value_name = "ARN")]
    resource: Option<String>,
}

pub(crate) fn run(args: IamArgs) -> Result<()> {
    let dir = crate::data_dir::resolve(args.who.data_dir.clone())?;
    let local = Local::open(&dir)?;
    let caller = identity::resolve(&local, &args.who)?;
    match args.command {
        IamCommand::Whoami => {
            println!("{caller}");
            Ok(())
        }
        IamCommand::CreateAccount { uid, write_profile } => {
            if caller != local.default_principal() {
                bail!(
                    "{caller} may not create accounts: only the local account's root (the \
                     default identity, run without credentials) creates accounts"
                );
            }
            let uid = match uid {
                Some(uid) => uid,
                None => local::random_uid()?,
            };
            let account = AccountId::new(&uid).context("--uid")?;
            let key = local
                .iam
                .create_account(&account)
                .with_context(|| format!("creating account {account}"))?;
            println!("account_id: {account}");
            println!("root: {}", key.owner);
            show_new_key(&key.id, key.secret.expose(), write_profile.as_deref())
        }
        IamCommand::CreateUser { name } => {
            let user = local.iam.admin(&caller)?.create_user(&name)?;
            println!("{}", user.arn());
            Ok(())
        }
        IamCommand::CreateAccessKey {
            user,
            write_profile,
        } => {
            let key = local
                .iam
                .admin(&caller)?
                .create_access_key(user.as_deref())?;
            println!("owner: {}", key.owner);
            show_new_key(&key.id, key.secret.expose(), write_profile.as_deref())
        }
        IamCommand::CreateRole {
            name,
            trust_policy,
            max_session_duration,
            description,
        } => {
            let text = document_arg(&trust_policy, "--trust-policy")?;
            let role = local.iam.admin(&caller)?.create_role(
                &name,
                &text,
                max_session_duration,
                &description,
            )?;
            println!("{}", role.arn());
            Ok(())
        }
        IamCommand::UpdateRole { name, trust_policy } => {
            let text = document_arg(&trust_policy, "--trust-policy")?;
            let arn = local.iam.admin(&caller)?.update_role(&name, &text)?;
            println!("{arn}");
            Ok(())
        }
        IamCommand::GetRole { name } => {
            let (role, policies) = local.iam.admin(&caller)?.get_role(&name)?;
            println!("arn: {}", role.arn());
            println!("max_session_duration: {}", role.max_session_duration);
            println!("description: {}", role.description);
            println!("trust_policy: {}", role.trust_policy);
            for p in policies {
                println!("policy: {}", policy_name(&p));
            }
            Ok(())
        }
        IamCommand::CreatePolicy {
            name,
            document,
            description,
        } => {
            let text = document_arg(&document, "--document")?;
            let policy = local
                .iam
                .admin(&caller)?
                .create_policy(&name, &text, &description)?;
            println!("{}", policy_arn(&policy.account, &policy.name)?);
            Ok(())
        }
        IamCommand::AttachPolicy(a) => {
            let admin = local.iam.admin(&caller)?;
            let (target, policy) = attachment(&admin, &a)?;
            admin.attach_policy(&target, &policy)?;
            println!("attached {} to {}", policy_name(&policy), target.arn());
            Ok(())
        }
        IamCommand::DetachPolicy(a) => {
            let admin = local.iam.admin(&caller)?;
            let (target, policy) = attachment(&admin, &a)?;
            admin.detach_policy(&target, &policy)?;
            println!("detached {} from {}", policy_name(&policy), target.arn());
            Ok(())
        }
        IamCommand::ListPolicies(t) => {
            let admin = local.iam.admin(&caller)?;
            for p in admin.attached_policies(&target(&admin, &t)?)? {
                println!("{}", policy_name(&p));
            }
            Ok(())
        }
        IamCommand::AssumeRole {
            role_arn,
            session_name,
            duration,
            write_profile,
        } => {
            let role = parse_arn(&role_arn, "--role-arn")?;
            let creds = local.iam.assume_role(
                &caller,
                &role,
                &session_name,
                duration,
                &RequestContext::new(),
            )?;
            let expiration = creds
                .expiration
                .format(&time_format())
                .unwrap_or_else(|_| creds.expiration.to_string());
            println!("assumed_role: {}", creds.assumed_role);
            println!("expiration: {expiration}");
            match write_profile {
                Some(name) => {
                    let path = identity::write_profile(
                        &name,
                        &creds.access_key_id,
                        creds.secret.expose(),
                        Some(creds.security_token.expose()),
                    )?;
                    println!("access_key_id: {}", creds.access_key_id);
                    println!("written to profile [{name}] of {}", path.display());
                }
                None => {
                    println!("access_key_id: {}", creds.access_key_id);
                    println!("access_key_secret: {}", creds.secret.expose());
                    println!("security_token: {}", creds.security_token.expose());
                }
            }
            Ok(())
        }
        IamCommand::CheckRoleChain(c) => check_role_chain(&local.iam, &caller, &c),
    }
}

fn check_role_chain(iam: &Iam, caller: &Principal, c: &CheckArgs) -> Result<()> {
    let role = parse_arn(&c.role_arn, "--role-arn")?;
    let chain = match c.role_chain.as_deref() {
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_arn(s, "--role-chain"))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let service = ServiceName::new(&c.service).context("--service")?;
    let ctx = RequestContext::new();
    let session = iam.resolve_role_chain(caller, &service, &role, &chain, &ctx)?;
    if let (Some(action), Some(resource)) = (&c.action, &c.resource) {
        let resource = parse_arn(resource, "--resource")?;
        iam.authorize(&session, action, &resource, &ctx)
            .with_context(|| format!("the role chain reached {session}, but"))?;
        println!("{session}");
        println!("allowed: {action} on {resource}");
    } else {
        println!("{session}");
    }
    Ok(())
}

/// The user or role `--user` / `--role` names, in the caller's account.
fn target(admin: &RamAdmin<'_>, t: &TargetArgs) -> Result<AttachTarget> {
    match (&t.user, &t.role) {
        (Some(name), None) => Ok(admin.user_target(name)),
        (None, Some(name)) => Ok(admin.role_target(name)),
        _ => bail!("give exactly one of --user and --role"),
    }
}

fn attachment(admin: &RamAdmin<'_>, a: &AttachArgs) -> Result<(AttachTarget, PolicyRef)> {
    Ok((target(admin, &a.target)?, admin.policy(&a.policy, a.system)))
}

fn policy_arn(account: &AccountId, name: &str) -> Result<Arn> {
    parse_arn(&format!("acs:ram::{account}:policy/{name}"), "--name")
}

fn policy_name(p: &PolicyRef) -> String {
    match p {
        PolicyRef::System(name) => format!("{name} (system)"),
        PolicyRef::Custom { name, .. } => name.clone(),
    }
}

fn parse_arn(text: &str, option: &str) -> Result<Arn> {
    Arn::parse(text).with_context(|| option.to_owned())
}

/// A JSON document given inline or as `@FILE`.
fn document_arg(value: &str, option: &str) -> Result<String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(PathBuf::from(path))
            .with_context(|| format!("{option}: cannot read {path}")),
        None => Ok(value.to_owned()),
    }
}

/// Prints a new long-lived key: the secret once, or into a profile.
fn show_new_key(id: &str, secret: &str, write_profile: Option<&str>) -> Result<()> {
    println!("access_key_id: {id}");
    match write_profile {
        Some(name) => {
            let path = identity::write_profile(name, id, secret, None)?;
            println!("written to profile [{name}] of {}", path.display());
        }
        None => {
            println!("access_key_secret: {secret}");
            eprintln!("note: the secret is shown once; keep it now");
        }
    }
    Ok(())
}

fn time_format() -> time::format_description::well_known::Rfc3339 {
    time::format_description::well_known::Rfc3339
}
