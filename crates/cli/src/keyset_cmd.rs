//! `sealhouse keyset ...`: create, inspect and change keysets.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_crypto::{Algorithm, KeyId, Keyset, SecretBytes};

use crate::keyset_io::{KeysetFormat, KeysetInput, KeysetOutput};

#[derive(Subcommand)]
pub(crate) enum KeysetCommand {
    /// Create a keyset with one generated key (NEW_KEYSET).
    New {
        /// Key algorithm: AES-GCM-256, AES-SIV-CMAC-128 or AES-SIV-CMAC-256.
        #[arg(long, default_value = "AES-GCM-256")]
        algorithm: String,
        /// Description stored with the key.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        output: KeysetOutput,
    },
    /// Add a generated key and make it primary (ROTATE_KEYSET).
    Rotate {
        #[command(flatten)]
        input: KeysetInput,
        /// Key algorithm of the new key.
        #[arg(long, default_value = "AES-GCM-256")]
        algorithm: String,
        /// Description of the new key (none when absent).
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        output: KeysetOutput,
    },
    /// Add a key you supply and make it primary (ADD_KEY_TO_KEYSET).
    AddKey(AddKeyArgs),
    /// List the keys: id, algorithm, status, origin, description; never material.
    List {
        #[command(flatten)]
        input: KeysetInput,
    },
    /// Convert between JSON, hex and binary (KEYSET_TO_JSON / KEYSET_FROM_JSON).
    Convert {
        #[command(flatten)]
        input: KeysetInput,
        #[command(flatten)]
        output: KeysetOutput,
    },
    /// Enable a disabled key.
    Enable(KeyChange),
    /// Disable a key: kept, but it neither encrypts nor decrypts.
    Disable(KeyChange),
    /// Destroy a key: its material is erased for good.
    Destroy(KeyChange),
    /// Make an enabled key the primary key.
    SetPrimary(KeyChange),
}

#[derive(Args)]
pub(crate) struct AddKeyArgs {
    #[command(flatten)]
    input: KeysetInput,
    /// Key algorithm of the supplied key.
    #[arg(long)]
    algorithm: String,
    /// The raw key as hex (visible to other users in the process list; prefer --key-file).
    #[arg(
        long,
        conflicts_with = "key_file",
        required_unless_present = "key_file"
    )]
    key_hex: Option<String>,
    /// A file holding the raw key bytes.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Description of the new key.
    #[arg(long, default_value = "")]
    description: String,
    #[command(flatten)]
    output: KeysetOutput,
}

#[derive(Args)]
pub(crate) struct KeyChange {
    #[command(flatten)]
    input: KeysetInput,
    /// Id of the key to change (see `keyset list`).
    #[arg(long)]
    key_id: String,
    #[command(flatten)]
    output: KeysetOutput,
}

pub(crate) fn run(cmd: KeysetCommand) -> Result<()> {
    match cmd {
        KeysetCommand::New {
            algorithm,
            description,
            output,
        } => {
            let keyset = Keyset::new(Algorithm::parse(&algorithm)?, &description)?;
            output.write(&keyset, KeysetFormat::Json)
        }
        KeysetCommand::Rotate {
            input,
            algorithm,
            description,
            output,
        } => {
            let (mut keyset, format) = input.read()?;
            keyset.rotate(Algorithm::parse(&algorithm)?, description.as_deref())?;
            output.write(&keyset, format)
        }
        KeysetCommand::AddKey(args) => add_key(args),
        KeysetCommand::List { input } => {
            let (keyset, _) = input.read()?;
            print_key_list(&keyset);
            Ok(())
        }
        KeysetCommand::Convert { input, output } => {
            let (keyset, format) = input.read()?;
            output.write(&keyset, format)
        }
        KeysetCommand::Enable(change) => change.apply(Keyset::enable),
        KeysetCommand::Disable(change) => change.apply(Keyset::disable),
        KeysetCommand::Destroy(change) => change.apply(Keyset::destroy),
        KeysetCommand::SetPrimary(change) => change.apply(Keyset::set_primary),
    }
}

fn add_key(args: AddKeyArgs) -> Result<()> {
    let algorithm = Algorithm::parse(&args.algorithm)?;
    let material = match (&args.key_hex, &args.key_file) {
        (Some(text), _) => SecretBytes::new(
            hex::decode(text.trim())
                .context("--key-hex is not hexadecimal text (two digits per byte)")?,
        ),
        (None, Some(path)) => SecretBytes::new(
            std::fs::read(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?,
        ),
        (None, None) => bail!("give the key with --key-hex or --key-file"),
    };
    let (mut keyset, format) = args.input.read()?;
    keyset.add_raw_key(algorithm, material, &args.description)?;
    args.output.write(&keyset, format)
}

impl KeyChange {
    fn apply(
        self,
        change: fn(&mut Keyset, &KeyId) -> Result<(), sealhouse_crypto::Error>,
    ) -> Result<()> {
        let (mut keyset, format) = self.input.read()?;
        let id = KeyId::parse(&self.key_id).map_err(|_| {
            anyhow::anyhow!(
                "--key-id {} is not a key id (16 base64 characters)",
                self.key_id
            )
        })?;
        change(&mut keyset, &id)?;
        self.output.write(&keyset, format)
    }
}

fn print_key_list(keyset: &Keyset) {
    println!(
        "{:<18} {:<17} {:<9} {:<24} {:<7} description",
        "key_id", "algorithm", "status", "origin", "primary"
    );
    for k in keyset.key_infos() {
        println!(
            "{:<18} {:<17} {:<9} {:<24} {:<7} {}",
            k.key_id.as_str(),
            k.algorithm.name(),
            k.status.name(),
            k.origin.name(),
            if k.is_primary { "yes" } else { "" },
            k.description.as_deref().unwrap_or("")
        );
    }
}
