//! Errors as PostgreSQL clients see them: a SQLSTATE code (so drivers can
//! tell a permission problem from a syntax error) and the warehouse's
//! message, which says what was wrong and what to do.

use pgwire::error::{ErrorInfo, PgWireError};
use sealhouse_sql::SqlError;
use sealhouse_storage::StorageError;

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

    pub(crate) fn from_sql(error: SqlError) -> Self {
        let code = match &error {
            SqlError::Syntax(_) => "42601",
            SqlError::AccessDenied(_) => "42501",
            // DataFusion's "table 'p.t' not found" arrives as a planning error.
            SqlError::Plan(m) if m.contains("table") && m.contains("not found") => "42P01",
            SqlError::Plan(_) => "42000",
            SqlError::TooComplex(_) => "54001",
            SqlError::OutOfMemory(_) => "53200",
            SqlError::Storage(StorageError::ProjectNotFound(_)) => "3F000",
            SqlError::Storage(StorageError::TableNotFound { .. }) => "42P01",
            SqlError::Storage(
                StorageError::ProjectExists(_) | StorageError::TableExists { .. },
            ) => "42P07",
            SqlError::Storage(StorageError::InvalidName { .. } | StorageError::ReservedName(_)) => {
                "42602"
            }
            // PostgreSQL's unrecognized configuration parameter / invalid value.
            SqlError::Storage(StorageError::InvalidSetting(_)) => "42704",
            _ => "XX000",
        };
        Self::new(code, error.to_string())
    }

    pub(crate) fn into_info(self) -> ErrorInfo {
        ErrorInfo::new("ERROR".to_owned(), self.code.to_owned(), self.message)
    }

    pub(crate) fn into_pgwire(self) -> PgWireError {
        PgWireError::UserError(Box::new(self.into_info()))
    }
}
