//! The client: [`KmsClient`] implements [`Kms`] over the signed HTTP API
//! with blocking requests (`ureq`), so that `CachingKms<KmsClient>` and
//! everything that takes a `&dyn Kms` work unchanged against a remote KMS.
//!
//! Every request is signed with the client's credentials
//! ([`Signer`], ACS3-HMAC-SHA256, a fresh nonce each time). Error responses
//! become the same [`KmsError`] the embedded service returns (code from
//! `Code`, the server's `Message` and `RequestId`); a server that cannot be
//! reached is an `InternalFailure` naming the endpoint.

use std::fmt;
use std::time::Duration;

use sealhouse_iam::signing::{Credentials, RequestToSign, Signer};
use sealhouse_kms::{ErrorCode, Kms, KmsData, KmsError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{API_VERSION, Action, ErrorBody, from_body, to_value};

/// The default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default limit on a whole call (connect, send, receive).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read (a page of 1000 audit events fits).
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a client could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The endpoint is not `http://host:port`, `https://host:port` (or
    /// `host:port`).
    #[error("invalid KMS endpoint '{endpoint}': {reason}")]
    InvalidEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The certificates to trust for an https endpoint could not be read.
    #[error("the KMS client's trusted certificates: {0}")]
    Certificates(String),
}

/// The KMS over HTTP, bound to one set of credentials.
pub struct KmsClient {
    /// `http://host:port/` or `https://host:port/`.
    url: String,
    /// `host:port`, the signed `host` header.
    host: String,
    signer: Signer,
    agent: ureq::Agent,
    /// The certificates an https endpoint's must chain to (DER).
    roots: Vec<ureq::tls::Certificate<'static>>,
    connect_timeout: Duration,
    call_timeout: Duration,
}

impl fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsClient")
            .field("url", &self.url)
            .field("access_key_id", &self.signer.credentials().access_key_id())
            .field("trusted_certificates", &self.roots.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

/// The system's certificate bundle: `$SSL_CERT_FILE`, else Debian's.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Checks an endpoint and returns whether it is https, and its `host:port`.
fn parse_endpoint(endpoint: &str) -> Result<(bool, String), ClientError> {
    let bad = |reason| ClientError::InvalidEndpoint {
        endpoint: endpoint.chars().take(200).collect(),
        reason,
    };
    let (https, rest) = if let Some(rest) = endpoint.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = endpoint.strip_prefix("https://") {
        (true, rest)
    } else if endpoint.contains("://") {
        return Err(bad("use http://host:port or https://host:port"));
    } else {
        (false, endpoint)
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() {
        return Err(bad("it names no host; use http://host:port"));
    }
    if host.contains('/') || host.contains('?') || host.contains('#') || host.contains('@') {
        return Err(bad(
            "it must be http://host:port without a path, query or user; the API is at /",
        ));
    }
    if !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("it must be printable ASCII without spaces"));
    }
    Ok((https, host.to_owned()))
}

/// The certificates in PEM text.
fn pem_certificates(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, ClientError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Certificates(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(ClientError::Certificates(
            "no certificate in the PEM text".to_owned(),
        ));
    }
    Ok(certs)
}

fn system_roots() -> Result<Vec<ureq::tls::Certificate<'static>>, ClientError> {
    let path = std::env::var_os("SSL_CERT_FILE").unwrap_or_else(|| SYSTEM_BUNDLE.into());
    let pem = std::fs::read(&path).map_err(|e| {
        ClientError::Certificates(format!(
            "reading {}: {e}; give the KMS's CA certificate (KmsClient::with_root_certificates)",
            std::path::Path::new(&path).display()
        ))
    })?;
    pem_certificates(&pem)
}

fn agent(
    connect: Duration,
    call: Duration,
    roots: &[ureq::tls::Certificate<'static>],
) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    // Never ureq's default roots (a bundled store this build leaves out):
    // an https endpoint always has its roots set.
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(roots))
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(connect))
        .timeout_global(Some(call))
        .tls_config(tls)
        .build()
        .into()
}

impl KmsClient {
    /// A client of the KMS at `endpoint` (`http://127.0.0.1:7070`,
    /// `127.0.0.1:7070`, or `https://kms.example:7070`, trusting the
    /// system's certificate bundle until [`KmsClient::with_root_certificates`])
    /// signing with `credentials`, with the default timeouts.
    pub fn new(endpoint: &str, credentials: Credentials) -> Result<Self, ClientError> {
        let (https, host) = parse_endpoint(endpoint)?;
        let roots = if https { system_roots()? } else { Vec::new() };
        Ok(Self {
            url: format!("{}://{host}/", if https { "https" } else { "http" }),
            host,
            signer: Signer::new(credentials),
            agent: agent(DEFAULT_CONNECT_TIMEOUT, DEFAULT_CALL_TIMEOUT, &roots),
            roots,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        })
    }

