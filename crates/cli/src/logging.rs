//! The servers' log: one JSON object per line on standard error, so that
//! log tools can read it (`sealhouse::connection` and
//! `sealhouse::statement` events: who, what kind, how long, how many rows,
//! the outcome; never a statement's text or a value). `$SEALHOUSE_LOG`
//! filters it as `RUST_LOG` does (default `info`; `off` silences it).
//! Libraries that log through the `log` crate (Ballista, in the cluster
//! processes) join it as events of their own targets.

use tracing_subscriber::EnvFilter;

/// The variable that filters the log.
const LOG_ENV: &str = "SEALHOUSE_LOG";

/// Starts logging for a server command. A bad filter falls back to the
/// default and says so.
pub(crate) fn init() {
    let filter = match std::env::var(LOG_ENV) {
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("sealhouse: ${LOG_ENV}={spec:?} is not a log filter ({e}); logging at info");
            EnvFilter::new("info")
        }),
        Err(_) => EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
