//! [`Session`]: a [`SqlSession`] driven from synchronous test code, the one
//! wrapper the fixtures build on (they add what is theirs by `Deref`).

use sealhouse_sql::format::ResultSet;
use sealhouse_sql::{SqlError, SqlSession, StatementOutput};

pub struct Session {
    /// The world's runtime, which outlives its sessions.
    runtime: tokio::runtime::Handle,
    pub warehouse: SqlSession,
}

impl Session {
    pub fn new(runtime: &tokio::runtime::Runtime, warehouse: SqlSession) -> Self {
        Self {
            runtime: runtime.handle().clone(),
            warehouse,
        }
    }

    /// The statement's outcome, its error as its kind.
    pub fn try_typed(&mut self, sql: &str) -> Result<StatementOutput, SqlError> {
        self.runtime.block_on(self.warehouse.execute(sql))
    }

    /// The output of a statement that must succeed.
    pub fn sql(&mut self, sql: &str) -> StatementOutput {
        self.try_typed(sql)
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
    }

    /// The statement's outcome, its error as its message.
    pub fn try_sql(&mut self, sql: &str) -> Result<StatementOutput, String> {
        self.try_typed(sql).map_err(|e| e.to_string())
    }

    /// Runs a statement that must succeed; its message (empty for rows).
    pub fn ok(&mut self, sql: &str) -> String {
        match self.try_sql(sql) {
            Ok(output) => output.message().unwrap_or_default(),
            Err(e) => panic!("{sql}\nfailed: {e}"),
        }
    }

    /// The rows of a query that must succeed.
    pub fn rows(&mut self, sql: &str) -> ResultSet {
        match self.try_sql(sql) {
            Ok(StatementOutput::Rows(r)) => r,
            Ok(other) => panic!("{sql}: no rows: {:?}", other.message()),
            Err(e) => panic!("{sql}\nfailed: {e}"),
        }
    }

    /// The message of a statement that must fail.
    pub fn error(&mut self, sql: &str) -> String {
        self.typed_error(sql).to_string()
    }

    /// The error of a statement that must fail, as its kind (for its SQLSTATE).
    pub fn typed_error(&mut self, sql: &str) -> SqlError {
        match self.try_typed(sql) {
            Ok(_) => panic!("{sql} unexpectedly succeeded"),
            Err(e) => e,
        }
    }

    /// The outputs of a script that must succeed.
    pub fn script(&mut self, script: &str) -> Vec<StatementOutput> {
        let mut outputs = Vec::new();
        self.runtime
            .block_on(self.warehouse.run_script(script, |_, o| outputs.push(o)))
            .unwrap_or_else(|e| panic!("script failed: {e}"));
        outputs
    }
}

/// A session in a test world, which adds its own helpers (`impl
/// WorldSession<'_, World>`) beside the session's.
pub struct WorldSession<'w, W> {
    pub world: &'w W,
    session: Session,
}

impl<'w, W> WorldSession<'w, W> {
    pub fn new(world: &'w W, session: Session) -> Self {
        Self { world, session }
    }
}

impl<W> std::ops::Deref for WorldSession<'_, W> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<W> std::ops::DerefMut for WorldSession<'_, W> {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}
