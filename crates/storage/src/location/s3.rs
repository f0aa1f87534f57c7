//! The S3 client of a bucket location: `object_store`'s `AmazonS3`, set up
//! with the settings S3 tools read from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`, ...: [`S3Settings`]), with bounded retries and timeouts so that a wrong
//! endpoint or a stopped server gives an error, never a hang. Its HTTP
//! requests run on a runtime of its own ([`IoRuntime`]), so the store works
//! the same from a query's runtime, a synchronous catalog call, or a
//! process's fresh runtime that ends before the store does.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::SpawnedReqwestConnector;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use crate::StorageError;

/// How often a failed request is tried again, and for how long at most.
const RETRIES: usize = 3;
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);
/// Unless the environment says otherwise.
const CONNECT_TIMEOUT: &str = "5s";
const REQUEST_TIMEOUT: &str = "60s";

/// How to reach an S3-compatible store: `AWS_*` settings by their
/// environment names. Printing shows the names, never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings(Vec<(String, String)>);

impl S3Settings {
    /// The process's `AWS_*` environment variables.
    pub fn from_env() -> Self {
        Self(
            std::env::vars()
                .filter(|(name, _)| name.starts_with("AWS_"))
                .collect(),
        )
    }

    /// These settings with `name` (an environment name, `AWS_REGION`) set to
    /// `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value.into()));
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// A runtime for object-store I/O, shut down without waiting when dropped
/// (a drop inside another runtime must not block it).
pub(crate) struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    fn new() -> std::io::Result<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sealhouse-s3")
            .enable_all()
            .build()
            .map(|rt| Self(Some(rt)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle(),
            None => unreachable!("the runtime is only taken when dropped"),
        }
    }

    /// Runs `work` on this runtime and waits for it, from any thread (a
    /// synchronous caller, or a task of another runtime, whose thread it
    /// blocks as a file system call would). `None` if the work panicked.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().ok()
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The client of `bucket`, and the runtime its requests run on. `url` (the
/// location's) is named in errors.
pub(super) fn client(
    bucket: &str,
    url: &str,
    settings: &S3Settings,
) -> Result<(Arc<dyn ObjectStore>, Arc<IoRuntime>), StorageError> {
    let failed = |what: String| StorageError::ObjectStore {
        url: url.to_owned(),
        what,
    };
    check_credentials_given(settings).map_err(failed)?;
    let io = IoRuntime::new().map_err(|e| failed(format!("cannot start its I/O threads: {e}")))?;
    let mut builder = AmazonS3Builder::new();
    for (name, value) in &settings.0 {
        // Names object_store does not know (AWS_PROFILE, ...) are left to
        // other tools, as AmazonS3Builder::from_env leaves them.
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let mut builder = builder
        .with_bucket_name(bucket)
        .with_http_connector(SpawnedReqwestConnector::new(io.handle().clone()))
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: RETRIES,
            retry_timeout: RETRY_TIMEOUT,
        });
    for (key, env, default) in [
        (
            ClientConfigKey::ConnectTimeout,
            "AWS_CONNECT_TIMEOUT",
            CONNECT_TIMEOUT,
        ),
        (ClientConfigKey::Timeout, "AWS_TIMEOUT", REQUEST_TIMEOUT),
    ] {
        if settings.get(env).is_none() {
            builder = builder.with_config(AmazonS3ConfigKey::Client(key), default);
        }
    }
    let store = builder
        .build()
        .map_err(|e| failed(format!("cannot be set up from the environment: {e}")))?;
    Ok((Arc::new(store), Arc::new(io)))
}

/// Refuses to go looking for credentials (the instance metadata service of
/// a cloud VM, which elsewhere only times out) when none are configured.
fn check_credentials_given(settings: &S3Settings) -> Result<(), String> {
    let set = |name: &str| settings.get(name).is_some();
    let skip_signature = settings.get("AWS_SKIP_SIGNATURE") == Some("true");
    match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        (true, true) => Ok(()),
        (true, false) => Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both".into()),
        (false, true) => Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both".into()),
        (false, false)
            if skip_signature
                || set("AWS_WEB_IDENTITY_TOKEN_FILE")
                || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                || set("AWS_CONTAINER_CREDENTIALS_FULL_URI") =>
        {
            Ok(())
        }
        (false, false) => Err(
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL, AWS_REGION for a store other than AWS S3)".into(),
        ),
    }
}
