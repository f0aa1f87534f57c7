//! Where the embedded installation's KMS root key lives: found there, moved
//! there out of the data directory where an earlier build kept it, or (for a
//! new data directory only) created there.
//!
//! The key is kept outside the data directory, so that a copy of the
//! directory (a backup, a disk image) alone decrypts nothing. Its source, the
//! first that applies:
//!
//! 1. `$SEALHOUSE_KMS_ROOT_KEY`: the base64 of the key; no file is read or
//!    written.
//! 2. `$SEALHOUSE_KMS_ROOT_KEY_FILE`: the path of the key file.
//! 3. `root-keys/<installation id>.key` in the configuration directory
//!    ([`data_dir::config_dir`]), where the installation id is a random
//!    128-bit id made once per data directory (`kms/installation-id`), so
//!    that one configuration directory serves many data directories.
//!
//! A missing key file is created only while the data directory has neither a
//! KMS nor an identity store. Otherwise the command stops with an error that
//! says where it looked and how to point at the key: a new key could open
//! nothing sealed under the old one.
//!
//! A `kms/root.key` left in the data directory by an earlier build is moved
//! to the file location ([`RootKey::move_file`]: written in full and fsynced
//! before the old file is removed; a different key already there is refused),
//! with one line on standard error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealhouse_crypto::{SecretBytes, private_fs};
use sealhouse_kms::{ROOT_KEY_ENV, RootKey, RootKeyError, RootKeyMove};

use crate::data_dir::{self, CONFIG_DIR_ENV};
use crate::local::create_private_dir;

/// The variable that names the root key file.
pub(crate) const ROOT_KEY_FILE_ENV: &str = "SEALHOUSE_KMS_ROOT_KEY_FILE";
/// Where builds before issue 18 kept the root key, inside the data directory.
const LEGACY_KEY_FILE: &str = "kms/root.key";
/// The data directory's installation id, which names its default key file.
const INSTALLATION_ID_FILE: &str = "kms/installation-id";
/// Files whose presence means that secrets are already sealed under a root
/// key (the KMS's key material, the identity store's access-key secrets).
const SEALED_STATE: [&str; 2] = ["kms/kms.db", "iam/iam.db"];
/// Bytes of randomness in an installation id (shown as hex).
const INSTALLATION_ID_BYTES: usize = 16;

/// Where the root key came from. Holds no key material.
#[derive(Debug)]
pub(crate) enum RootKeySource {
    /// `$SEALHOUSE_KMS_ROOT_KEY`.
    Env,
    /// `$SEALHOUSE_KMS_ROOT_KEY_FILE`.
    ExplicitFile(PathBuf),
    /// The default file in the configuration directory.
    DefaultFile {
        path: PathBuf,
        /// Which setting chose the configuration directory.
        config_dir_from: &'static str,
    },
}

impl RootKeySource {
    /// `kms config`'s `root_key`: the file, or the variable.
    pub(crate) fn location(&self) -> String {
        match self {
            Self::Env => format!("${ROOT_KEY_ENV}"),
            Self::ExplicitFile(path) | Self::DefaultFile { path, .. } => path.display().to_string(),
        }
    }

    /// `kms config`'s `root_key_source`: which setting chose it.
    pub(crate) fn explanation(&self) -> String {
        match self {
            Self::Env => format!("${ROOT_KEY_ENV} (base64; no file)"),
            Self::ExplicitFile(_) => format!("${ROOT_KEY_FILE_ENV}"),
            Self::DefaultFile {
                config_dir_from, ..
            } => format!(
                "default: root-keys/<installation_id>.key in the configuration directory \
                 ({config_dir_from}), outside the data directory; back it up separately"
            ),
        }
    }
}

/// The root key of a data directory and where it came from.
pub(crate) struct OpenedRootKey {
    pub(crate) key: RootKey,
    pub(crate) source: RootKeySource,
    pub(crate) installation_id: String,
    /// The key was a legacy `kms/root.key` moved out by this open: the data
    /// directory was written by an earlier version.
    pub(crate) migrated_legacy_key: bool,
}

