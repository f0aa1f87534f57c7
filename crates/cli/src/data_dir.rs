//! Where the embedded warehouse keeps its data, and where it keeps what must
//! not travel with the data (the KMS root key: `root_key_source.rs`).

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The variable that names the configuration directory.
pub(crate) const CONFIG_DIR_ENV: &str = "SEALHOUSE_CONFIG_DIR";

/// The data directory: the one given, else `$SEALHOUSE_DATA_DIR`, else
/// `$XDG_DATA_HOME/sealhouse`, else `~/.local/share/sealhouse`.
pub(crate) fn resolve(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    if let Some(dir) = env("SEALHOUSE_DATA_DIR") {
        return Ok(dir);
    }
    if let Some(xdg) = env("XDG_DATA_HOME") {
        return Ok(xdg.join("sealhouse"));
    }
    match env("HOME") {
        Some(home) => Ok(home.join(".local/share/sealhouse")),
        None => bail!("no data directory: set SEALHOUSE_DATA_DIR or pass --data-dir"),
    }
}

/// The configuration directory, and which setting chose it:
/// `$SEALHOUSE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/sealhouse`, else
/// `~/.config/sealhouse`. Never inside the data directory unless a setting
/// puts it there.
pub(crate) fn config_dir() -> Result<(PathBuf, &'static str)> {
    if let Some(dir) = env(CONFIG_DIR_ENV) {
        return Ok((dir, "$SEALHOUSE_CONFIG_DIR"));
    }
    if let Some(xdg) = env("XDG_CONFIG_HOME") {
        return Ok((xdg.join("sealhouse"), "$XDG_CONFIG_HOME/sealhouse"));
    }
    match env("HOME") {
        Some(home) => Ok((home.join(".config/sealhouse"), "~/.config/sealhouse")),
        None => bail!("no configuration directory: set {CONFIG_DIR_ENV} or HOME"),
    }
}

/// A non-empty environment variable as a path.
fn env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
