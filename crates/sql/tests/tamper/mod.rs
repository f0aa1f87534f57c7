#![allow(dead_code, unreachable_pub)]

//! The tamper suite's bookkeeping: what each query gave, and the table of
//! cases and outcomes it prints.

/// What one query gave against the untampered answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An error: the tampering was detected.
    Refused,
    /// The untampered rows (the bytes changed were not read, or not used).
    Same,
    /// Other rows without an error: the failure this suite exists for.
    WrongRows,
}

pub fn outcome(got: &Result<String, String>, expected: &str) -> Outcome {
    match got {
        Err(_) => Outcome::Refused,
        Ok(rows) if rows == expected => Outcome::Same,
        Ok(_) => Outcome::WrongRows,
    }
}

/// Every case tried, as printed lines, and the tally of outcomes.
#[derive(Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub wrong: Vec<String>,
    pub refused: usize,
    pub same: usize,
}

impl Report {
    pub fn record(
        &mut self,
        setting: &str,
        case: &str,
        scan: Outcome,
        count: Outcome,
        detail: &str,
    ) {
        for (query, o) in [("scan", scan), ("count", count)] {
            match o {
                Outcome::Refused => self.refused += 1,
                Outcome::Same => self.same += 1,
                Outcome::WrongRows => self
                    .wrong
                    .push(format!("{setting} / {case} / {query}: {detail}")),
            }
        }
        self.lines.push(format!(
            "{setting:<15} {case:<34} {:<9} {:<9} {}",
            format!("{scan:?}"),
            format!("{count:?}"),
            detail.chars().take(400).collect::<String>()
        ));
    }
}
