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

use std::io;
use std::path::Path;
use std::sync::Arc;

use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use pgwire::tokio::process_socket;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sealhouse_iam::Iam;
use sealhouse_sql::IdentityServices;
use sealhouse_storage::Catalog;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

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
            }),
            tls: None,
        }
    }

    /// Offers TLS with the certificate chain and private key in these PEM
    /// files (clients that ask for it get it; `sslmode=require` insists).
    pub fn with_tls(mut self, certificate: &Path, key: &Path) -> io::Result<Self> {
        let invalid = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("reading the TLS {what} {}: {e}", path.display()),
            )
        };
        let chain = CertificateDer::pem_file_iter(certificate)
            .map_err(|e| invalid("certificate", certificate, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("certificate", certificate, &e))?;
        if chain.is_empty() {
            return Err(invalid(
                "certificate",
                certificate,
                &"no certificate in the file",
            ));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid("key", key, &e))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("configuration for", certificate, &e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| invalid("certificate and key", certificate, &e))?;
        self.tls = Some(TlsAcceptor::from(Arc::new(config)));
        Ok(self)
    }

    /// Serves connections from `listener` until the task is dropped; each
    /// connection runs on its own task.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (socket, peer) = match listener.accept().await {
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
    }
}
