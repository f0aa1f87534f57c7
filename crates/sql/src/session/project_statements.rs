//! CREATE PROJECT (without storage encryption; with it, see
//! `encryption_statements.rs`), DROP PROJECT, SHOW PROJECTS and USE.

use super::{SqlSession, text_rows};
use crate::{SqlError, StatementOutput};

impl SqlSession {
    pub(super) fn create_project(
        &self,
        name: &str,
        if_not_exists: bool,
    ) -> Result<StatementOutput, SqlError> {
        let owner = match &self.authorizer {
            Some(auth) => Some(auth.check_create_project(name, false)?),
            None => None,
        };
        let existed = self.catalog.project(name).is_ok();
        self.catalog.create_project(name, if_not_exists)?;
        if let (Some(owner), false) = (owner, existed) {
            self.catalog.claim_project(name, &owner)?;
        }
        Ok(StatementOutput::Done("OK".into()))
    }

    pub(super) fn drop_project(
        &self,
        name: &str,
        if_exists: bool,
    ) -> Result<StatementOutput, SqlError> {
        if sealhouse_storage::normalize_name("project", name)? == self.project {
            return Err(SqlError::plan(format!(
                "cannot drop project '{name}' while using it; USE another first"
            )));
        }
        if let Some(auth) = &self.authorizer
            && self.catalog.project(name).is_ok()
        {
            auth.check_drop_project(&self.catalog, name)?;
        }
        self.catalog.drop_project(name, if_exists)?;
        Ok(StatementOutput::Done("OK".into()))
    }

    /// The projects this session may see.
    pub(super) fn show_projects(&self) -> Result<StatementOutput, SqlError> {
        let mut rows = Vec::new();
        for p in self.catalog.projects()? {
            let visible = match &self.authorizer {
                Some(auth) => auth.can_see(&self.catalog, &p.name)?,
                None => true,
            };
            if visible {
                rows.push(vec![p.name]);
            }
        }
        text_rows(&["project"], rows)
    }

    /// Makes `project` the session's current project.
    pub(super) fn use_project(&mut self, project: &str) -> Result<StatementOutput, SqlError> {
        let project = self.catalog.project(project)?.name;
        if let Some(auth) = &self.authorizer
            && !auth.can_see(&self.catalog, &project)?
        {
            return Err(SqlError::denied(
                auth.principal_name(),
                "USE",
                &project,
                format!(
                    "{} may not use project {project}: it belongs to another account and they \
                     are not a member (its owner or an admin can run: ADD USER '{}')",
                    auth.principal_name(),
                    auth.principal_name()
                ),
            ));
        }
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .catalog
            .default_schema = project.clone();
        self.project = project;
        Ok(StatementOutput::Done("OK".into()))
    }
}
