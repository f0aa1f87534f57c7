//! Graceful shutdown of the servers: SIGTERM (what service managers and
//! container runtimes send) or SIGINT (Ctrl-C) stops taking connections;
//! statements already running finish, within a grace period, before the
//! process exits.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

/// How long running statements get to finish after the signal.
pub(crate) const GRACE: Duration = Duration::from_secs(30);

/// Waits for SIGTERM or SIGINT. The handlers are installed when this is
/// called, so call it before serving.
pub(crate) fn terminated() -> Result<impl Future<Output = &'static str>> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}
