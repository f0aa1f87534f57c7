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
        let ca_pem = read(ca, "CA certificate")?;
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "key")?;
        check(&ca_pem, ca, &cert_pem, cert, &key_pem, key)?;
        let ca = ca_pem;
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

/// Checks the files now, so a wrong one is named when the process starts
/// (tonic would say "transport error" when it first serves): certificates
/// in the CA file and the certificate file, a key in the key file, and the
/// key the certificate's.
fn check(
    ca_pem: &[u8],
    ca: &Path,
    cert_pem: &[u8],
    cert: &Path,
    key_pem: &[u8],
    key: &Path,
) -> Result<(), ClusterError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;

    let certificates = |pem: &[u8], path: &Path, what: &str| {
        let found = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ClusterError::Setup(format!(
                    "reading the cluster {what} {}: {e}",
                    path.display()
                ))
            })?;
        if found.is_empty() {
            return Err(ClusterError::Setup(format!(
                "the cluster {what} {} holds no certificate",
                path.display()
            )));
        }
        Ok(found)
    };
    certificates(ca_pem, ca, "CA certificate")?;
    let chain = certificates(cert_pem, cert, "certificate")?;
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        ClusterError::Setup(format!(
            "reading the cluster key {}: {e} (give the PEM private key of --cluster-cert)",
            key.display()
        ))
    })?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map(|_| ())
        .map_err(|e| {
            ClusterError::Setup(format!(
                "the cluster certificate {} and key {} do not go together: {e}",
                cert.display(),
                key.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_files_are_named_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("c");
        let names = ["a".to_owned(), "b".to_owned()];
        crate::generate_certs(&certs, &names, &["127.0.0.1".to_owned()]).unwrap();
        let f = |name: &str| certs.join(name);
        ClusterTls::load(&f("ca.pem"), &f("a.pem"), &f("a.key")).unwrap();
        let error = |ca: &str, cert: &str, key: &str| {
            ClusterTls::load(&f(ca), &f(cert), &f(key))
                .unwrap_err()
                .to_string()
        };
        let e = error("ca.pem", "a.pem", "b.key");
        assert!(e.contains("do not go together"), "{e}");
        assert!(e.contains("a.pem") && e.contains("b.key"), "{e}");
        let e = error("ca.pem", "a.key", "a.key");
        assert!(e.contains("holds no certificate"), "{e}");
        let e = error("ca.pem", "a.pem", "a.pem");
        assert!(e.contains("reading the cluster key"), "{e}");
        let e = error("a.key", "a.pem", "a.key");
        assert!(
            e.contains("CA certificate") && e.contains("no certificate"),
            "{e}"
        );
        std::fs::write(f("junk"), "not pem").unwrap();
        let e = error("ca.pem", "junk", "a.key");
        assert!(e.contains("is not a PEM file"), "{e}");
        let e = error("ca.pem", "missing.pem", "a.key");
        assert!(e.contains("missing.pem"), "{e}");
        // Debug shows where the certificate came from, never the key.
        let tls = ClusterTls::load(&f("ca.pem"), &f("a.pem"), &f("a.key")).unwrap();
        let key = std::fs::read_to_string(f("a.key")).unwrap();
        let shown = format!("{tls:?}");
        assert!(shown.contains("a.pem"), "{shown}");
        let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!shown.contains(&body[..20]), "{shown}");
    }
}