/// Finds the root key of `data_dir` (whose `kms/` directory exists), moving
/// a legacy `kms/root.key` out first, and creating the key only if nothing
/// in the data directory is sealed yet.
pub(crate) fn open(data_dir: &Path) -> Result<OpenedRootKey> {
    let installation_id = installation_id(data_dir)?;
    let legacy = data_dir.join(LEGACY_KEY_FILE);
    let has_legacy = std::fs::symlink_metadata(&legacy).is_ok();
    let file_env = std::env::var_os(ROOT_KEY_FILE_ENV).filter(|v| !v.is_empty());
    if std::env::var_os(ROOT_KEY_ENV).is_some() {
        if file_env.is_some() {
            bail!(
                "both {ROOT_KEY_ENV} and {ROOT_KEY_FILE_ENV} are set; set only one, so that \
                 which root key is used is never a guess"
            );
        }
        let key = RootKey::from_env().context("reading the KMS root key")?;
        if has_legacy {
            eprintln!(
                "warning: {} is a KMS root key file inside the data directory, left by an \
                 earlier version; ${ROOT_KEY_ENV} is used instead. Any copy of the data \
                 directory carries that file: if it holds the same key, delete it, otherwise \
                 move it somewhere safe",
                legacy.display()
            );
        }
        return Ok(OpenedRootKey {
            key,
            source: RootKeySource::Env,
            installation_id,
            migrated_legacy_key: false,
        });
    }
    let (source, path) = match file_env {
        Some(path) => {
            let path = PathBuf::from(path);
            (RootKeySource::ExplicitFile(path.clone()), path)
        }
        None => {
            let (dir, config_dir_from) = data_dir::config_dir()?;
            let keys = dir.join("root-keys");
            create_private_dir(&keys)?;
            let path = keys.join(format!("{installation_id}.key"));
            let source = RootKeySource::DefaultFile {
                path: path.clone(),
                config_dir_from,
            };
            (source, path)
        }
    };
    let migrated = if has_legacy {
        migrate(&legacy, &path)?
    } else {
        None
    };
    let migrated_legacy_key = migrated.is_some();
    let key = match migrated {
        Some(key) => key,
        None => load_or_create(data_dir, &source, &path, &installation_id)?,
    };
    Ok(OpenedRootKey {
        key,
        source,
        installation_id,
        migrated_legacy_key,
    })
}

/// Moves the legacy key file to `path`; `None` if another process moved it
/// between our look and our move.
fn migrate(legacy: &Path, path: &Path) -> Result<Option<RootKey>> {
    match RootKey::move_file(legacy, path) {
        Ok((key, RootKeyMove::Moved)) => {
            eprintln!(
                "sealhouse: moved the KMS root key out of the data directory, from {} to {}; \
                 back that file up separately from the data directory (without it nothing \
                 there decrypts; a copy of the data directory alone now decrypts nothing, but \
                 copies made before this still hold the key)",
                legacy.display(),
                path.display()
            );
            Ok(Some(key))
        }
        Ok((key, _)) => {
            eprintln!(
                "sealhouse: removed {}, a copy of the KMS root key at {}",
                legacy.display(),
                path.display()
            );
            Ok(Some(key))
        }
        Err(RootKeyError::NotFound { path: missing }) if missing == legacy => Ok(None),
        Err(e) => Err(e).with_context(|| {
            format!(
                "moving the KMS root key out of the data directory (from {} to {})",
                legacy.display(),
                path.display()
            )
        }),
    }
}

