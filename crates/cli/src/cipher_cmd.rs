//! `sealhouse encrypt` / `sealhouse decrypt`: one value through a keyset.

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use sealhouse_crypto::KeysetCipher;

use std::path::PathBuf;

use crate::keyset_io::{KeysetFormat, read_keyset};

#[derive(Args)]
pub(crate) struct EncryptArgs {
    #[command(flatten)]
    keyset: KeysetArg,
    /// The plaintext, as text.
    #[arg(long, conflicts_with = "hex", required_unless_present = "hex")]
    text: Option<String>,
    /// The plaintext, as hex.
    #[arg(long)]
    hex: Option<String>,
    /// Additional authenticated data; decryption must pass the same.
    #[arg(long, default_value = "")]
    aad: String,
    /// How to print the ciphertext.
    #[arg(long, value_enum, default_value = "base64")]
    output: CiphertextForm,
}

#[derive(Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    keyset: KeysetArg,
    /// The ciphertext, as base64.
    #[arg(long, conflicts_with = "hex", required_unless_present = "hex")]
    base64: Option<String>,
    /// The ciphertext, as hex.
    #[arg(long)]
    hex: Option<String>,
    /// The additional authenticated data given when encrypting.
    #[arg(long, default_value = "")]
    aad: String,
    /// How to print the plaintext.
    #[arg(long, value_enum, default_value = "text")]
    output: PlaintextForm,
}

/// The keyset to encrypt or decrypt with.
#[derive(Args)]
pub(crate) struct KeysetArg {
    /// Keyset file, or - for standard input.
    #[arg(long = "keyset", value_name = "PATH")]
    path: PathBuf,
    /// Form of the keyset file; by default recognised from its content.
    #[arg(long, value_enum)]
    keyset_format: Option<KeysetFormat>,
}

impl KeysetArg {
    fn cipher(&self) -> Result<KeysetCipher> {
        let (keyset, _) = read_keyset(&self.path, self.keyset_format)?;
        Ok(KeysetCipher::new(&keyset)?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum CiphertextForm {
    Base64,
    Hex,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlaintextForm {
    /// UTF-8 text.
    Text,
    Hex,
}

pub(crate) fn encrypt(args: EncryptArgs) -> Result<()> {
    let cipher = args.keyset.cipher()?;
    let plaintext = match (&args.text, &args.hex) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(h)) => hex::decode(h.trim()).context("--hex is not hexadecimal text")?,
        (None, None) => unreachable!("clap requires --text or --hex"),
    };
    let ciphertext = cipher.encrypt(&plaintext, args.aad.as_bytes());
    match args.output {
        CiphertextForm::Base64 => println!("{}", STANDARD.encode(ciphertext)),
        CiphertextForm::Hex => println!("{}", hex::encode_upper(ciphertext)),
    }
    Ok(())
}

pub(crate) fn decrypt(args: DecryptArgs) -> Result<()> {
    let cipher = args.keyset.cipher()?;
    let ciphertext = match (&args.base64, &args.hex) {
        (Some(b), _) => STANDARD
            .decode(b.trim())
            .context("--base64 is not base64 text")?,
        (None, Some(h)) => hex::decode(h.trim()).context("--hex is not hexadecimal text")?,
        (None, None) => unreachable!("clap requires --base64 or --hex"),
    };
    let plaintext = cipher.decrypt(&ciphertext, args.aad.as_bytes())?;
    match args.output {
        PlaintextForm::Text => {
            let text = String::from_utf8(plaintext).map_err(|_| {
                anyhow::anyhow!("the plaintext is not UTF-8 text; use --output hex")
            })?;
            println!("{text}");
        }
        PlaintextForm::Hex => println!("{}", hex::encode_upper(plaintext)),
    }
    Ok(())
}
