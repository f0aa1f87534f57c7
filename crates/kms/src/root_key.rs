//! The root key: the one key the KMS keeps outside its database. Every key
//! version's material, imported material and the RSA private keys of import
//! parameters are stored sealed under keys derived from it (`seal.rs`), and
//! the identity store seals access-key secrets with [`RootKey::secret_sealer`].
//!
//! Where it comes from is the caller's choice (documented in `docs/kms.md`):
//!
//! - **a file**, 32 raw bytes from the operating system's generator, created
//!   once by [`RootKey::create_file`] with mode 0600 (written to a temporary
//!   file, fsynced, linked into place so an existing file is never
//!   overwritten, directory fsynced). [`RootKey::load_file`] refuses a file
//!   that others can read or write, and says how to fix it. Keep it outside
//!   the data directory where you can (another volume, a secrets mount), so
//!   that a copy of the data directory alone opens nothing (the `sealhouse`
//!   command does so by default). [`RootKey::move_file`] moves a key file
//!   without ever overwriting another key or leaving the key nowhere.
//! - **an environment variable**, `SEALHOUSE_KMS_ROOT_KEY`, holding the
//!   base64 of 32 bytes ([`RootKey::from_env`]), for deployments whose secret
//!   manager injects it.
//!
//! Losing the root key loses every key in the KMS: there is no recovery.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use ring::hkdf;
use sealhouse_crypto::{SecretBytes, private_fs};
use zeroize::Zeroizing;

use crate::seal::RootKeySealer;

/// The environment variable [`RootKey::from_env`] reads.
pub const ROOT_KEY_ENV: &str = "SEALHOUSE_KMS_ROOT_KEY";
/// Length of a root key in bytes.
pub const ROOT_KEY_LEN: usize = 32;

/// Why a root key could not be created or loaded. Never holds key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootKeyError {
    /// `create_file` found a file already there.
    #[error(
        "root key file {} already exists; load it instead, or move it away first (a new root \
         key cannot open anything sealed under the old one)",
        .path.display()
    )]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// `load_file` found no file.
    #[error(
        "root key file {} does not exist; create one first (RootKey::create_file, or \
         `sealhouse kms init`), or supply the key in {ROOT_KEY_ENV}",
        .path.display()
    )]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file's permissions let others read or write it.
    #[error(
        "root key file {} has mode {mode:o}, which lets other users read or change it; run \
         `chmod 600 {}` (and make sure its owner is the user running the KMS)",
        .path.display(),
        .path.display()
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a regular file.
    #[error("root key path {} is not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A file of the wrong length.
    #[error(
        "root key file {} holds {len} bytes, but a root key is exactly {ROOT_KEY_LEN} bytes; \
         the file is damaged or is not a root key",
        .path.display()
    )]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// `move_file` found a different key already at its destination.
    #[error(
        "root key files {} and {} hold different keys; neither was changed, since each may be \
         the only copy of a key that data is sealed under. Keep the one that opens this data at \
         {} and move the other somewhere safe",
        .from.display(),
        .to.display(),
        .to.display()
    )]
    Conflict {
        /// The file being moved.
        from: PathBuf,
        /// The destination, holding another key.
        to: PathBuf,
    },
    /// An I/O failure.
    #[error("cannot {action} root key file {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The environment variable is not set.
    #[error("environment variable {name} is not set; set it to the base64 of a 32-byte key")]
    EnvMissing {
        /// The variable.
        name: String,
    },
    /// The environment variable does not hold base64 of 32 bytes.
    #[error(
        "environment variable {name} does not hold the base64 of exactly {ROOT_KEY_LEN} bytes \
         (for example the output of `head -c 32 /dev/urandom | base64`)"
    )]
    EnvInvalid {
        /// The variable.
        name: String,
    },
    /// Key material of the wrong length given directly.
    #[error("a root key is exactly {ROOT_KEY_LEN} bytes, not {len}")]
    InvalidLength {
        /// The length given.
        len: usize,
    },
    /// The operating system's generator failed.
    #[error("the system random number generator failed; no root key was created")]
    RandomUnavailable,
}

/// What [`RootKey::move_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootKeyMove {
    /// The key was written to the destination and the source removed.
    Moved,
    /// The destination already held the same key; the source was removed.
    AlreadyThere,
}

/// The KMS root key. No `Clone`, no printing of its bytes, zeroed on drop.
pub struct RootKey {
    key: SecretBytes,
}

impl RootKey {
    /// A fresh random root key held only in memory (tests and tools; a
    /// service needs one that survives restarts: see [`RootKey::create_file`]).
    pub fn generate() -> Result<Self, RootKeyError> {
        let key = SecretBytes::random(ROOT_KEY_LEN).map_err(|_| RootKeyError::RandomUnavailable)?;
        Ok(Self { key })
    }

    /// A root key from its 32 bytes.
    pub fn from_secret(key: SecretBytes) -> Result<Self, RootKeyError> {
        if key.len() == ROOT_KEY_LEN {
            Ok(Self { key })
        } else {
            Err(RootKeyError::InvalidLength { len: key.len() })
        }
    }

