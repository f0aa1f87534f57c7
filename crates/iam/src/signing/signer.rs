//! The client side: adds the `x-acs-*` headers and the Authorization header
//! to a request.

use std::fmt;

use sealhouse_crypto::SecretBytes;

use super::canonical::{
    CanonicalRequest, canonical_headers, canonical_query_string, canonical_uri, must_be_signed,
    sha256_hex,
};
use super::error::SignError;
use super::header::AuthorizationHeader;
use super::{MAX_NONCE_LEN, format_date, headers};
use crate::clock::{Clock, SystemClock};
use crate::service::NewAccessKey;
use crate::sts::TemporaryCredentials;

/// What a client signs with: an access key id, its secret and, for STS
/// credentials, the security token. `Debug` shows the id only.
pub struct Credentials {
    access_key_id: String,
    secret: SecretBytes,
    security_token: Option<SecretBytes>,
}

impl Credentials {
    /// Long-lived credentials (an access key pair).
    pub fn new(access_key_id: impl Into<String>, secret: SecretBytes) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret,
            security_token: None,
        }
    }

    /// Adds the STS security token that temporary credentials carry.
    #[must_use]
    pub fn with_security_token(mut self, token: SecretBytes) -> Self {
        self.security_token = Some(token);
        self
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Whether the credentials carry a security token.
    pub fn has_security_token(&self) -> bool {
        self.security_token.is_some()
    }
}

impl From<&NewAccessKey> for Credentials {
    fn from(k: &NewAccessKey) -> Self {
        Self::new(k.id.clone(), k.secret.as_secret().duplicate())
    }
}

impl From<&TemporaryCredentials> for Credentials {
    fn from(c: &TemporaryCredentials) -> Self {
        Self::new(c.access_key_id.clone(), c.secret.as_secret().duplicate())
            .with_security_token(c.security_token.as_secret().duplicate())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"(redacted)")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

/// Where signature nonces come from. Each signed request needs a fresh one;
/// tests inject a deterministic source.
pub trait NonceSource: Send + Sync {
    /// A new nonce: 1 to 128 printable ASCII characters, never repeated.
    fn nonce(&self) -> Result<String, SignError>;
}

/// 128 random bits from the operating system, as 32 lower-case hex digits.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> Result<String, SignError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)
            .map_err(|_| SignError::Nonce("the system random number generator failed".into()))?;
        Ok(hex::encode(b))
    }
}

impl<F: Fn() -> String + Send + Sync> NonceSource for F {
    fn nonce(&self) -> Result<String, SignError> {
        Ok(self())
    }
}

/// A request to sign.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// The API operation (`x-acs-action`), such as `Decrypt`.
    pub action: &'a str,
    /// The API version (`x-acs-version`).
    pub version: &'a str,
    /// The endpoint (`host`), with the port if it is not the scheme's default.
    pub host: &'a str,
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The resource path; `/` for RPC-style APIs.
    pub path: &'a str,
    /// Query parameters, decoded.
    pub query: &'a [(String, String)],
    /// Further headers to send, such as `content-type`; those that must be
    /// signed (`x-acs-*`, `content-type`) are signed. The headers the signer
    /// sets itself may not appear here.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// A signed request: send `headers` to `path?query`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The canonical URI: the path to send.
    pub path: String,
    /// The canonical query string: the query to send (empty for none).
    pub query: String,
    /// Every header to send: the extra headers given, then `host`,
    /// `x-acs-action`, `x-acs-version`, `x-acs-date`,
    /// `x-acs-signature-nonce`, `x-acs-content-sha256`, the security token if
    /// any, and `authorization`.
    pub headers: Vec<(String, String)>,
}

impl SignedRequest {
    /// `path` plus `?query` when there is a query.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The value of a header (the first, ignoring case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case(headers::SECURITY_TOKEN) {
                    (n.as_str(), "(redacted)")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("SignedRequest")
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &shown)
            .finish()
    }
}

/// Signs requests with one set of credentials.
pub struct Signer<C = SystemClock, N = RandomNonce> {
    credentials: Credentials,
    clock: C,
    nonces: N,
}

impl<C, N> fmt::Debug for Signer<C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer on the system clock with random nonces.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            clock: SystemClock,
            nonces: RandomNonce,
        }
    }
}

