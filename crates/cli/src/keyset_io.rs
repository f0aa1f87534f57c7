//! Reading and writing keyset files in any of the three forms.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sealhouse_crypto::Keyset;

/// How a keyset is written down.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeysetFormat {
    /// The JSON of KEYSET_TO_JSON.
    Json,
    /// The binary keyset as hexadecimal text (what HEX() shows in SQL).
    Hex,
    /// The binary keyset, raw protobuf bytes.
    Binary,
}

/// Where a keyset comes from.
#[derive(Args)]
pub(crate) struct KeysetInput {
    /// Keyset file to read, or - for standard input.
    #[arg(long = "in", value_name = "PATH")]
    pub(crate) input: PathBuf,
    /// Form of the input; by default recognised from its content.
    #[arg(long, value_enum)]
    pub(crate) in_format: Option<KeysetFormat>,
}

/// Where a keyset goes.
#[derive(Args)]
pub(crate) struct KeysetOutput {
    /// File to write (atomically, mode 0600), or standard output when absent.
    /// Naming the input file updates it in place.
    #[arg(long = "out", value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
    /// Form of the output; by default the input's form (JSON for a new keyset).
    #[arg(long, value_enum)]
    pub(crate) out_format: Option<KeysetFormat>,
}

impl KeysetInput {
    /// Reads and parses the keyset; returns it with the form it was read in.
    pub(crate) fn read(&self) -> Result<(Keyset, KeysetFormat)> {
        read_keyset(&self.input, self.in_format)
    }
}

/// Reads and parses the keyset at `path` (or standard input for `-`), in
/// `format` or, when `None`, the form its content shows; returns it with the
/// form it was read in.
pub(crate) fn read_keyset(
    path: &Path,
    format: Option<KeysetFormat>,
) -> Result<(Keyset, KeysetFormat)> {
    let bytes = read_source(path)?;
    let format = format.unwrap_or_else(|| detect(&bytes));
    let keyset =
        parse(&bytes, format).with_context(|| format!("reading keyset {}", path.display()))?;
    Ok((keyset, format))
}

impl KeysetOutput {
    pub(crate) fn write(&self, keyset: &Keyset, default_format: KeysetFormat) -> Result<()> {
        let format = self.out_format.unwrap_or(default_format);
        let bytes = render(keyset, format);
        match &self.output {
            Some(path) => write_atomically(path, &bytes),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|()| out.flush())
                    .context("writing the keyset to standard output")
            }
        }
    }
}

fn read_source(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the keyset from standard input")?;
        Ok(buf)
    } else {
        fs::read(path).with_context(|| format!("cannot read keyset file {}", path.display()))
    }
}

/// JSON starts with `{`; hex is hex digits only; anything else is binary.
pub(crate) fn detect(bytes: &[u8]) -> KeysetFormat {
    let text = bytes.trim_ascii();
    if text.first() == Some(&b'{') {
        KeysetFormat::Json
    } else if !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.iter().all(u8::is_ascii_hexdigit)
    {
        KeysetFormat::Hex
    } else {
        KeysetFormat::Binary
    }
}

pub(crate) fn parse(bytes: &[u8], format: KeysetFormat) -> Result<Keyset> {
    Ok(match format {
        KeysetFormat::Json => {
            let text = std::str::from_utf8(bytes).context("a JSON keyset must be UTF-8 text")?;
            Keyset::from_json(text)?
        }
        KeysetFormat::Hex => {
            let raw = hex::decode(bytes.trim_ascii())
                .context("the hex keyset is not hexadecimal text")?;
            Keyset::from_bytes(&raw)?
        }
        KeysetFormat::Binary => Keyset::from_bytes(bytes)?,
    })
}

fn render(keyset: &Keyset, format: KeysetFormat) -> Vec<u8> {
    match format {
        KeysetFormat::Json => format!("{}\n", keyset.to_json().as_str()).into_bytes(),
        KeysetFormat::Hex => {
            format!("{}\n", hex::encode_upper(keyset.to_bytes().expose())).into_bytes()
        }
        KeysetFormat::Binary => keyset.to_bytes().expose().to_vec(),
    }
}

/// Writes through a temporary file in the same directory, fsyncs it, and
/// renames it over `path`, so a crash leaves either the old keyset or the
/// new one, never a torn file. Keyset files hold keys: mode 0600.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".sealhouse-keyset-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // tempfile creates files with mode 0600 already; the rename keeps it.
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    if let Ok(d) = fs::File::open(dir) {
        // Make the rename itself durable; failure here loses nothing already written.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_form() {
        assert!(detect(b"  {\"key\": []}") == KeysetFormat::Json);
        assert!(detect(b"0A10FF\n") == KeysetFormat::Hex);
        assert!(detect(b"\x0A\x10r8Mq") == KeysetFormat::Binary);
        assert!(detect(b"0A1") == KeysetFormat::Binary);
    }
}