/// Loads the key file at `path`; if there is none, creates it for a data
/// directory with nothing sealed yet, and refuses otherwise.
fn load_or_create(
    data_dir: &Path,
    source: &RootKeySource,
    path: &Path,
    installation_id: &str,
) -> Result<RootKey> {
    let load = || match RootKey::load_file(path) {
        Ok(key) => Ok(Some(key)),
        Err(RootKeyError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e).context("loading the KMS root key"),
    };
    if let Some(key) = load()? {
        return Ok(key);
    }
    if !has_sealed_state(data_dir) {
        return RootKey::load_or_create_file(path).context("creating the KMS root key");
    }
    // A process opening the same new data directory may have created both
    // the key and the stores since the first look.
    if let Some(key) = load()? {
        return Ok(key);
    }
    let why = match source {
        RootKeySource::DefaultFile {
            config_dir_from, ..
        } => format!(
            "the default: root-keys/<installation id>.key in the configuration directory, \
             {config_dir_from}"
        ),
        _ => format!("from ${ROOT_KEY_FILE_ENV}"),
    };
    bail!(
        "no KMS root key for data directory {}: looked at {} ({why}). This data directory \
         already holds keys sealed under a root key, so no new one was made (a new key could \
         open none of them). The root key is kept outside the data directory by design, so a \
         copy of the directory alone decrypts nothing. If this directory was copied or moved \
         here, point at its key: set {ROOT_KEY_FILE_ENV} to its key file (the root_key line of \
         `sealhouse kms config` where it came from; by default \
         <configuration directory>/root-keys/{installation_id}.key), or {CONFIG_DIR_ENV} to a \
         directory holding root-keys/{installation_id}.key, or {ROOT_KEY_ENV} to the key's base64",
        data_dir.display(),
        path.display()
    )
}

/// Whether anything in `data_dir` is already sealed under a root key.
fn has_sealed_state(data_dir: &Path) -> bool {
    SEALED_STATE
        .iter()
        .any(|f| std::fs::symlink_metadata(data_dir.join(f)).is_ok())
}

/// The data directory's installation id, made on first use. Written whole
/// or not at all (a temporary file linked into place); if two processes
/// make one at once, both use the one that was linked first.
fn installation_id(data_dir: &Path) -> Result<String> {
    let file = data_dir.join(INSTALLATION_ID_FILE);
    if let Some(id) = read_installation_id(&file)? {
        return Ok(id);
    }
    let random = SecretBytes::random(INSTALLATION_ID_BYTES)
        .context("the system random number generator failed")?;
    let id = hex::encode(random.expose());
    match private_fs::write_new_whole(&file, format!("{id}\n").as_bytes()) {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_installation_id(&file)?
            .with_context(|| format!("{} vanished while being read", file.display())),
        Err(e) => Err(e).with_context(|| format!("writing {}", file.display())),
    }
}

fn read_installation_id(file: &Path) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let id = text.trim();
    if is_installation_id(id) {
        Ok(Some(id.to_owned()))
    } else {
        bail!(
            "{} does not hold an installation id ({} lower-case hex digits); it names this data \
             directory's root key file, so restore it (from a backup, or from the name of the \
             key file in root-keys/) rather than deleting it",
            file.display(),
            INSTALLATION_ID_BYTES * 2
        )
    }
}

fn is_installation_id(id: &str) -> bool {
    id.len() == INSTALLATION_ID_BYTES * 2
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installation_ids_are_made_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("kms")).unwrap();
        let id = installation_id(dir.path()).unwrap();
        assert!(is_installation_id(&id), "{id}");
        assert_eq!(installation_id(dir.path()).unwrap(), id);
        // Only the id file: no temporary file left.
        assert_eq!(
            std::fs::read_dir(dir.path().join("kms")).unwrap().count(),
            1
        );

        // A damaged id (which would name another key file) is refused.
        let file = dir.path().join(INSTALLATION_ID_FILE);
        std::fs::write(&file, "../../etc/passwd\n").unwrap();
        let err = installation_id(dir.path()).unwrap_err().to_string();
        assert!(err.contains("does not hold an installation id"), "{err}");
        assert!(!is_installation_id(&id.to_uppercase()));
    }
}
