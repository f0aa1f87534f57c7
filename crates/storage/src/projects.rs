//! Projects in the catalog: creating them (plain or storage-encrypted),
//! their settings (changed checked and resealed in one transaction),
//! dropping and listing them.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::StorageError;
use crate::catalog::{Catalog, ProjectInfo, now, parse_properties, properties_object};
use crate::encryption::ProjectEncryption;
use crate::encryption::setting as encryption;
use crate::names::{new_project_name, normalize_name};
use crate::sealed;

impl Catalog {
    /// Creates a project. With `if_not_exists`, an existing one is fine.
    pub fn create_project(&self, name: &str, if_not_exists: bool) -> Result<(), StorageError> {
        let name = new_project_name(name)?;
        self.insert_project(&name, "{}", if_not_exists)
    }

    /// Creates a project whose storage is encrypted from the start.
    pub fn create_encrypted_project(
        &self,
        name: &str,
        setting: &ProjectEncryption,
    ) -> Result<(), StorageError> {
        let name = new_project_name(name)?;
        let properties = serde_json::json!({ encryption::PROPERTY: setting }).to_string();
        self.insert_project(&name, &properties, false)
    }

    fn insert_project(
        &self,
        name: &str,
        properties: &str,
        if_not_exists: bool,
    ) -> Result<(), StorageError> {
        let created_at = now();
        let mac = self.key().project_mac(name, created_at, properties);
        let inserted = self.conn().execute(
            "INSERT INTO projects (name, created_at, properties, mac) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO NOTHING",
            params![name, created_at, properties, mac.as_slice()],
        )?;
        if inserted == 0 && !if_not_exists {
            return Err(StorageError::ProjectExists(name.to_owned()));
        }
        Ok(())
    }

    /// Enables storage encryption on a project that has none. Once set, the
    /// setting is final: enabling again, with the same or another algorithm
    /// or key, fails with [`StorageError::EncryptionFixed`].
    pub fn enable_encryption(
        &self,
        name: &str,
        setting: &ProjectEncryption,
    ) -> Result<(), StorageError> {
        let name = new_project_name(name)?;
        self.change_properties(&name, |properties| {
            if let Some(current) =
                encryption::from_properties(properties).map_err(StorageError::Corrupt)?
            {
                return Err(StorageError::EncryptionFixed {
                    project: name.clone(),
                    algorithm: current.algorithm.name(),
                    key_arn: current.key_arn,
                });
            }
            properties_object(&name, properties)?.insert(
                encryption::PROPERTY.to_owned(),
                serde_json::to_value(setting)
                    .map_err(|e| StorageError::Corrupt(format!("cannot record setting: {e}")))?,
            );
            Ok(())
        })
    }

    /// Changes the properties of project `name` (checked against its MAC
    /// first) with `change`, then stores and reseals them, in one
    /// transaction.
    pub(crate) fn change_properties<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut serde_json::Value) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut properties = self
            .checked_project(&tx, name)?
            .ok_or_else(|| StorageError::ProjectNotFound(name.to_owned()))?
            .properties;
        let changed = change(&mut properties)?;
        tx.execute(
            "UPDATE projects SET properties = ?2 WHERE name = ?1",
            params![name, properties.to_string()],
        )?;
        sealed::reseal_project(&tx, self.key(), name)?;
        tx.commit()?;
        Ok(changed)
    }

    /// Drops an empty project.
    pub fn drop_project(&self, name: &str, if_exists: bool) -> Result<(), StorageError> {
        let name = normalize_name("project", name)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tables: i64 = tx.query_row(
            "SELECT count(*) FROM tables WHERE project = ?1",
            [&name],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(StorageError::ProjectNotEmpty(name));
        }
        let deleted = tx.execute("DELETE FROM projects WHERE name = ?1", [&name])?;
        tx.commit()?;
        if deleted == 0 && !if_exists {
            return Err(StorageError::ProjectNotFound(name));
        }
        Ok(())
    }

    /// All projects, by name.
    pub fn projects(&self) -> Result<Vec<ProjectInfo>, StorageError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, created_at, properties, mac FROM projects ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (name, created_at, properties, mac) = row?;
            sealed::check_project(self.key(), &name, created_at, &properties, mac.as_deref())?;
            Ok(ProjectInfo {
                name,
                created_at,
                properties: parse_properties(&properties)?,
            })
        })
        .collect()
    }

    /// One project, or [`StorageError::ProjectNotFound`].
    pub fn project(&self, name: &str) -> Result<ProjectInfo, StorageError> {
        let name = normalize_name("project", name)?;
        let conn = self.conn();
        self.checked()
            .project(&conn, &name, || self.checked_project(&conn, &name))?
            .ok_or(StorageError::ProjectNotFound(name))
    }

    /// Project `name` checked against its MAC, if it exists.
    fn checked_project(
        &self,
        conn: &Connection,
        name: &str,
    ) -> Result<Option<ProjectInfo>, StorageError> {
        let row: Option<(i64, String, Option<Vec<u8>>)> = conn
            .prepare_cached("SELECT created_at, properties, mac FROM projects WHERE name = ?1")?
            .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((created_at, properties, mac)) = row else {
            return Ok(None);
        };
        sealed::check_project(self.key(), name, created_at, &properties, mac.as_deref())?;
        Ok(Some(ProjectInfo {
            name: name.to_owned(),
            created_at,
            properties: parse_properties(&properties)?,
        }))
    }
}
