//! Who a `sealhouse iam` or `sealhouse kms` command runs as.
//!
//! In this order:
//!
//! 1. `--access-key-id` (or `$SEALHOUSE_ACCESS_KEY_ID`) with the secret from
//!    `$SEALHOUSE_ACCESS_KEY_SECRET` — never from the command line, where
//!    other users see it in the process list — and, for STS credentials,
//!    `$SEALHOUSE_SECURITY_TOKEN`;
//! 2. `--profile NAME` (or `$SEALHOUSE_PROFILE`): a section of the
//!    credentials file (`$SEALHOUSE_CREDENTIALS_FILE`, else
//!    `~/.config/sealhouse/credentials`), which must be mode 0600;
//! 3. otherwise the root of the local account (see `local.rs`).
//!
//! Credentials are checked against the local identity store: the key must
//! exist and be active (or unexpired), its secret must match (compared in
//! constant time), and STS keys need their security token.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::Principal;

use crate::local::Local;

/// Environment variable holding the access key secret.
pub(crate) const SECRET_ENV: &str = "SEALHOUSE_ACCESS_KEY_SECRET";
/// Environment variable holding the STS security token.
pub(crate) const TOKEN_ENV: &str = "SEALHOUSE_SECURITY_TOKEN";
/// Environment variable naming the credentials file.
pub(crate) const CREDENTIALS_FILE_ENV: &str = "SEALHOUSE_CREDENTIALS_FILE";

/// The options every identity-using command takes.
#[derive(Args, Clone, Debug)]
pub(crate) struct IdentityArgs {
    /// Data directory (default: $SEALHOUSE_DATA_DIR, else $XDG_DATA_HOME/sealhouse, else ~/.local/share/sealhouse).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Act as this access key; its secret is read from $SEALHOUSE_ACCESS_KEY_SECRET (and an STS token from $SEALHOUSE_SECURITY_TOKEN).
    #[arg(
        long,
        global = true,
        env = "SEALHOUSE_ACCESS_KEY_ID",
        value_name = "ID"
    )]
    pub(crate) access_key_id: Option<String>,
    /// Act as the credentials of this profile of the credentials file.
    #[arg(long, global = true, env = "SEALHOUSE_PROFILE", value_name = "NAME")]
    pub(crate) profile: Option<String>,
}

/// A credential as presented: id, secret, optional token.
struct Presented {
    id: String,
    secret: SecretBytes,
    token: Option<SecretBytes>,
    source: String,
}

/// The principal the command acts as.
pub(crate) fn resolve(local: &Local, args: &IdentityArgs) -> Result<Principal> {
    let presented = if let Some(id) = args.access_key_id.as_deref().filter(|s| !s.is_empty()) {
        let secret = std::env::var(SECRET_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "access key id {id} was given but ${SECRET_ENV} is not set; put the secret \
                     in that variable (never on the command line)"
                )
            })?;
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .map(|t| SecretBytes::new(t.into_bytes()));
        Presented {
            id: id.to_owned(),
            secret: SecretBytes::new(secret.into_bytes()),
            token,
            source: "the environment".into(),
        }
    } else if let Some(name) = args.profile.as_deref().filter(|s| !s.is_empty()) {
        let path = credentials_path()?;
        load_profile(&path, name)?
    } else {
        return Ok(local.default_principal());
    };
    authenticate(local, &presented)
}

fn authenticate(local: &Local, presented: &Presented) -> Result<Principal> {
    let refused = || format!("authenticating the credentials from {}", presented.source);
    let credential = local
        .iam
        .secret_for_access_key(&presented.id)
        .with_context(refused)?;
    if SecretBytes::from_slice(credential.secret.expose_bytes()) != presented.secret {
        return Err(anyhow!(
            "the secret does not match access key id {}",
            credential.access_key_id
        ))
        .with_context(refused);
    }
    let token = presented
        .token
        .as_ref()
        .map(|t| String::from_utf8_lossy(t.expose()).into_owned());
    credential
        .check_security_token(token.as_deref())
        .map_err(|e| {
            if credential.needs_security_token() && token.is_none() {
                anyhow!("{e}: temporary (STS) credentials need ${TOKEN_ENV} or security_token")
            } else {
                anyhow!("{e}")
            }
        })
        .with_context(refused)?;
    Ok(credential.principal)
}

