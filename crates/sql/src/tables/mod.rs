//! DataFusion's view of storage: a catalog whose schemas are projects and
//! whose tables read and write Parquet files through the storage catalog.

mod group_commit;
mod provider;
mod sink;
mod statement_leases;
mod stored_table;

pub(crate) use provider::{CATALOG_NAME, CatalogView, ProjectKeysHeld, project_keys};
pub(crate) use sink::SinkTarget;
pub(crate) use statement_leases::StatementLeases;
pub(crate) use stored_table::StoredTable;

/// A storage error where DataFusion wants its own.
fn external(e: sealhouse_storage::StorageError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(e))
}
