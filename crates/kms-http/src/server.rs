//! The server: an axum router with `POST /` for the API's actions and
//! `GET /health` for load balancers.
//!
//! Each action request is read (at most [`MAX_BODY_BYTES`]), verified with
//! the identity service's [`Verifier`] (ACS3-HMAC-SHA256: signature, date
//! window, replay), and run as the verified principal with `acs:SourceIp`
//! set to the peer address, on a blocking thread (the KMS is synchronous and
//! fsyncs its audit log). Each request is logged with `tracing` (action,
//! principal, status, request id), never with parameters or results.
//!
//! Replays are refused across processes and restarts: nonces are recorded
//! in the identity store ([`sealhouse_iam::Iam`] is the verifier's
//! `NonceLedger`), and a request must be signed for a host this endpoint
//! answers to ([`ServeOptions::hosts`]), so one captured on its way to
//! another listener is refused here. With [`ServeOptions::tls`] the API is
//! served over TLS (rustls); without it, plain HTTP, for loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealhouse_iam::signing::{RequestParts, SignatureError, Verified, Verifier, canonical};
use sealhouse_iam::{Iam, RequestContext};
use sealhouse_kms::{ErrorCode, KmsError, KmsService};
use serde_json::Value;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::dispatch::dispatch;
use crate::sts;
use crate::wire::{API_VERSION, Action, ErrorBody};

/// The largest request body accepted: 64 KiB (the largest parameters, a
/// 6 KiB plaintext or a wrapped key, take under 9 KiB in base64).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The policy condition key the peer address is given as.
const SOURCE_IP: &str = "acs:SourceIp";

struct AppState {
    service: Arc<KmsService>,
    iam: Arc<Iam>,
    verifier: Verifier<Arc<Iam>>,
}

/// How the API is served.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// The `host` values (`name:port`, as clients sign them) requests must
    /// be signed for; `None` accepts any (tests and embedded use only).
    /// [`endpoint_hosts`] gives a listener's.
    pub hosts: Option<Vec<String>>,
    /// Serve over TLS with this configuration.
    pub tls: Option<Arc<ServerConfig>>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("hosts", &self.hosts)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The `host` values a listener on `addr` answers to: its address
/// (`127.0.0.1:9800`, `[::1]:9800`), `localhost:<port>` on loopback, and
/// each of `names` (a bare name means name:<port>, and the name alone for
/// clients on a default port). An unspecified address (`0.0.0.0`) has no
/// address clients sign for: it takes only `names`.
pub fn endpoint_hosts(addr: SocketAddr, names: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = Vec::new();
    if !addr.ip().is_unspecified() {
        hosts.push(match addr.ip() {
            IpAddr::V4(ip) => format!("{ip}:{port}"),
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        });
    }
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    for name in names {
        let has_port = name
            .rsplit_once(':')
            .is_some_and(|(host, p)| !host.ends_with(':') && p.parse::<u16>().is_ok());
        if has_port {
            hosts.push(name.clone());
        } else {
            hosts.push(format!("{name}:{port}"));
            hosts.push(name.clone());
        }
    }
    hosts
}

/// The router: `POST /` (signed actions) and `GET /health`. Serve it with
/// connection info (`into_make_service_with_connect_info::<SocketAddr>()`),
/// as [`serve`] does, so that `acs:SourceIp` is known. Nonces are recorded
/// in `iam`'s store.
pub fn router(service: Arc<KmsService>, iam: Arc<Iam>, hosts: Option<Vec<String>>) -> Router {
    let ledger: Arc<dyn sealhouse_iam::signing::NonceLedger> = Arc::clone(&iam) as _;
    let mut verifier = Verifier::new(Arc::clone(&iam)).with_nonce_ledger(ledger);
    if let Some(hosts) = hosts {
        verifier = verifier.with_hosts(hosts);
    }
    let state = Arc::new(AppState {
        service,
        iam,
        verifier,
    });
    Router::new()
        .route("/", post(action))
        .route("/health", get(health))
        .with_state(state)
}

/// Serves the API on `listener` until the listener fails. The address is the
/// caller's choice (the CLI listens on loopback by default).
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<KmsService>,
    iam: Arc<Iam>,
    options: ServeOptions,
) -> std::io::Result<()> {
    serve_until(listener, service, iam, options, std::future::pending()).await
}

