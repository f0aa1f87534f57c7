//! Access control: every statement is authorised, once, before it runs.
//!
//! - `privilege.rs`: the privileges (SELECT, INSERT, ...) and their RAM actions;
//! - `resource.rs`: the ARNs of projects and tables;
//! - `authorizer.rs`: the decision (roots of authority, RAM policies, the
//!   project's roles and grants) and the encryption-aware project checks;
//! - `plan_tables.rs`: what a planned query or INSERT reads and writes;
//! - `acl_statement.rs` / `acl_commands.rs`: ADD USER, CREATE ROLE, GRANT,
//!   REVOKE, SHOW GRANTS and the rest.
//!
//! The rules are documented in docs/access-control.md.

mod acl_commands;
mod acl_statement;
mod authorizer;
mod plan_tables;
mod privilege;
mod resource;

pub(crate) use acl_commands::{AclOutput, run as run_acl};
pub(crate) use acl_statement::{AclStatement, parse as parse_acl};
pub(crate) use authorizer::Authorizer;
pub(crate) use plan_tables::{Need, table_needs};
pub(crate) use privilege::Privilege;