/// `$SEALHOUSE_CREDENTIALS_FILE`, else `~/.config/sealhouse/credentials`.
pub(crate) fn credentials_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(CREDENTIALS_FILE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config/sealhouse/credentials")),
        None => bail!("no credentials file: set {CREDENTIALS_FILE_ENV} or HOME"),
    }
}

/// Refuses a credentials file that group or others may read or write.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading the credentials file {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the credentials file {} has mode {mode:04o}, so other users can read it; \
                 run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// One `[name]` section of an INI-like credentials file.
#[derive(Default)]
struct Section {
    id: Option<String>,
    secret: Option<String>,
    token: Option<String>,
}

fn parse_section(text: &str, path: &Path, wanted: &str) -> Result<Option<Section>> {
    let mut current: Option<String> = None;
    let mut found: Option<Section> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            if name == wanted {
                if found.is_some() {
                    bail!(
                        "profile [{wanted}] appears twice in {}; keep one",
                        path.display()
                    );
                }
                found = Some(Section::default());
            }
            current = Some(name);
            continue;
        }
        // The line's content is not echoed: it may hold a secret.
        let Some((key, value)) = line.split_once('=') else {
            bail!(
                "line {} of {} is neither [profile] nor key = value",
                n + 1,
                path.display()
            );
        };
        if current.as_deref() != Some(wanted) {
            continue;
        }
        let Some(section) = found.as_mut() else {
            continue;
        };
        let value = Some(value.trim().to_owned());
        match key.trim() {
            "access_key_id" => section.id = value,
            "access_key_secret" => section.secret = value,
            "security_token" => section.token = value,
            _ => bail!(
                "line {} of {}: unknown key (use access_key_id, access_key_secret, \
                 security_token)",
                n + 1,
                path.display()
            ),
        }
    }
    Ok(found)
}

fn load_profile(path: &Path, name: &str) -> Result<Presented> {
    check_private(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the credentials file {}", path.display()))?;
    let section = parse_section(&text, path, name)?
        .ok_or_else(|| anyhow!("no profile [{name}] in {}", path.display()))?;
    let missing = |key: &str| anyhow!("profile [{name}] in {} has no {key}", path.display());
    let id = section.id.ok_or_else(|| missing("access_key_id"))?;
    let secret = section.secret.ok_or_else(|| missing("access_key_secret"))?;
    Ok(Presented {
        id,
        secret: SecretBytes::new(secret.into_bytes()),
        token: section.token.map(|t| SecretBytes::new(t.into_bytes())),
        source: format!("profile [{name}] of {}", path.display()),
    })
}

/// Appends a profile to the credentials file (created 0600, its directory
/// 0700). Refuses a name already there and a file others can read.
pub(crate) fn write_profile(
    name: &str,
    id: &str,
    secret: &str,
    token: Option<&str>,
) -> Result<PathBuf> {
    use std::io::Write;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        bail!("profile name {name:?} must be letters, digits, '-', '_' or '.'");
    }
    let path = credentials_path()?;
    if path.exists() {
        check_private(&path)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the credentials file {}", path.display()))?;
        if parse_section(&text, &path, name)?.is_some() {
            bail!(
                "profile [{name}] already exists in {}; choose another name",
                path.display()
            );
        }
    } else if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::local::create_private_dir(parent)?;
    }
    let mut f = sealhouse_crypto::private_fs::file_options()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("opening the credentials file {}", path.display()))?;
    let mut entry = format!("\n[{name}]\naccess_key_id = {id}\naccess_key_secret = {secret}\n");
    if let Some(token) = token {
        entry.push_str(&format!("security_token = {token}\n"));
    }
    f.write_all(entry.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing the credentials file {}", path.display()))?;
    Ok(path)
}
