//! `sealhouse`: the command-line entry point.
//!
//! Thin by design: it parses arguments, reads and writes files, and calls the
//! library crates, which hold all the logic.

#![forbid(unsafe_code)]

mod allocator;
mod cache_ttl;
mod cipher_cmd;
mod cluster_cmd;
mod cluster_identity;
mod cluster_tls;
mod data_dir;
mod external_cmd;
mod history;
mod iam_cmd;
mod identity;
mod keyset_cmd;
mod keyset_io;
mod kms_byok_cmd;
mod kms_cmd;
mod kms_serve;
mod local;
mod logging;
mod project_cmd;
mod root_key_source;
mod runtime;
mod serve_cmd;
mod shutdown;
mod sql_cmd;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sealhouse: an analytic SQL warehouse built around data encryption.
#[derive(Parser)]
#[command(name = "sealhouse", version, about, long_about = None)]
struct Cli {
    /// The region of the KMS and the warehouse (`acs:kms:<region>:...`, `acs:odps:<region>:...`),
    /// such as cn-beijing. A data directory keeps the region it was first used in (default
    /// cn-hangzhou); naming another is refused.
    #[arg(long, global = true, env = "SEALHOUSE_REGION", value_name = "REGION")]
    region: Option<String>,
    /// Keep the warehouse's table files in an S3-compatible bucket, as s3://BUCKET[/PREFIX]; the
    /// catalog stays in the data directory. Reached with the AWS_* environment S3 tools read
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP). A
    /// data directory records its bucket when first opened with one; naming another is refused.
    #[arg(long, global = true, env = "SEALHOUSE_STORAGE_URL", value_name = "URL")]
    storage_url: Option<String>,
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
    /// Processes of a cluster that runs queries: a scheduler and executors.
    Cluster(cluster_cmd::ClusterArgs),
    /// What an external query engine needs to read encrypted projects: role credentials, table manifests.
    ExternalEngine(external_cmd::ExternalEngineArgs),
}

/// The exit status of a command whose reader went away (`| head`): what a
/// shell reports for a process ended by SIGPIPE.
const BROKEN_PIPE_EXIT: u8 = 141;

/// Whether `error` comes from writing to a pipe whose reader has gone.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when standard output is a pipe whose reader has gone;
/// such a panic ends the command quietly, as SIGPIPE ends other tools,
/// instead of printing a panic message and a backtrace.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(i32::from(BROKEN_PIPE_EXIT));
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    allocator::without_huge_pages();
    exit_quietly_on_broken_pipe();
    runtime::on_statement_thread(run)
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    local::choose_region(cli.region);
    local::choose_storage_url(cli.storage_url);
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
        Command::Cluster(args) => cluster_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped reading (`| head`): nothing to report.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(BROKEN_PIPE_EXIT),
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: what we were
            // doing, then what went wrong. No message below carries key material.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
