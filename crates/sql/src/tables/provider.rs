//! Projects as DataFusion schemas, tables looked up in the storage catalog
//! each time a query plans (so one process sees what another committed).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use sealhouse_storage::{Catalog, ProjectInfo, RESERVED_PROJECT_NAMES, StorageError};

use super::statement_leases::StatementLeases;
use super::stored_table::StoredTable;
use sealhouse_storage::encryption::{ProjectKeys, StorageKeys};
use sealhouse_storage::{ProjectKeyAccess, ReaderKeys};

use crate::SqlError;
use crate::functions::raise;

/// The name of Sealhouse's catalog inside DataFusion.
pub(crate) const CATALOG_NAME: &str = "sealhouse";

/// All projects of a data directory.
#[derive(Debug)]
pub(crate) struct CatalogView {
    catalog: Arc<Catalog>,
    /// How encrypted projects reach their keys; `None` in a session without
    /// an identity, which cannot read or write encrypted projects.
    keys: Option<Arc<StorageKeys>>,
    /// Where the tables resolved for the running statement keep their leases.
    leases: Arc<StatementLeases>,
    /// Schemas that are not projects: `pg_catalog` in sessions serving
    /// PostgreSQL clients. Their names are reserved (storage's
    /// `RESERVED_PROJECT_NAMES`), so no project hides behind one.
    system: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl CatalogView {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        keys: Option<Arc<StorageKeys>>,
        leases: Arc<StatementLeases>,
    ) -> Self {
        Self {
            catalog,
            keys,
            leases,
            system: RwLock::default(),
        }
    }
}

/// The keys of a project as this session holds them.
#[derive(Debug, Clone)]
pub(crate) enum ProjectKeysHeld {
    /// The project has no storage encryption.
    Unencrypted,
    /// Its keys.
    Held(Arc<ProjectKeys>),
    /// The project is encrypted and this session cannot reach its keys:
    /// the error to give when a statement needs them.
    OutOfReach(Arc<DataFusionError>),
}

impl ProjectKeysHeld {
    /// As a scan of the storage crate takes them.
    pub(crate) fn access(&self) -> ProjectKeyAccess<'_> {
        match self {
            Self::Unencrypted => ProjectKeyAccess::Unencrypted,
            Self::Held(keys) => ProjectKeyAccess::Held(keys),
            Self::OutOfReach(why) => ProjectKeyAccess::OutOfReach(why),
        }
    }

    /// As a scan node that plans when it runs takes them.
    pub(crate) fn reader_keys(&self) -> ReaderKeys {
        match self {
            Self::Unencrypted => ReaderKeys::None,
            Self::Held(keys) => ReaderKeys::Project(Arc::clone(keys)),
            Self::OutOfReach(why) => ReaderKeys::OutOfReach(Arc::clone(why)),
        }
    }
}

/// The keys of `project`, as far as this session can reach them.
pub(crate) fn project_keys(
    keys: Option<&StorageKeys>,
    project: &ProjectInfo,
) -> Result<ProjectKeysHeld> {
    let setting = project
        .encryption()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(match (setting, keys) {
        (None, _) => ProjectKeysHeld::Unencrypted,
        (Some(setting), Some(keys)) => {
            ProjectKeysHeld::Held(Arc::new(keys.project(&project.name, &setting)?))
        }
        (Some(setting), None) => {
            ProjectKeysHeld::OutOfReach(Arc::new(raise(SqlError::unsupported(format!(
                "project '{}' is encrypted ({} with key {}), and this session has no KMS to \
                 reach its key: open the warehouse with an identity (as `sealhouse sql` does)",
                project.name, setting.algorithm, setting.key_arn
            )))))
        }
    })
}

impl CatalogProvider for CatalogView {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .projects()
            .map(|ps| ps.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        names.extend(self.system_schemas().keys().cloned());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(system) = self.system_schemas().get(name) {
            return Some(Arc::clone(system));
        }
        let project = match self.catalog.project(name) {
            Ok(project) => Ok(project),
            // A project whose catalog entry fails its integrity check is
            // there, but nothing in it may be read or written: its tables
            // answer with the error.
            Err(e @ StorageError::Tampered { .. }) => Err(SqlError::from(e)),
            Err(_) => return None,
        };
        Some(Arc::new(ProjectView {
            catalog: Arc::clone(&self.catalog),
            keys: self.keys.clone(),
            leases: Arc::clone(&self.leases),
            project,
        }))
    }

    /// Only the reserved system schemas register here; projects are made
    /// with CREATE PROJECT.
    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        if !RESERVED_PROJECT_NAMES.contains(&name) {
            return Err(DataFusionError::Plan(format!(
                "cannot register schema '{name}': projects are made with CREATE PROJECT"
            )));
        }
        Ok(self
            .system
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), schema))
    }
}

impl CatalogView {
    fn system_schemas(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<dyn SchemaProvider>>> {
        self.system.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tables of one project (`Err`: why the project cannot be used).
#[derive(Debug)]
struct ProjectView {
    catalog: Arc<Catalog>,
    keys: Option<Arc<StorageKeys>>,
    leases: Arc<StatementLeases>,
    project: std::result::Result<ProjectInfo, SqlError>,
}

impl ProjectView {
    fn project(&self) -> Result<&ProjectInfo> {
        self.project.as_ref().map_err(|e| raise(e.clone()))
    }
}

#[async_trait]
impl SchemaProvider for ProjectView {
    fn table_names(&self) -> Vec<String> {
        let Ok(project) = self.project() else {
            return Vec::new();
        };
        self.catalog
            .tables(&project.name)
            .map(|ts| ts.into_iter().map(|t| t.name).collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let project = self.project()?;
        match self.catalog.table_snapshot(&project.name, name) {
            Ok((info, files, lease)) => {
                self.leases.hold(lease);
                Ok(Some(Arc::new(StoredTable::new(
                    Arc::clone(&self.catalog),
                    (info, files),
                    project_keys(self.keys.as_deref(), project)?,
                ))))
            }
            Err(StorageError::TableNotFound { .. } | StorageError::InvalidName { .. }) => Ok(None),
            Err(e) => Err(DataFusionError::External(Box::new(e))),
        }
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Plan(format!(
            "cannot register '{name}' as a table: only CREATE TABLE makes tables, and views are not supported"
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.project()
            .is_ok_and(|p| self.catalog.table(&p.name, name).is_ok())
    }
}