    /// A root key from the base64 of its 32 bytes (padding optional).
    pub fn from_base64(text: &str, source_name: &str) -> Result<Self, RootKeyError> {
        let invalid = || RootKeyError::EnvInvalid {
            name: source_name.to_owned(),
        };
        let text = text.trim();
        let engine = base64::engine::general_purpose::STANDARD;
        let no_pad = base64::engine::general_purpose::STANDARD_NO_PAD;
        let bytes = engine
            .decode(text)
            .or_else(|_| no_pad.decode(text))
            .map(Zeroizing::new)
            .map_err(|_| invalid())?;
        if bytes.len() != ROOT_KEY_LEN {
            return Err(invalid());
        }
        Ok(Self {
            key: SecretBytes::from_slice(&bytes),
        })
    }

    /// The root key in `SEALHOUSE_KMS_ROOT_KEY`.
    pub fn from_env() -> Result<Self, RootKeyError> {
        Self::from_env_var(ROOT_KEY_ENV)
    }

    /// The root key in environment variable `name` (base64 of 32 bytes).
    pub fn from_env_var(name: &str) -> Result<Self, RootKeyError> {
        let value = std::env::var(name)
            .map(Zeroizing::new)
            .map_err(|e| match e {
                std::env::VarError::NotPresent => RootKeyError::EnvMissing {
                    name: name.to_owned(),
                },
                std::env::VarError::NotUnicode(_) => RootKeyError::EnvInvalid {
                    name: name.to_owned(),
                },
            })?;
        Self::from_base64(&value, name)
    }

