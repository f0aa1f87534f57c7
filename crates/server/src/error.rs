//! Errors as PostgreSQL clients see them: a SQLSTATE code (so drivers can
//! tell a permission problem from a syntax error) and the warehouse's
//! message, which says what was wrong and what to do.

use pgwire::error::{ErrorInfo, PgWireError};
use sealhouse_sql::SqlError;

/// An error for the client.
#[derive(Debug)]
pub(crate) struct ClientError {
    /// SQLSTATE.
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ClientError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn syntax(message: String) -> Self {
        Self::new("42601", format!("syntax error: {message}"))
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::new("0A000", message)
    }

    /// The SQLSTATE comes from the error's kind (`SqlError::sqlstate`).
    pub(crate) fn from_sql(error: SqlError) -> Self {
        Self::new(error.sqlstate(), error.to_string())
    }

    pub(crate) fn into_info(self) -> ErrorInfo {
        ErrorInfo::new("ERROR".to_owned(), self.code.to_owned(), self.message)
    }

    pub(crate) fn into_pgwire(self) -> PgWireError {
        PgWireError::UserError(Box::new(self.into_info()))
    }
}