const RESERVED: [&str; 8] = [
    headers::HOST,
    headers::ACTION,
    headers::VERSION,
    headers::DATE,
    headers::NONCE,
    headers::CONTENT_SHA256,
    headers::SECURITY_TOKEN,
    headers::AUTHORIZATION,
];

fn invalid(what: &'static str, reason: &'static str) -> SignError {
    SignError::InvalidInput { what, reason }
}

fn visible_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(super::header::token_char)
}

impl<C: Clock, N: NonceSource> Signer<C, N> {
    /// Uses another clock (tests: a fixed one).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Signer<C2, N> {
        Signer {
            credentials: self.credentials,
            clock,
            nonces: self.nonces,
        }
    }

    /// Uses another nonce source (tests: a deterministic one).
    pub fn with_nonce_source<N2: NonceSource>(self, nonces: N2) -> Signer<C, N2> {
        Signer {
            credentials: self.credentials,
            clock: self.clock,
            nonces,
        }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Signs a request: the date is the clock's now, the nonce the source's
    /// next.
    pub fn sign(&self, req: &RequestToSign<'_>) -> Result<SignedRequest, SignError> {
        let method_ok = !req.method.is_empty()
            && req.method.len() <= 16
            && req.method.bytes().all(|b| b.is_ascii_uppercase());
        if !method_ok {
            return Err(invalid(
                "the method",
                "must be an upper-case HTTP method such as POST",
            ));
        }
        if !visible_ascii(req.host) {
            return Err(invalid(
                "the host",
                "must be non-empty printable ASCII without spaces",
            ));
        }
        if !visible_ascii(req.action) {
            return Err(invalid(
                "the action",
                "must be non-empty printable ASCII without spaces",
            ));
        }
        if !visible_ascii(req.version) {
            return Err(invalid(
                "the version",
                "must be non-empty printable ASCII without spaces",
            ));
        }
        for (name, value) in req.headers {
            if !header_name_ok(name) {
                return Err(invalid("a header name", "must be an HTTP token"));
            }
            if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                return Err(SignError::ReservedHeader(name.to_ascii_lowercase()));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(
                    "a header value",
                    "must not hold control characters",
                ));
            }
        }
        let token = match &self.credentials.security_token {
            Some(t) => Some(
                std::str::from_utf8(t.expose())
                    .ok()
                    .filter(|t| visible_ascii(t))
                    .ok_or(invalid("the security token", "must be printable ASCII"))?,
            ),
            None => None,
        };
        let nonce = self.nonces.nonce()?;
        if nonce.len() > MAX_NONCE_LEN || !visible_ascii(&nonce) {
            return Err(SignError::Nonce(
                "the nonce source gave a value that is not 1 to 128 printable ASCII characters"
                    .into(),
            ));
        }

        let content_sha256 = sha256_hex(req.body);
        let mut all: Vec<(String, String)> = req.headers.to_vec();
        all.push((headers::HOST.into(), req.host.into()));
        all.push((headers::ACTION.into(), req.action.into()));
        all.push((headers::VERSION.into(), req.version.into()));
        all.push((headers::DATE.into(), format_date(self.clock.now())));
        all.push((headers::NONCE.into(), nonce));
        all.push((headers::CONTENT_SHA256.into(), content_sha256.clone()));
        if let Some(token) = token {
            all.push((headers::SECURITY_TOKEN.into(), token.to_owned()));
        }

        let mut signed: Vec<String> = all
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .filter(|n| must_be_signed(n))
            .collect();
        signed.sort_unstable();
        signed.dedup();
        let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
        let canonical_headers = canonical_headers(&all, &signed_refs)
            .map_err(|_| invalid("a header value", "must not hold control characters"))?;

        let path = canonical_uri(req.path);
        let query = canonical_query_string(req.query);
        let canonical = CanonicalRequest::from_parts(
            req.method,
            &path,
            &query,
            &canonical_headers,
            &signed.join(";"),
            &content_sha256,
        );
        let signature = canonical.signature(self.credentials.secret.expose());
        let authorization =
            AuthorizationHeader::new(self.credentials.access_key_id.clone(), signed, signature);
        all.push((headers::AUTHORIZATION.into(), authorization.to_string()));
        Ok(SignedRequest {
            path,
            query,
            headers: all,
        })
    }
}
