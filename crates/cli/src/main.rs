//! `sealhouse`: the command-line entry point.
//!
//! Thin by design: it parses arguments, reads and writes files, and calls the
//! library crates, which hold all the logic.

#![forbid(unsafe_code)]

mod cipher_cmd;
mod data_dir;
mod external_cmd;
mod history;
mod iam_cmd;
mod identity;
mod keyset_cmd;
mod keyset_io;
mod kms_cmd;
mod local;
mod project_cmd;
mod root_key_source;
mod serve_cmd;
mod sql_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse. With glibc's malloc every batch of
/// large values (8192 x 1 KiB) was mapped, faulted in, zeroed and unmapped
/// again, which cost more than encrypting it (bench/README.md, issue 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sealhouse: an analytic SQL warehouse built around data encryption.
#[derive(Parser)]
#[command(name = "sealhouse", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run SQL against the embedded warehouse: -e, -f, or interactively.
    Sql(sql_cmd::SqlArgs),
    /// Create and change keysets (like Tink's tinkey).
    #[command(subcommand)]
    Keyset(keyset_cmd::KeysetCommand),
    /// Encrypt one value with a keyset (ENHANCED_SYM_ENCRYPT).
    Encrypt(cipher_cmd::EncryptArgs),
    /// Decrypt one value with a keyset (ENHANCED_SYM_DECRYPT).
    Decrypt(cipher_cmd::DecryptArgs),
    /// Identities: accounts, users, access keys, roles, policies, STS, role chains.
    Iam(iam_cmd::IamArgs),
    /// The key management service: keys, versions, encryption, audit.
    Kms(kms_cmd::KmsArgs),
    /// Projects and their storage encryption (create, describe, enable, rewrite).
    Project(project_cmd::ProjectArgs),
    /// Serve PostgreSQL clients (psql, drivers, postgres_fdw) and the KMS HTTP API.
    Serve(serve_cmd::ServeArgs),
    /// What an external query engine needs to read encrypted projects: role credentials, table manifests.
    ExternalEngine(external_cmd::ExternalEngineArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sql(args) => sql_cmd::run(args),
        Command::Keyset(cmd) => keyset_cmd::run(cmd),
        Command::Encrypt(args) => cipher_cmd::encrypt(args),
        Command::Decrypt(args) => cipher_cmd::decrypt(args),
        Command::Iam(args) => iam_cmd::run(args),
        Command::Kms(args) => kms_cmd::run(args),
        Command::Project(args) => project_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::ExternalEngine(args) => external_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: what we were
            // doing, then what went wrong. No message below carries key material.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
