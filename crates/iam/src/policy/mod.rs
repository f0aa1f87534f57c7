//! Policies: the documents, their evaluation against a request, trust
//! policies of roles, and the built-in system policies.

pub mod builtin;
pub mod condition;
pub mod context;
pub mod document;
pub mod evaluate;
mod ip;
mod parse;
pub mod trust;
mod wildcard;

use std::fmt;

/// A policy or trust-policy document that does not parse or breaks a rule of
/// the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// Where in the document, such as `Statement[1].Condition.IpAddress`;
    /// empty for the document as a whole.
    pub path: String,
    /// What is wrong, and what would be right.
    pub problem: String,
}

impl PolicyError {
    pub(crate) fn at(path: &str, problem: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid policy document: {}", self.problem)
        } else {
            write!(
                f,
                "invalid policy document at {}: {}",
                self.path, self.problem
            )
        }
    }
}
