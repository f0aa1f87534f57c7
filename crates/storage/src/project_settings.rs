//! A project's database settings (`ALTER DATABASE p SET name = value`):
//! defaults for the sessions that open the project, kept in the project's
//! properties so they are sealed with it like its storage encryption.
//!
//! Only settings Sealhouse knows are kept (a typo is an error, not a value
//! that silently does nothing); each is normalised as it is stored.

use crate::catalog::properties_object;
use crate::names::normalize_name;
use crate::{Catalog, ProjectInfo, StorageError};

/// Where the settings live in a project's properties.
const PROPERTY: &str = "database_settings";

/// A setting a project can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseSetting {
    /// `hg_experimental_enable_access_odps_orc_via_holo` (spec 004): `true`,
    /// the default, keeps an external engine on its direct read path, which
    /// cannot read storage-encrypted files; `false` lets it read them with
    /// the keys its own role may use.
    ExternalDirectRead,
}

impl DatabaseSetting {
    /// Every setting, for errors and listings.
    pub const ALL: [Self; 1] = [Self::ExternalDirectRead];

    /// The setting named `name` (any case).
    pub fn named(name: &str) -> Result<Self, StorageError> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                StorageError::InvalidSetting(format!(
                    "'{name}' is not a database setting Sealhouse knows; the settings are: {}",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }

    /// Its name, as SET and SHOW write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ExternalDirectRead => "hg_experimental_enable_access_odps_orc_via_holo",
        }
    }

    /// Its value when the project sets none.
    pub fn default_value(self) -> &'static str {
        match self {
            Self::ExternalDirectRead => "true",
        }
    }

    /// `value` as stored, or why it is not one this setting takes.
    pub fn normalize(self, value: &str) -> Result<String, StorageError> {
        match self {
            Self::ExternalDirectRead => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "1" | "yes" => Ok("true".to_owned()),
                "false" | "off" | "0" | "no" => Ok("false".to_owned()),
                _ => Err(StorageError::InvalidSetting(format!(
                    "{} takes true or false, not '{value}'",
                    self.name()
                ))),
            },
        }
    }
}

impl ProjectInfo {
    /// The project's value of `setting` (its default unless set).
    pub fn setting(&self, setting: DatabaseSetting) -> String {
        self.properties
            .get(PROPERTY)
            .and_then(|s| s.get(setting.name()))
            .and_then(|v| v.as_str())
            .unwrap_or(setting.default_value())
            .to_owned()
    }
}

impl Catalog {
    /// Sets `setting` of project `name` to `value`, or back to its default
    /// (`None`); the value is normalised first. Returns what was stored.
    pub fn set_database_setting(
        &self,
        name: &str,
        setting: DatabaseSetting,
        value: Option<&str>,
    ) -> Result<String, StorageError> {
        let name = normalize_name("project", name)?;
        let value = value.map(|v| setting.normalize(v)).transpose()?;
        self.change_properties(&name, |properties| {
            let settings = properties_object(&name, properties)?
                .entry(PROPERTY)
                .or_insert_with(|| serde_json::json!({}));
            let settings = settings.as_object_mut().ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "database settings of project '{name}' are not an object"
                ))
            })?;
            match &value {
                Some(v) => settings.insert(setting.name().to_owned(), v.clone().into()),
                None => settings.remove(setting.name()),
            };
            Ok(())
        })?;
        Ok(value.unwrap_or_else(|| setting.default_value().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::CatalogKey;
    use sealhouse_crypto::SecretBytes;

    #[test]
    fn a_setting_is_kept_sealed_and_reset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = || CatalogKey::new(&SecretBytes::from_slice(&[3; 32])).expect("key");
        let catalog = Catalog::open(dir.path(), key()).expect("open");
        catalog.create_project("p", false).expect("create");
        let s = DatabaseSetting::named("HG_EXPERIMENTAL_ENABLE_ACCESS_ODPS_ORC_VIA_HOLO")
            .expect("known");
        assert_eq!(catalog.project("p").expect("p").setting(s), "true");
        assert_eq!(
            catalog
                .set_database_setting("p", s, Some("OFF"))
                .expect("set"),
            "false"
        );
        assert_eq!(catalog.project("p").expect("p").setting(s), "false");
        // Other projects keep the default; the value survives reopening.
        assert_eq!(catalog.project("default").expect("d").setting(s), "true");
        drop(catalog);
        let catalog = Catalog::open(dir.path(), key()).expect("reopen");
        assert_eq!(catalog.project("p").expect("p").setting(s), "false");
        assert_eq!(
            catalog.set_database_setting("p", s, None).expect("reset"),
            "true"
        );
        assert_eq!(catalog.project("p").expect("p").setting(s), "true");
        let err = catalog
            .set_database_setting("p", s, Some("maybe"))
            .expect_err("not a boolean");
        assert!(err.to_string().contains("true or false"), "{err}");
        let err = DatabaseSetting::named("hg_typo").expect_err("unknown");
        assert!(err.to_string().contains(s.name()), "{err}");
        assert!(matches!(
            catalog.set_database_setting("nope", s, Some("true")),
            Err(StorageError::ProjectNotFound(_))
        ));
    }
}
