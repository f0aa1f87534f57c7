//! Sealhouse's PostgreSQL wire protocol endpoint: psql, drivers (simple and
//! extended protocol, prepared statements, text and binary results) and
//! PostgreSQL's postgres_fdw connect to it, each connection signing in with
//! an access key and running as that key's principal, in a warehouse
//! session of its own.
//!
//! - [`auth`]: access key id as user, secret as password (STS: `secret:token`);
//! - [`command`]: what a query string holds and who handles it;
//! - [`connection`]: one signed-in session: settings, transaction block,
//!   cursors;
//! - [`handlers`]: pgwire's traits over a connection;
//! - [`encode`]: Arrow rows in PostgreSQL's formats.

#![forbid(unsafe_code)]

mod auth;
mod command;
mod connection;
mod cursor;
mod encode;
mod error;
mod handlers;
mod parameters;
mod settings;
mod statement_log;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use pgwire::tokio::process_socket;
use sealhouse_iam::Iam;
use sealhouse_sql::{IdentityServices, RemoteExecution};
use sealhouse_storage::Catalog;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
pub use tokio_rustls::rustls;

use connection::Shared;
use handlers::Handlers;

/// The version the server reports: PostgreSQL 15's protocol and catalog
/// queries, then who is answering.
pub const SERVER_VERSION: &str = concat!("15.0 (Sealhouse ", env!("CARGO_PKG_VERSION"), ")");

/// A PostgreSQL wire protocol server over one data directory.
pub struct PostgresServer {
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
}

impl PostgresServer {
    /// A server over `catalog`, signing clients in with `iam` and running
    /// their sessions with `services` (shared, so sessions share the
    /// KMS caches).
    pub fn new(catalog: Arc<Catalog>, services: Arc<IdentityServices>, iam: Arc<Iam>) -> Self {
        Self {
            shared: Arc::new(Shared {
                catalog,
                services,
                iam,
                parser: PostgresCompatibilityParser::new(),
                running: tokio::sync::watch::channel(0).0,
                session_memory: None,
                remote: None,
                quiet_merge: None,
            }),
            tls: None,
        }
    }

    /// Bounds each session's memory (sorts, joins, aggregates): a
    /// statement needing more than `bytes` fails with SQLSTATE 53200 and the
    /// session and server go on. Set before serving.
    pub fn with_session_memory_limit(mut self, bytes: usize) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.session_memory = Some(bytes);
        }
        self
    }

    /// Merges a written table's small files in the background once no
    /// session's INSERT has reached it for `after` (see
    /// `SqlSession::merge_when_quiet`). Set before serving.
    pub fn with_quiet_merge(mut self, after: std::time::Duration) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.quiet_merge = Some(after);
        }
        self
    }

    /// Runs sessions' queries with `remote` (a cluster; see
    /// `SqlSession::with_remote_execution`). Set before serving.
    pub fn with_remote_execution(mut self, remote: Arc<dyn RemoteExecution>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.remote = Some(remote);
        }
        self
    }

    /// Offers TLS with this configuration (clients that ask for it get it;
    /// `sslmode=require` insists).
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(TlsAcceptor::from(config));
        self
    }

    /// Serves connections from `listener` until the task is dropped; each
    /// connection runs on its own task.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_until(listener, std::future::pending(), Duration::ZERO)
            .await
    }

    /// Serves connections from `listener` until `stop` completes; then takes
    /// no more connections and waits, at most `grace`, for the statements
    /// running then to finish. Connections still open after that are
    /// closed when the runtime ends.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> io::Result<()> {
        let mut stop = std::pin::pin!(stop);
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut stop => break,
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving
                    // the connections that exist.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handlers = Arc::new(Handlers::new(Arc::clone(&self.shared)));
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let opened = std::time::Instant::now();
                let ended = process_socket(socket, tls, handlers).await;
                let duration_ms = opened.elapsed().as_secs_f64() * 1000.0;
                match ended {
                    Ok(()) => {
                        tracing::info!(target: "sealhouse::connection", %peer, duration_ms, "closed");
                    }
                    Err(e) => tracing::info!(
                        target: "sealhouse::connection",
                        %peer,
                        duration_ms,
                        error = %e,
                        "ended with an error"
                    ),
                }
            });
        }
        drop(listener);
        let mut running = self.shared.running.subscribe();
        let running_now = *running.borrow();
        tracing::info!(
            target: "sealhouse::server",
            running = running_now,
            "shutting down: no new connections; waiting for running statements"
        );
        let finished = tokio::time::timeout(grace, running.wait_for(|n| *n == 0))
            .await
            .is_ok();
        match finished {
            true => tracing::info!(target: "sealhouse::server", "running statements finished"),
            false => tracing::warn!(
                target: "sealhouse::server",
                running = *running.borrow(),
                grace_ms = grace.as_millis() as u64,
                "statements still running after the grace period are stopped"
            ),
        }
        Ok(())
    }
}
