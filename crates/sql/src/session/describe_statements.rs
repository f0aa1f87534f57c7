//! SHOW TABLES and DESC: what a project holds and what a table's columns
//! are, for a session allowed to list or describe them.

use super::{SqlSession, text_rows};
use crate::access::Privilege;
use crate::{SqlError, StatementOutput};

impl SqlSession {
    /// The tables of `project` (the current one when `None`).
    pub(super) fn show_tables(&self, project: Option<String>) -> Result<StatementOutput, SqlError> {
        let project = project.unwrap_or_else(|| self.project.clone());
        if let Some(auth) = &self.authorizer {
            self.catalog.project(&project)?;
            auth.check(&self.catalog, &project, None, Privilege::List)?;
        }
        let rows = self
            .catalog
            .tables(&project)?
            .into_iter()
            .map(|t| vec![t.name])
            .collect();
        text_rows(&["table"], rows)
    }

    /// The columns of `table` (`project.table`, or a table of the current
    /// project) and their types.
    pub(super) fn describe_table(&self, table: String) -> Result<StatementOutput, SqlError> {
        let (project, name) = match table.split_once('.') {
            Some((p, t)) => (p.to_owned(), t.to_owned()),
            None => (self.project.clone(), table),
        };
        let info = self.table_allowed(&project, &name, Privilege::Describe)?;
        let rows = info
            .columns
            .iter()
            .map(|(n, t)| vec![n.clone(), t.to_string()])
            .collect();
        text_rows(&["column", "type"], rows)
    }
}
