//! DataFusion's view of storage: a catalog whose schemas are projects and
//! whose tables read and write Parquet files through the storage catalog.

mod column_layout;
mod file_check;
mod group_commit;
mod new_file;
mod provider;
mod sink;
mod statement_leases;
mod stored_table;
mod verified_reader;

pub(crate) use provider::{CATALOG_NAME, CatalogView, project_keys};
pub(crate) use sink::SinkTarget;
pub(crate) use statement_leases::StatementLeases;
pub(crate) use stored_table::StoredTable;
