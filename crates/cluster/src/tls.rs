//! TLS between a cluster's processes, both ways authenticated: every
//! process presents a certificate of the cluster's CA and accepts only
//! peers that present one. That covers the scheduler's gRPC (coordinators
//! submitting plans, executors asking for tasks) and the executors' Flight
//! service (shuffle fetches, results to the coordinator), so nothing
//! outside the cluster can submit a plan, take a task or fetch a partition,
//! and nothing on the wire is readable.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballista_core::extension::EndpointOverrideFn;
use ballista_core::utils::{GrpcClientConfig, create_grpc_client_endpoint};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::ClusterError;

/// A process's TLS material: the cluster CA's certificate, and its own
/// certificate and private key (PEM).
#[derive(Clone)]
pub struct ClusterTls {
    ca: Certificate,
    identity: Identity,
    /// Where the certificate came from, for messages.
    cert_path: PathBuf,
}

impl fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterTls")
            .field("cert", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl ClusterTls {
    /// Reads the CA certificate, the process's certificate and its key.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Self, ClusterError> {
        let read = |path: &Path, what: &str| {
            let bytes = std::fs::read(path).map_err(|e| {
                ClusterError::Setup(format!(
                    "reading the cluster {what} {}: {e}",
                    path.display()
                ))
            })?;
            if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
                return Err(ClusterError::Setup(format!(
                    "the cluster {what} {} is not a PEM file (make one with `sealhouse cluster \
                     certs`)",
                    path.display()
                )));
            }
            Ok(bytes)
        };
        let ca = read(ca, "CA certificate")?;
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "key")?;
        Ok(Self {
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert_pem, key_pem),
            cert_path: cert.to_owned(),
        })
    }

    /// What a listening process serves: its certificate, and client
    /// certificates of the cluster CA required.
    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
    }

    fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
    }

    /// How Ballista's clients connect: over TLS with this identity, to a
    /// server the cluster CA vouches for. Ballista builds `http://`
    /// endpoints for the scheduler; the connection is rebuilt as
    /// `https://` (tonic speaks TLS only to https URLs).
    pub(crate) fn endpoint_override(self: &Arc<Self>) -> EndpointOverrideFn {
        let tls = Arc::clone(self);
        Arc::new(move |endpoint: Endpoint| {
            let uri = endpoint.uri();
            let authority = uri
                .authority()
                .ok_or("a cluster endpoint without a host")?
                .as_str()
                .to_owned();
            let secure = create_grpc_client_endpoint(
                format!("https://{authority}"),
                Some(&GrpcClientConfig::default()),
            )?;
            Ok(secure.tls_config(tls.client())?)
        })
    }
}