/// [`serve`] until `stop` completes: then no new connections are taken.
/// Over plain HTTP, requests in progress finish first (axum's graceful
/// shutdown); over TLS the accept loop ends and connections end with the
/// runtime.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    service: Arc<KmsService>,
    iam: Arc<Iam>,
    options: ServeOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(service, iam, options.hosts);
    match options.tls {
        None => {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
        Some(config) => serve_tls(listener, app, TlsAcceptor::from(config), stop).await,
    }
}

/// Accepts connections, completes each TLS handshake on the connection's
/// own task (a slow client holds up no one) and serves HTTP/1.1 on it.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    acceptor: TlsAcceptor,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => return Ok(()),
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "kms: accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket));
            let stream = match handshake.await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "kms: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "kms: TLS handshake timed out");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "kms: connection ended with an error");
            }
        });
    }
}

/// How long a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn health() -> &'static str {
    "ok"
}

/// An error response.
fn error_response(status: u16, code: &str, message: String, request_id: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        code: code.to_owned(),
        message,
        request_id,
    };
    json_response(status, &serde_json::to_value(body).unwrap_or(Value::Null))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn kms_error_response(e: KmsError, request_id: String) -> Response {
    let request_id = e.request_id().map(str::to_owned).unwrap_or(request_id);
    error_response(
        e.code().http_status(),
        e.code().as_str(),
        e.message().to_owned(),
        request_id,
    )
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads the body, at most [`MAX_BODY_BYTES`].
async fn read_body(body: Body, headers: &HeaderMap) -> Result<Bytes, (u16, &'static str, String)> {
    let too_large = || {
        (
            413,
            "RequestTooLarge",
            format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes, the most this API \
                 accepts; Encrypt takes at most 6 KiB of plaintext: encrypt larger data under a \
                 data key from GenerateDataKey"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.to_string().contains("length limit") {
                    return too_large();
                }
                source = s.source();
            }
            (
                400,
                "InvalidParameter",
                "the request body could not be read completely".to_owned(),
            )
        })
}

async fn action(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    let body = match read_body(body, &parts.headers).await {
        Ok(b) => b,
        Err((status, code, message)) => {
            tracing::info!(status, code, request_id, "kms request refused");
            return error_response(status, code, message, request_id);
        }
    };
    let headers = header_pairs(&parts.headers);
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    // The credential lookup reads the identity store: a blocking call.
    let verifying = Arc::clone(&state);
    let signed_body = body.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let query = canonical::parse_query(&raw_query)?;
        verifying.verifier.verify(&RequestParts {
            method: &method,
            path: &path,
            query: &query,
            headers: &headers,
            body: &signed_body,
        })
    })
    .await;
    let verified = match verified {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return signature_error(&e, request_id),
        Err(_) => {
            tracing::error!(
                request_id,
                "kms request: the signature check did not complete"
            );
            return error_response(
                500,
                ErrorCode::InternalFailure.as_str(),
                "the signature check did not complete (its worker thread failed); retry".to_owned(),
                request_id,
            );
        }
    };
    let principal = verified.principal.to_string();
    let outcome = run_action(&state, verified, peer, &body, request_id).await;
    let request_id = outcome.request_id.as_str();
    match &outcome.code {
        None => tracing::info!(
            action = outcome.action,
            principal,
            status = outcome.status,
            request_id,
            "kms request"
        ),
        Some(code) if outcome.status >= 500 => tracing::error!(
            action = outcome.action,
            principal,
            status = outcome.status,
            code,
            request_id,
            "kms request failed"
        ),
        Some(code) => tracing::info!(
            action = outcome.action,
            principal,
            status = outcome.status,
            code,
            request_id,
            "kms request refused"
        ),
    }
    outcome.response
}

/// How an authenticated request ended, for the log.
struct Outcome {
    action: &'static str,
    /// The answer's RequestId (the audit log's when the KMS ran).
    request_id: String,
    status: u16,
    code: Option<String>,
    response: Response,
}

impl Outcome {
    fn error(action: &'static str, e: KmsError, request_id: String) -> Self {
        let request_id = e.request_id().map(str::to_owned).unwrap_or(request_id);
        Self {
            action,
            request_id: request_id.clone(),
            status: e.code().http_status(),
            code: Some(e.code().as_str().to_owned()),
            response: kms_error_response(e, request_id),
        }
    }
}

fn signature_error(e: &SignatureError, request_id: String) -> Response {
    if e.is_internal() {
        tracing::error!(code = e.code(), request_id, error = %e, "kms request: credential lookup failed");
    } else {
        tracing::info!(
            status = e.http_status(),
            code = e.code(),
            request_id,
            "kms request: signature refused"
        );
    }
    error_response(e.http_status(), e.code(), e.to_string(), request_id)
}

