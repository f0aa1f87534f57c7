//! One line per statement in the server's log: who, what kind, how long,
//! how many rows, and the outcome. Never the statement's text or any value:
//! those can hold keysets and the data they protect.
//!
//! A streamed query's line is written when its rows have been sent (or the
//! client went away), so its duration and row count are the whole
//! statement's.

use std::time::Instant;

/// A statement whose line is written when it is dropped.
pub(crate) struct StatementLog {
    principal: String,
    kind: &'static str,
    started: Instant,
    rows: Option<u64>,
    /// "ok", or the SQLSTATE it failed with.
    outcome: String,
    /// For a query or INSERT: "reused" when it ran the plan its session
    /// kept at an earlier execution (`sealhouse_sql`'s `kept_plans`),
    /// "planned" when it was planned.
    plan: Option<&'static str>,
}

impl StatementLog {
    pub(crate) fn new(principal: String, kind: &'static str, started: Instant) -> Self {
        Self {
            principal,
            kind,
            started,
            rows: None,
            outcome: "ok".to_owned(),
            plan: None,
        }
    }

    /// Records how the statement's plan was had.
    pub(crate) fn plan(&mut self, plan: Option<&'static str>) {
        self.plan = plan;
    }

    /// Counts rows sent.
    pub(crate) fn add_rows(&mut self, rows: u64) {
        *self.rows.get_or_insert(0) += rows;
    }

    /// Records the outcome: the SQLSTATE of the error it failed with.
    pub(crate) fn failed(&mut self, code: &str) {
        code.clone_into(&mut self.outcome);
    }
}

impl Drop for StatementLog {
    fn drop(&mut self) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let (principal, kind, rows) = (&self.principal, self.kind, self.rows);
        let (outcome, plan) = (self.outcome.as_str(), self.plan);
        tracing::info!(target: "sealhouse::statement", %principal, kind, duration_ms, rows, outcome, plan, "statement");
    }
}