    /// Creates a new root key file at `path` (mode 0600) and returns the key.
    /// Refuses to replace an existing file.
    pub fn create_file(path: &Path) -> Result<Self, RootKeyError> {
        if path.exists() {
            return Err(RootKeyError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let root = Self::generate()?;
        root.write_new_file(path)?;
        Ok(root)
    }

    /// Writes this key to a new file at `path` (mode 0600): a temporary file,
    /// fsynced, linked into place (so an existing file is never overwritten:
    /// [`RootKeyError::AlreadyExists`]), then the directory fsynced.
    pub fn write_new_file(&self, path: &Path) -> Result<(), RootKeyError> {
        private_fs::write_new_whole(path, self.key.expose()).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                RootKeyError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                RootKeyError::Io {
                    action: "write",
                    path: path.to_owned(),
                    source,
                }
            }
        })
    }

    /// Moves the root key file at `from` to `to`, never overwriting a key and
    /// never leaving the key in neither place: the key is written to `to` in
    /// full ([`RootKey::write_new_file`]) before `from` is removed and its
    /// directory fsynced. If `to` already holds the same key (another process
    /// moved it first, or an earlier move stopped before removing `from`),
    /// `from` is only removed; if `to` holds a different key, nothing changes
    /// and the error is [`RootKeyError::Conflict`]. Returns the key.
    pub fn move_file(from: &Path, to: &Path) -> Result<(Self, RootKeyMove), RootKeyError> {
        let key = Self::load_file(from)?;
        let outcome = match key.write_new_file(to) {
            Ok(()) => RootKeyMove::Moved,
            Err(RootKeyError::AlreadyExists { .. }) => {
                if Self::load_file(to)?.key != key.key {
                    return Err(RootKeyError::Conflict {
                        from: from.to_owned(),
                        to: to.to_owned(),
                    });
                }
                RootKeyMove::AlreadyThere
            }
            Err(e) => return Err(e),
        };
        let io = |action, source| RootKeyError::Io {
            action,
            path: from.to_owned(),
            source,
        };
        match std::fs::remove_file(from) {
            Ok(()) => {}
            // Another process moving the same key removed it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", e)),
        }
        private_fs::sync_parent(from).map_err(|e| io("sync the directory of", e))?;
        Ok((key, outcome))
    }

    /// Loads the root key file at `path`, refusing one others may read or write.
    pub fn load_file(path: &Path) -> Result<Self, RootKeyError> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RootKeyError::NotFound {
                    path: path.to_owned(),
                });
            }
            Err(e) => {
                return Err(RootKeyError::Io {
                    action: "inspect",
                    path: path.to_owned(),
                    source: e,
                });
            }
        };
        if !meta.is_file() {
            return Err(RootKeyError::NotAFile {
                path: path.to_owned(),
            });
        }
        check_private(path, &meta)?;
        if meta.len() != ROOT_KEY_LEN as u64 {
            return Err(RootKeyError::WrongLength {
                path: path.to_owned(),
                len: meta.len(),
            });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(ROOT_KEY_LEN));
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| RootKeyError::Io {
                action: "read",
                path: path.to_owned(),
                source: e,
            })?;
        if bytes.len() != ROOT_KEY_LEN {
            return Err(RootKeyError::WrongLength {
                path: path.to_owned(),
                len: bytes.len() as u64,
            });
        }
        Ok(Self {
            key: SecretBytes::from_slice(&bytes),
        })
    }

    /// Loads the file at `path`, creating it first if it does not exist.
    pub fn load_or_create_file(path: &Path) -> Result<Self, RootKeyError> {
        match Self::load_file(path) {
            Err(RootKeyError::NotFound { .. }) => match Self::create_file(path) {
                // Another process created it between the two calls: use theirs.
                Err(RootKeyError::AlreadyExists { .. }) => Self::load_file(path),
                other => other,
            },
            other => other,
        }
    }

    /// A [`sealhouse_iam::SecretSealer`] for the identity store's access-key
    /// secrets, under a key derived from this root key.
    pub fn secret_sealer(&self) -> RootKeySealer {
        RootKeySealer::new(self)
    }

    /// The key the warehouse catalog's MACs are made with (see
    /// `sealhouse_storage::integrity`): derived from the root key, so a data
    /// directory copied without its root key cannot be edited unnoticed.
    pub fn catalog_key(&self) -> SecretBytes {
        self.derive(b"sealhouse storage catalog integrity")
    }

    /// A 32-byte key for one purpose: HKDF-SHA256 of the root key, with a
    /// fixed salt and the purpose as info. Keys for different purposes are
    /// independent.
    pub(crate) fn derive(&self, purpose: &[u8]) -> SecretBytes {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealhouse-kms root key v1");
        let prk = salt.extract(self.key.expose());
        let mut out = Zeroizing::new([0u8; ROOT_KEY_LEN]);
        let info = [purpose];
        // Invariant: HKDF-SHA256 yields 32 bytes, far below its 255 × 32 limit,
        // so neither expand nor fill can fail.
        prk.expand(&info, hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(out.as_mut()))
            .expect("HKDF-SHA256 output of 32 bytes");
        SecretBytes::from_slice(out.as_ref())
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(redacted)")
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RootKeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), RootKeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_gives_the_same_key_and_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let created = RootKey::create_file(&path).unwrap();
        let loaded = RootKey::load_file(&path).unwrap();
        assert_eq!(created.key, loaded.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            RootKey::create_file(&path),
            Err(RootKeyError::AlreadyExists { .. })
        ));
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_readable_by_others_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        RootKey::create_file(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = RootKey::load_file(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn wrong_lengths_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.key");
        private_fs::write_new(&path, &[1; 31]).unwrap();
        assert!(matches!(
            RootKey::load_file(&path),
            Err(RootKeyError::WrongLength { len: 31, .. })
        ));
        let missing = dir.path().join("none.key");
        assert!(matches!(
            RootKey::load_file(&missing),
            Err(RootKeyError::NotFound { .. })
        ));
        let made = RootKey::load_or_create_file(&missing).unwrap();
        assert_eq!(RootKey::load_file(&missing).unwrap().key, made.key);
    }

    #[test]
    fn base64_form_needs_exactly_32_bytes_and_is_never_echoed() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let key = RootKey::from_base64(&format!("{b64}\n"), "X").unwrap();
        assert_eq!(key.key.expose(), &[7u8; 32]);
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let err = RootKey::from_base64(&short, "X").unwrap_err();
        assert!(!err.to_string().contains(&short));
        assert!(RootKey::from_base64("not base64!", "X").is_err());
        assert_eq!(format!("{key:?}"), "RootKey(redacted)");
    }

    #[test]
    fn move_file_moves_the_key_whole_and_never_replaces_another() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("old.key");
        let to = dir.path().join("new.key");
        let made = RootKey::create_file(&from).unwrap();
        let (moved, outcome) = RootKey::move_file(&from, &to).unwrap();
        assert_eq!(outcome, RootKeyMove::Moved);
        assert_eq!(moved.key, made.key);
        assert!(!from.exists());
        assert_eq!(RootKey::load_file(&to).unwrap().key, made.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        // A move that stopped before removing the source: the same key at
        // both places. The source goes; the destination stays.
        std::fs::copy(&to, &from).unwrap();
        let (again, outcome) = RootKey::move_file(&from, &to).unwrap();
        assert_eq!(outcome, RootKeyMove::AlreadyThere);
        assert_eq!(again.key, made.key);
        assert!(!from.exists());

        // A different key at the destination: refused, both files unchanged.
        let other = RootKey::create_file(&from).unwrap();
        let err = RootKey::move_file(&from, &to).unwrap_err();
        assert!(matches!(err, RootKeyError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("neither was changed"), "{err}");
        assert_eq!(RootKey::load_file(&from).unwrap().key, other.key);
        assert_eq!(RootKey::load_file(&to).unwrap().key, made.key);
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_are_stable() {
        let key = RootKey::from_secret(SecretBytes::from_slice(&[3; 32])).unwrap();
        assert_eq!(key.derive(b"a"), key.derive(b"a"));
        assert_ne!(key.derive(b"a"), key.derive(b"b"));
        assert_ne!(key.derive(b"a").expose(), &[3; 32]);
    }
}