async fn run_action(
    state: &Arc<AppState>,
    verified: Verified,
    peer: Option<std::net::IpAddr>,
    body: &Bytes,
    request_id: String,
) -> Outcome {
    let Some(name) = verified.action.as_deref() else {
        let e = KmsError::new(
            ErrorCode::InvalidParameter,
            "the request has no x-acs-action header; name the operation, such as Decrypt, in              x-acs-action (signed)",
        );
        return Outcome::error("-", e, request_id);
    };
    let Some(action) = Action::parse(name) else {
        if name == sts::ASSUME_ROLE {
            return run_assume_role(state, verified, peer, body, request_id).await;
        }
        return Outcome {
            action: "-",
            request_id: request_id.clone(),
            status: 404,
            code: Some("InvalidAction.NotFound".to_owned()),
            response: error_response(
                404,
                "InvalidAction.NotFound",
                format!(
                    "the action {} is not an operation of this API; the operations are {}, {}",
                    printable(name),
                    Action::ALL
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    sts::ASSUME_ROLE
                ),
                request_id,
            ),
        };
    };
    if let Err(e) = check_version(&verified) {
        return Outcome::error(action.as_str(), e, request_id);
    }
    // Bytes clones share the buffer: the worker thread parses the body.
    let body = body.clone();
    let context = request_context(peer);
    let service = Arc::clone(&state.service);
    let principal = verified.principal;
    blocking_outcome(action.as_str(), request_id, move || {
        let handle = service.as_principal_with_context(principal, context);
        dispatch(&handle, action, &body)
    })
    .await
}

/// Runs `call` on tokio's blocking pool (the KMS and the identity store are
/// synchronous) and makes its answer the request's outcome: the answer's
/// `RequestId` (the audit log's, for a KMS call) when it has one.
async fn blocking_outcome(
    action: &'static str,
    request_id: String,
    call: impl FnOnce() -> Result<Value, KmsError> + Send + 'static,
) -> Outcome {
    match tokio::task::spawn_blocking(call).await {
        Ok(Ok(value)) => Outcome {
            action,
            request_id: value
                .get("RequestId")
                .and_then(Value::as_str)
                .map_or(request_id, str::to_owned),
            status: 200,
            code: None,
            response: json_response(StatusCode::OK, &value),
        },
        Ok(Err(e)) => Outcome::error(action, e, request_id),
        Err(_) => Outcome::error(
            action,
            KmsError::new(
                ErrorCode::InternalFailure,
                format!("the {action} call did not complete (its worker thread failed); retry"),
            ),
            request_id,
        ),
    }
}

/// The context a call is authorised in: the peer's address as
/// `acs:SourceIp`.
fn request_context(peer: Option<std::net::IpAddr>) -> RequestContext {
    let mut context = RequestContext::new();
    if let Some(ip) = peer {
        context.insert(SOURCE_IP, ip.to_string());
    }
    context
}

/// Refuses a request signed for another version of the API, or none.
fn check_version(verified: &Verified) -> Result<(), KmsError> {
    match verified.version.as_deref() {
        Some(API_VERSION) => Ok(()),
        Some(other) => Err(KmsError::new(
            ErrorCode::InvalidParameter,
            format!(
                "x-acs-version {} is not supported; use {API_VERSION}",
                printable(other)
            ),
        )),
        None => Err(KmsError::new(
            ErrorCode::InvalidParameter,
            format!("the request has no x-acs-version header; send {API_VERSION} (signed)"),
        )),
    }
}

/// AssumeRole for the signing principal ([`sts`]).
async fn run_assume_role(
    state: &Arc<AppState>,
    verified: Verified,
    peer: Option<std::net::IpAddr>,
    body: &Bytes,
    request_id: String,
) -> Outcome {
    if let Err(e) = check_version(&verified) {
        return Outcome::error(sts::ASSUME_ROLE, e, request_id);
    }
    let context = request_context(peer);
    let iam = Arc::clone(&state.iam);
    let body = body.clone();
    let id = request_id.clone();
    blocking_outcome(sts::ASSUME_ROLE, request_id, move || {
        sts::assume_role(&iam, &verified.principal, &context, &body, &id)
    })
    .await
}

/// A caller-supplied name (a header's value) for a message
/// ([`sealhouse_crypto::printable()`]).
fn printable(value: &str) -> String {
    sealhouse_crypto::printable(value, 64)
}
