//! `sealhouse serve`: the PostgreSQL wire protocol and the KMS HTTP API in
//! one process over one data directory, on loopback unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sealhouse_server::PostgresServer;
use sealhouse_sql::IdentityServices;

use crate::kms_cmd;
use crate::kms_serve::{bind, check_exposure, check_hosts, serve_kms, url};
use crate::local::Local;
use crate::shutdown::{GRACE, terminated};
use crate::tls::TlsArgs;

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
    /// A host name clients reach the KMS API by (`name` or `name:port`;
    /// repeat for several); requests signed for another host are refused.
    /// The --kms-listen address (and localhost on loopback) is always
    /// accepted.
    #[arg(long = "kms-host", value_name = "NAME")]
    kms_hosts: Vec<String>,
    /// TLS for both endpoints: PostgreSQL clients are offered it, the KMS
    /// API is served over https only.
    #[command(flatten)]
    tls: TlsArgs,
    /// Allow non-loopback listen addresses (other machines can then
    /// connect; needs --tls-cert and --tls-key).
    #[arg(long)]
    allow_remote: bool,
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let tls = args.tls.server_config()?;
    check_exposure(
        "--pg-listen",
        args.pg_listen,
        args.allow_remote,
        tls.is_some(),
    )?;
    check_exposure(
        "--kms-listen",
        args.kms_listen,
        args.allow_remote,
        tls.is_some(),
    )?;
    check_hosts(
        "--kms-listen",
        "--kms-host",
        args.kms_listen,
        &args.kms_hosts,
    )?;
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
    if let Some(config) = &tls {
        server = server.with_tls(Arc::clone(config));
    }
    let runtime = crate::runtime::build("server")?;
    runtime.block_on(async move {
        let signal = terminated()?;
        let pg = bind("PostgreSQL endpoint", args.pg_listen).await?;
        let kms = bind("KMS", args.kms_listen).await?;
        eprintln!(
            "sealhouse serve: PostgreSQL on postgres://{}{}",
            pg.local_addr()?,
            if tls.is_some() { " (TLS offered)" } else { "" }
        );
        eprintln!(
            "sealhouse serve: KMS on {}",
            url(kms.local_addr()?, tls.is_some())
        );
        eprintln!("sealhouse serve: data directory {}", dir.display());

        // The signal, or either endpoint failing, stops both; each then
        // finishes what it is running (see PostgresServer::serve_until).
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let stop = Arc::new(stop);
        let on_signal = Arc::clone(&stop);
        tokio::spawn(async move {
            let signal = signal.await;
            tracing::info!(target: "sealhouse::server", signal, "shutting down");
            eprintln!("sealhouse serve: {signal}: shutting down");
            on_signal.send_replace(true);
        });
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let postgres = async {
            let served = server
                .serve_until(pg, until_stopped(stopped.clone()), GRACE)
                .await
                .context("serving PostgreSQL clients");
            stop.send_replace(true);
            served
        };
        let kms = async {
            let served = serve_kms(
                &local,
                kms,
                &args.kms_hosts,
                tls.clone(),
                until_stopped(stopped.clone()),
            )
            .await;
            stop.send_replace(true);
            served
        };
        let (postgres, kms) = tokio::join!(postgres, kms);
        postgres.and(kms)
    })
}
