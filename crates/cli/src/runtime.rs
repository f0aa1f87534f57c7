//! The threads commands run on: every thread that parses, plans or runs a
//! statement gets the stack [`STATEMENT_STACK_BYTES`] that statements of
//! the deepest allowed nesting need (sealhouse_sql::nesting says why), so a
//! deep statement is refused with an error instead of overflowing a stack,
//! which would abort the process (and a server with every session in it).

use std::process::ExitCode;

use anyhow::{Context, Result};
use sealhouse_sql::nesting::STATEMENT_STACK_BYTES;
use tokio::runtime::Runtime;

/// A multi-threaded runtime whose workers (and blocking threads) have
/// statement-sized stacks; `what` names it in the error if it cannot start.
pub(crate) fn build(what: &str) -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STATEMENT_STACK_BYTES)
        .build()
        .with_context(|| format!("starting the {what} runtime"))
}

/// Runs `command` on a thread with a statement-sized stack: `block_on`
/// polls its future on the calling thread, so the main thread's 8 MiB
/// would otherwise bound the CLI's statements. A panic has already been
/// reported by the panic hook; it ends the command with a failure.
pub(crate) fn on_statement_thread(command: impl FnOnce() -> ExitCode + Send + 'static) -> ExitCode {
    let thread = std::thread::Builder::new()
        .name("sealhouse".to_owned())
        .stack_size(STATEMENT_STACK_BYTES)
        .spawn(command);
    match thread {
        Ok(handle) => handle.join().unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            eprintln!("error: starting the command's thread: {e}");
            ExitCode::FAILURE
        }
    }
}
