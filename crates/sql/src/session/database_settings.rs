//! Database settings (spec 004): `ALTER DATABASE p SET name = value`,
//! `... RESET name`, and `SHOW name`. A PostgreSQL database is a project
//! here, so the settings are the project's, kept (sealed) in the catalog;
//! changing one needs the project's Super_Administrator authority, reading
//! one needs the project's List privilege.

use sealhouse_storage::DatabaseSetting;

use super::{SqlSession, StatementOutput, text_rows};
use crate::SqlError;
use crate::access::Privilege;

impl SqlSession {
    /// `ALTER DATABASE project SET setting = value` (`None`: RESET).
    pub(super) fn alter_database(
        &self,
        project: &str,
        setting: DatabaseSetting,
        value: Option<&str>,
    ) -> Result<StatementOutput, SqlError> {
        let info = self.catalog.project(project)?;
        if let Some(auth) = &self.authorizer {
            auth.require_super_administrator(&self.catalog, &info.name, "change its settings")?;
        }
        let stored = self
            .catalog
            .set_database_setting(&info.name, setting, value)?;
        Ok(StatementOutput::Done(format!(
            "OK: {} of database {} is {stored}",
            setting.name(),
            info.name
        )))
    }

    /// `SHOW setting`: the current project's value.
    pub(super) fn show_setting(
        &self,
        setting: DatabaseSetting,
    ) -> Result<StatementOutput, SqlError> {
        let value = self.database_setting(setting)?;
        text_rows(&[setting.name()], vec![vec![value]])
    }

    /// The current project's value of `setting`, for a caller allowed to
    /// list the project.
    pub fn database_setting(&self, setting: DatabaseSetting) -> Result<String, SqlError> {
        let info = self.catalog.project(&self.project)?;
        if let Some(auth) = &self.authorizer {
            auth.check(&self.catalog, &info.name, None, Privilege::List)?;
        }
        Ok(info.setting(setting))
    }
}
