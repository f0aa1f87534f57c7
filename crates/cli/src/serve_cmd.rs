//! `sealhouse serve`: the PostgreSQL wire protocol and the KMS HTTP API in
//! one process over one data directory, on loopback unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use sealhouse_server::PostgresServer;
use sealhouse_sql::IdentityServices;

use crate::kms_cmd::{self, bind, check_loopback, serve_kms};
use crate::local::Local;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The data directory (default: $SEALHOUSE_DATA_DIR, else ~/.local/share/sealhouse).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where PostgreSQL clients connect (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pg_listen: SocketAddr,
    /// Where the KMS HTTP API listens (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:9800")]
    kms_listen: SocketAddr,
    /// PEM certificate chain: offer TLS to PostgreSQL clients (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow non-loopback listen addresses (other machines can then connect).
    #[arg(long)]
    allow_remote: bool,
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    check_loopback("--pg-listen", args.pg_listen, args.allow_remote)?;
    check_loopback("--kms-listen", args.kms_listen, args.allow_remote)?;
    if args.allow_remote && args.tls_cert.is_none() && !args.pg_listen.ip().is_loopback() {
        bail!(
            "--pg-listen {} takes passwords (access key secrets) from other machines: give \
             --tls-cert and --tls-key so they travel encrypted",
            args.pg_listen
        );
    }
    crate::logging::init();
    let dir = crate::data_dir::resolve(args.data_dir)?;
    let local = Local::open(&dir)?;
    let services = Arc::new(
        IdentityServices::new(
            Arc::clone(&local.iam),
            Arc::new(local.kms.clone()),
            kms_cmd::cache_ttl()?,
            local.default_account.clone(),
        )
        .with_region(local.kms.region()),
    );
    let catalog = local.catalog()?;
    let mut server = PostgresServer::new(catalog, services, Arc::clone(&local.iam));
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        server = server.with_tls(cert, key)?;
    }
    let runtime = crate::runtime::build("server")?;
    runtime.block_on(async move {
        let pg = bind("PostgreSQL endpoint", args.pg_listen).await?;
        let kms = bind("KMS", args.kms_listen).await?;
        eprintln!(
            "sealhouse serve: PostgreSQL on postgres://{}{}",
            pg.local_addr()?,
            if args.tls_cert.is_some() {
                " (TLS offered)"
            } else {
                ""
            }
        );
        eprintln!("sealhouse serve: KMS on http://{}", kms.local_addr()?);
        eprintln!("sealhouse serve: data directory {}", dir.display());
        tokio::select! {
            r = server.serve(pg) => r.context("serving PostgreSQL clients"),
            r = serve_kms(&local, kms) => r,
        }
    })
}
