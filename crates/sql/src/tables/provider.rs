//! Projects as DataFusion schemas, tables looked up in the storage catalog
//! each time a query plans (so one process sees what another committed).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use sealhouse_storage::{Catalog, StorageError};

use super::stored_table::StoredTable;

/// The name of Sealhouse's catalog inside DataFusion.
pub(crate) const CATALOG_NAME: &str = "sealhouse";

/// All projects of a data directory.
#[derive(Debug)]
pub(crate) struct CatalogView {
    catalog: Arc<Catalog>,
}

impl CatalogView {
    pub(crate) fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog }
    }
}

impl CatalogProvider for CatalogView {
    fn schema_names(&self) -> Vec<String> {
        self.catalog
            .projects()
            .map(|ps| ps.into_iter().map(|p| p.name).collect())
            .unwrap_or_default()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let project = self.catalog.project(name).ok()?;
        Some(Arc::new(ProjectView {
            catalog: Arc::clone(&self.catalog),
            project: project.name,
        }))
    }
}

/// The tables of one project.
#[derive(Debug)]
struct ProjectView {
    catalog: Arc<Catalog>,
    project: String,
}

#[async_trait]
impl SchemaProvider for ProjectView {
    fn table_names(&self) -> Vec<String> {
        self.catalog
            .tables(&self.project)
            .map(|ts| ts.into_iter().map(|t| t.name).collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.catalog.table(&self.project, name) {
            Ok(info) => Ok(Some(Arc::new(StoredTable::new(
                Arc::clone(&self.catalog),
                info,
            )))),
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
        self.catalog.table(&self.project, name).is_ok()
    }
}
