//! The error a statement fails with: what kind of failure it is (so a
//! PostgreSQL client gets the right SQLSTATE, see [`SqlError::sqlstate`]) and
//! one message that says what was wrong and what to do.
//!
//! Errors raised inside DataFusion (by the encryption functions, by table
//! scans) travel as `DataFusionError::External` holding a `SqlError` or a
//! `StorageError`, and come back out typed (`from_datafusion.rs`): nothing
//! downstream decides a kind by reading a message.

use std::fmt;

use sealhouse_kms::ErrorCode;
use sealhouse_storage::StorageError;
use sealhouse_storage::encryption::setup::SetupError;

mod from_datafusion;
mod sqlstate;

/// Why a statement failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The text does not parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// The statement names something that does not exist.
    #[error("{message}")]
    NotFound {
        /// What kind of thing.
        kind: ObjectKind,
        /// Which one, and where to look for the right name.
        message: String,
    },
    /// The statement would make something that exists already.
    #[error("{message}")]
    Duplicate {
        /// What kind of thing.
        kind: ObjectKind,
        /// Which one, and what to do instead.
        message: String,
    },
    /// The statement parses but cannot be planned: wrong argument types, a
    /// statement out of place, a rule of the warehouse it breaks.
    #[error("{0}")]
    Plan(String),
    /// A statement or feature Sealhouse does not support (here, or in this
    /// kind of session); says what to use instead.
    #[error("{0}")]
    Unsupported(String),
    /// A value the statement passed that a function or setting refuses (a
    /// malformed keyset, an unknown algorithm, text that is not hex).
    #[error("{0}")]
    InvalidInput(String),
    /// The session's identity may not do this.
    #[error("access denied: {}", .0.message)]
    AccessDenied(Box<Denial>),
    /// The KMS refused or failed, with the KMS's own error code.
    #[error("{message}")]
    Kms {
        /// The KMS's code (`Rejected.Disabled`, `Forbidden.NoPermission`, ...).
        code: ErrorCode,
        /// Which key, in which state, as whom, and what to do.
        message: String,
    },
    /// A ciphertext did not decrypt: wrong key or AAD, or modified. Says
    /// nothing more (no oracle).
    #[error("{0}")]
    DecryptionFailed(String),
    /// Execution failed for a reason none of the other kinds names.
    #[error("{0}")]
    Execution(String),
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

/// The kinds of named things a statement can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A project (a schema).
    Project,
    /// A table.
    Table,
    /// A column of a table or of a query.
    Column,
    /// A function.
    Function,
    /// A project role.
    Role,
    /// A user (a principal, as a member of a project).
    User,
    /// A script variable (`@name`).
    Variable,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Project => "project",
            Self::Table => "table",
            Self::Column => "column",
            Self::Function => "function",
            Self::Role => "role",
            Self::User => "user",
            Self::Variable => "variable",
        })
    }
}

/// A refusal: who was refused what, on which resource, and the sentence
/// that says why and what would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The principal refused (an ARN, or a user name as grants name it).
    pub principal: String,
    /// What it asked to do (a RAM action such as `odps:Select`, or a
    /// statement such as `USE`).
    pub action: String,
    /// What it asked to do it on (an ARN or a project / table name).
    pub resource: String,
    /// The whole explanation shown to the user.
    pub message: String,
}

impl SqlError {
    pub(crate) fn syntax(message: impl Into<String>) -> Self {
        Self::Syntax(message.into())
    }

    pub(crate) fn plan(message: impl Into<String>) -> Self {
        Self::Plan(message.into())
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }

    pub(crate) fn not_found(kind: ObjectKind, message: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn denied(
        principal: impl fmt::Display,
        action: impl Into<String>,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::AccessDenied(Box::new(Denial {
            principal: principal.to_string(),
            action: action.into(),
            resource: resource.into(),
            message: message.into(),
        }))
    }

    /// The error of a statement that panicked, from the panic's payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a panic without a message");
        Self::Internal(from_datafusion::clean(message))
    }
}

impl From<SetupError> for SqlError {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::Invalid(m) => Self::InvalidInput(m),
            SetupError::Denied {
                principal,
                action,
                resource,
                message,
            } => Self::AccessDenied(Box::new(Denial {
                principal,
                action,
                resource,
                message,
            })),
            SetupError::Kms { code, message } => Self::Kms { code, message },
            SetupError::Failed(m) => Self::Execution(m),
        }
    }
}
