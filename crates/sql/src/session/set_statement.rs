//! SET: a session's settings. DataFusion's own options change its planning
//! and execution; other keys (the original service's `odps.*` flags) are
//! kept for SET to list and change nothing.

use super::{SqlSession, text_rows};
use crate::{SqlError, StatementOutput};

/// The DataFusion options a session with an identity may set: execution
/// and optimizer tuning. Others (information_schema, parser settings) would
/// show or name what authorisation hides.
const TUNABLE: [&str; 3] = [
    "datafusion.execution.",
    "datafusion.optimizer.",
    "datafusion.explain.",
];

impl SqlSession {
    /// `SET` alone: every setting made in this session.
    pub(super) fn show_set(&self) -> Result<StatementOutput, SqlError> {
        let rows = self
            .settings
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        text_rows(&["key", "value"], rows)
    }

    /// `SET key = value`.
    pub(super) fn set(&mut self, key: String, value: String) -> Result<StatementOutput, SqlError> {
        if key.starts_with("datafusion.") {
            if self.authorizer.is_some() && !TUNABLE.iter().any(|t| key.starts_with(t)) {
                return Err(SqlError::unsupported(format!(
                    "SET {key} is not allowed; sessions may set datafusion.execution.*, \
                     datafusion.optimizer.* and datafusion.explain.*"
                )));
            }
            self.ctx
                .state_ref()
                .write()
                .config_mut()
                .options_mut()
                .set(&key, &value)?;
        }
        self.settings.insert(key, value);
        Ok(StatementOutput::Done("OK".into()))
    }
}
