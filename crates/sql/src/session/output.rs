//! What statements give back: rows or what they did, and where a script
//! stopped.

use crate::SqlError;
use crate::format::ResultSet;

/// What a statement gives back.
#[derive(Debug)]
pub enum StatementOutput {
    /// Rows to show.
    Rows(ResultSet),
    /// A statement without rows, and what it did.
    Done(String),
    /// An INSERT (or CREATE TABLE AS) that wrote this many rows.
    Written(u64),
}

impl StatementOutput {
    /// What a statement without rows says it did ("OK: 3 rows written").
    pub fn message(&self) -> Option<String> {
        match self {
            Self::Rows(_) => None,
            Self::Done(message) => Some(message.clone()),
            Self::Written(rows) => Some(format!("OK: {rows} rows written")),
        }
    }
}

/// A statement of a script that failed.
#[derive(Debug, thiserror::Error)]
#[error("statement at line {line} failed: {error}")]
pub struct ScriptError {
    /// The line the statement starts on.
    pub line: usize,
    /// Why it failed.
    pub error: SqlError,
}
