//! Where the embedded warehouse keeps its data.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The data directory: the one given, else `$SEALHOUSE_DATA_DIR`, else
/// `$XDG_DATA_HOME/sealhouse`, else `~/.local/share/sealhouse`.
pub(crate) fn resolve(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
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
