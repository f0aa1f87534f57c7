//! Sealhouse SQL: a DataFusion session over Sealhouse storage, with the
//! encryption functions, the script mode of the original service, and the
//! result formats of its console.
//!
//! [`SqlSession`] is the entry point: open a data directory, run statements
//! or scripts, print results with [`format::write_rows`].

#![forbid(unsafe_code)]

mod access;
mod column_names;
mod error;
mod field_access;
pub mod format;
mod functions;
pub mod fuzzing;
pub mod nesting;
mod own_statements;
pub mod script;
mod sealed_keysets;
mod session;
mod tables;
mod wrapped;

pub use error::{Denial, ObjectKind, SqlError};
pub use functions::{cluster_functions, own_function_names};
pub use sealed_keysets::{KeysetSealer, KeysetUnsealer};
pub use session::{
    BoundPlan, PlanOutput, RemoteExecution, RowStream, ScriptError, SqlSession, StatementOutput,
};
pub use wrapped::IdentityServices;
