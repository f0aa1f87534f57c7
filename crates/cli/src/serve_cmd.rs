//! `sealhouse serve`: the PostgreSQL wire protocol and the KMS HTTP API in
//! one process over one data directory, on loopback unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sealhouse_cluster::SchedulerUrl;
use sealhouse_server::PostgresServer;

use crate::cluster_tls::{self, ClusterTlsArgs};
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
    /// The most memory one session's statements may hold at once (sorts,
    /// joins, aggregates; nothing is spilled to disk): 512MiB, 2GiB, or
    /// bytes. A statement needing more fails; the server goes on.
    #[arg(long, env = "SEALHOUSE_SESSION_MEMORY_LIMIT", default_value = "2GiB", value_parser = parse_size)]
    session_memory_limit: usize,
    /// Merge a table's files under 1 MiB in the background once it has
    /// had no INSERT for this many milliseconds (0: only the merges that
    /// INSERTs make as they go, by size tier).
    #[arg(
        long,
        env = "SEALHOUSE_MERGE_QUIET_MS",
        default_value_t = 500,
        value_name = "MS"
    )]
    merge_quiet_ms: u64,
    /// Run sessions' queries on the cluster whose scheduler is at this
    /// address (http://HOST:PORT, or https://HOST:PORT with --cluster-ca,
    /// --cluster-cert and --cluster-key; see `sealhouse cluster`).
    #[arg(long, env = "SEALHOUSE_CLUSTER", value_name = "URL")]
    cluster: Option<SchedulerUrl>,
    #[command(flatten)]
    cluster_tls: ClusterTlsArgs,
    /// Allow non-loopback listen addresses (other machines can then
    /// connect; needs --tls-cert and --tls-key).
    #[arg(long)]
    allow_remote: bool,
}

/// A size: bytes, or a number with KiB, MiB or GiB.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let multiplier: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "'{text}' is not a size: write bytes, or 512MiB, 2GiB"
            ));
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size: write bytes, or 512MiB, 2GiB"))?;
    let bytes = n
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text} is too large"))?;
    if bytes < 1 << 20 {
        return Err(format!("{text} is too small: give at least 1MiB"));
    }
    Ok(bytes)
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
    let services = local.identity_services()?;
    let catalog = local.catalog()?;
    let mut server = PostgresServer::new(catalog, services, Arc::clone(&local.iam))
        .with_session_memory_limit(args.session_memory_limit);
    if args.merge_quiet_ms > 0 {
        server = server.with_quiet_merge(std::time::Duration::from_millis(args.merge_quiet_ms));
    }
    if let Some(config) = &tls {
        server = server.with_tls(Arc::clone(config));
    }
    if let Some(cluster) = cluster_tls::cluster(args.cluster.as_ref(), &args.cluster_tls)? {
        server = server.with_remote_execution(cluster);
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

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        for bad in ["", "1", "2GB", "-1MiB", "1.5GiB", "99999999999999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
