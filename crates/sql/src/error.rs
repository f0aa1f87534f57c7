//! The error a statement fails with: one message that says what was wrong.

use datafusion::error::DataFusionError;
use sealhouse_storage::StorageError;
use sealhouse_storage::encryption::setup::SetupError;

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The text does not parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// The statement parses but cannot be planned: unknown table, column or
    /// function, wrong argument types, unsupported statement.
    #[error("{0}")]
    Plan(String),
    /// Execution failed: a function refused a value, a file could not be read.
    #[error("{0}")]
    Execution(String),
    /// The session's identity may not do this: names the principal, the
    /// action and the resource, and what would allow it.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The catalog or a data file failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The statement nests deeper than Sealhouse plans (PostgreSQL's
    /// "statement too complex"); says how to write it instead.
    #[error("{0}")]
    TooComplex(String),
    /// The statement needed more memory than the session may use; names
    /// the limit and how to need less.
    #[error(
        "the statement needs more memory than this session may use ({0}); filter or aggregate \
         before sorting or joining, select fewer columns, or ask the operator for a higher \
         limit (sealhouse serve --session-memory-limit)"
    )]
    OutOfMemory(String),
    /// Sealhouse itself failed (a panic, contained to the statement): a bug
    /// to report, not something the statement's author did wrong.
    #[error(
        "internal error: {0}; the statement was stopped and the session goes on (please report this)"
    )]
    Internal(String),
}

impl SqlError {
    pub(crate) fn syntax(message: impl Into<String>) -> Self {
        Self::Syntax(message.into())
    }

    pub(crate) fn plan(message: impl Into<String>) -> Self {
        Self::Plan(message.into())
    }

    /// The error of a statement that panicked, from the panic's payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a panic without a message");
        Self::Internal(clean(message))
    }
}

impl From<SetupError> for SqlError {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::Invalid(m) => Self::Plan(m),
            SetupError::Denied(m) => Self::AccessDenied(m),
            SetupError::Failed(m) => Self::Execution(m),
        }
    }
}

impl From<DataFusionError> for SqlError {
    fn from(error: DataFusionError) -> Self {
        // DataFusion wraps errors in context layers; the innermost one says
        // what actually went wrong.
        match error.find_root() {
            DataFusionError::SQL(parser, _) => {
                Self::Syntax(parser.to_string().replace("sql parser error: ", ""))
            }
            DataFusionError::Plan(m) => Self::Plan(clean(m)),
            DataFusionError::SchemaError(e, _) => Self::Plan(e.to_string()),
            DataFusionError::Execution(m) => Self::Execution(clean(m)),
            DataFusionError::External(e) => Self::Execution(e.to_string()),
            DataFusionError::NotImplemented(m) => {
                Self::Plan(format!("not supported: {}", clean(m)))
            }
            DataFusionError::ResourcesExhausted(m) => Self::OutOfMemory(clean(m)),
            other => Self::Execution(clean(&other.to_string())),
        }
    }
}

/// Drops DataFusion's internal hints (backtraces, "This issue was likely
/// caused by a bug in DataFusion" boilerplate) from a message.
fn clean(message: &str) -> String {
    message
        .split("\n\nThis issue")
        .next()
        .unwrap_or(message)
        .trim()
        .to_owned()
}