    /// A client of the same endpoint, trusting the same certificates, with
    /// the same timeouts, signing with `credentials` (a role session's).
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            url: self.url.clone(),
            host: self.host.clone(),
            signer: Signer::new(credentials),
            agent: self.agent.clone(),
            roots: self.roots.clone(),
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
        }
    }

    /// Trusts only the certificates in `pem` (the KMS's CA, or its own
    /// self-signed certificate) for an https endpoint.
    pub fn with_root_certificates(mut self, pem: &[u8]) -> Result<Self, ClientError> {
        self.roots = pem_certificates(pem)?;
        self.agent = agent(self.connect_timeout, self.call_timeout, &self.roots);
        Ok(self)
    }

    /// Sets the time to connect and the limit on a whole call.
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, call: Duration) -> Self {
        self.connect_timeout = connect;
        self.call_timeout = call;
        self.agent = agent(connect, call, &self.roots);
        self
    }

    /// The endpoint, `http://host:port/` or `https://host:port/`.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// The access key id the client signs with.
    pub fn access_key_id(&self) -> &str {
        self.signer.credentials().access_key_id()
    }

    fn transport(&self, action: &str, what: impl fmt::Display) -> KmsError {
        KmsError::new(
            ErrorCode::InternalFailure,
            format!(
                "cannot call {action} on the KMS at {}: {what}; check that `sealhouse kms serve` \
                 is running there",
                self.url
            ),
        )
    }

    fn malformed(&self, action: &str, what: impl fmt::Display) -> KmsError {
        KmsError::new(
            ErrorCode::InternalFailure,
            format!(
                "the KMS at {} answered {action} with a response this client cannot read: {what}",
                self.url
            ),
        )
    }

    /// Temporary credentials of `role_arn` (`acs:ram::<uid>:role/<name>`)
    /// for a session named `session_name`, if the role trusts this
    /// client's principal and its policies allow `sts:AssumeRole` on it
    /// ([`crate::sts`]).
    pub fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
    ) -> Result<crate::sts::AssumeRoleResponse, KmsError> {
        let request = crate::sts::AssumeRoleRequest {
            role_arn: role_arn.to_owned(),
            role_session_name: session_name.to_owned(),
            duration_seconds: None,
        };
        let body = serde_json::to_vec(&request)
            .map_err(|_| self.malformed(crate::sts::ASSUME_ROLE, "the request did not encode"))?;
        let bytes = self.send(crate::sts::ASSUME_ROLE, body)?;
        serde_json::from_slice(&bytes).map_err(|e| self.malformed(crate::sts::ASSUME_ROLE, e))
    }

    /// Signs and sends one call; the parsed response or the server's error.
    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        action: Action,
        request: &Req,
    ) -> Result<Resp, KmsError> {
        let action = action.as_str();
        let body = to_value(request)
            .ok()
            .and_then(|v| serde_json::to_vec(&v).ok())
            .ok_or_else(|| self.malformed(action, "the request could not be encoded"))?;
        let bytes = self.send(action, body)?;
        from_body::<Resp>(&bytes).map_err(|e| self.malformed(action, e.message()))
    }

    /// Signs and sends `body` as `action`; the answer's body if it is a
    /// success, else the server's error.
    fn send(&self, action: &str, body: Vec<u8>) -> Result<Vec<u8>, KmsError> {
        let extra = [("content-type".to_owned(), "application/json".to_owned())];
        let signed = self
            .signer
            .sign(&RequestToSign {
                action,
                version: API_VERSION,
                host: &self.host,
                method: "POST",
                path: "/",
                query: &[],
                headers: &extra,
                body: &body,
            })
            .map_err(|e| KmsError::new(ErrorCode::InvalidParameter, e.to_string()))?;
        let mut builder = self.agent.post(&self.url);
        for (name, value) in &signed.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder
            .send(&body[..])
            .map_err(|e| self.transport(action, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport(action, e))?;
        if status == 200 {
            return Ok(bytes);
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(body.into_kms_error(status)),
            Err(_) => Err(self.malformed(
                action,
                format!("HTTP status {status} without a JSON error body"),
            )),
        }
    }
}

/// Each operation of the list in `sealhouse-kms` as one signed call.
macro_rules! client_calls {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        impl KmsData for KmsClient {
            $(
                fn $data_method(&self, request: &$data_req) -> Result<$data_resp, KmsError> {
                    self.call(Action::$data_action, request)
                }
            )*
        }

        impl Kms for KmsClient {
            $(
                fn $admin_method(&self, request: &$admin_req) -> Result<$admin_resp, KmsError> {
                    self.call(Action::$admin_action, request)
                }
            )*
        }
    };
}

sealhouse_kms::kms_operations!(client_calls);

#[cfg(test)]
mod tests {
    use sealhouse_kms::api::DescribeKeyRequest;

    use super::*;

    #[test]
    fn endpoints_are_http_host_port_only() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:7070").unwrap(),
            (false, "127.0.0.1:7070".to_owned())
        );
        assert_eq!(
            parse_endpoint("127.0.0.1:7070/").unwrap(),
            (false, "127.0.0.1:7070".to_owned())
        );
        assert_eq!(
            parse_endpoint("https://kms.example:7070").unwrap(),
            (true, "kms.example:7070".to_owned())
        );
        for bad in ["", "http://", "https://", "ftp://x", "http://h/p", "a b"] {
            let e = parse_endpoint(bad).unwrap_err();
            assert!(e.to_string().contains("invalid KMS endpoint"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_unreachable_server_is_an_error_naming_the_endpoint() {
        let creds = Credentials::new(
            "LTAIexample",
            sealhouse_crypto::SecretBytes::new(b"s".to_vec()),
        );
        // Port 9 (discard) on loopback: nothing listens in a test sandbox.
        let client = KmsClient::new("http://127.0.0.1:9", creds)
            .unwrap()
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(3));
        let e = client
            .describe_key(&DescribeKeyRequest::new("key-x"))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InternalFailure);
        assert!(e.message().contains("http://127.0.0.1:9/"), "{e}");
        assert!(!format!("{client:?}").contains("secret"));
    }
}
