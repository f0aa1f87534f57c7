//! Serving the KMS HTTP API: `sealhouse kms serve`, and the KMS half of
//! `sealhouse serve`. Both refuse what would expose it: a non-loopback
//! address without `--allow-remote`, remote clients without TLS, and an
//! address clients cannot sign for without the host names they use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use sealhouse_kms_http::{ServeOptions, endpoint_hosts};
use tokio_rustls::rustls::ServerConfig;

use crate::local::Local;
use crate::tls::TlsArgs;

/// `sealhouse kms serve`.
#[derive(Args)]
pub(crate) struct KmsServeArgs {
    /// Address to listen on (loopback by default; port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:9800")]
    listen: SocketAddr,
    /// A host name clients reach the API by (`name` or `name:port`; repeat
    /// for several). Requests signed for any other host are refused, so a
    /// request captured on its way to another endpoint cannot be replayed
    /// here. The listen address itself (and localhost on loopback) is always
    /// accepted.
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Allow a non-loopback --listen address (other machines can then
    /// connect; needs --tls-cert and --tls-key).
    #[arg(long)]
    allow_remote: bool,
}

/// `kms serve`: the HTTP API over this data directory until SIGTERM or
/// SIGINT.
pub(crate) fn run(local: Local, args: KmsServeArgs) -> Result<()> {
    let tls = args.tls.server_config()?;
    check_exposure("--listen", args.listen, args.allow_remote, tls.is_some())?;
    check_hosts("--listen", "--host", args.listen, &args.hosts)?;
    crate::logging::init();
    let runtime = crate::runtime::build("server")?;
    runtime.block_on(async move {
        let stop = crate::shutdown::terminated()?;
        let listener = bind("KMS", args.listen).await?;
        let addr = listener.local_addr()?;
        eprintln!("sealhouse kms: listening on {}", url(addr, tls.is_some()));
        let served = serve_kms(&local, listener, &args.hosts, tls, async move {
            let signal = stop.await;
            tracing::info!(target: "sealhouse::server", signal, "shutting down");
        });
        served.await
    })
}

/// The API's URL on `addr`.
pub(crate) fn url(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}

/// Refuses a non-loopback address unless the caller said they mean it, and
/// then only with TLS: `what` takes secrets (access key secrets, plaintexts,
/// data keys) that must not cross a network in the clear.
pub(crate) fn check_exposure(
    flag: &str,
    listen: SocketAddr,
    allow_remote: bool,
    tls: bool,
) -> Result<()> {
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        bail!(
            "{flag} {listen} is not a loopback address: other machines could connect; \
             pass --allow-remote to mean it"
        );
    }
    if !tls {
        bail!(
            "{flag} {listen} takes secrets from other machines: give --tls-cert and --tls-key \
             so they travel encrypted"
        );
    }
    Ok(())
}

/// An unspecified address (0.0.0.0, ::) is no address a client signs
/// requests for: the names clients use must be given.
pub(crate) fn check_hosts(
    flag: &str,
    hosts_flag: &str,
    listen: SocketAddr,
    hosts: &[String],
) -> Result<()> {
    if listen.ip().is_unspecified() && hosts.is_empty() {
        bail!(
            "{flag} {listen} listens on every address, so the KMS cannot tell which host \
             clients sign requests for: give {hosts_flag} with the name (or address) they use"
        );
    }
    Ok(())
}

/// Binds `listen`, naming what for in the error.
pub(crate) async fn bind(what: &str, listen: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} for the {what}"))
}

/// Serves the KMS HTTP API on `listener` until `stop`, with maintenance
/// (deletion after the window, automatic rotation) every minute. Requests
/// must be signed for the listener's address or one of `names`.
pub(crate) async fn serve_kms(
    local: &Local,
    listener: tokio::net::TcpListener,
    names: &[String],
    tls: Option<Arc<ServerConfig>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let service = Arc::new(local.kms.clone());
    let maintained = local.kms.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let kms = maintained.clone();
            match tokio::task::spawn_blocking(move || kms.tick()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("sealhouse kms: maintenance failed: {e}"),
                Err(e) => eprintln!("sealhouse kms: maintenance failed: {e}"),
            }
        }
    });
    let options = ServeOptions {
        hosts: Some(endpoint_hosts(listener.local_addr()?, names)),
        tls,
    };
    sealhouse_kms_http::serve_until(listener, service, Arc::clone(&local.iam), options, stop)
        .await
        .context("serving the KMS")
}
