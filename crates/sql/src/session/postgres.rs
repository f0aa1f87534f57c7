//! What the PostgreSQL wire protocol endpoint (crate `sealhouse-server`)
//! needs from a session: the `pg_catalog` schema and functions that psql's
//! `\d` and drivers query, planning a statement the endpoint has parsed
//! (with `$n` parameters left open, for the extended protocol), and running
//! a plan under the session's authorisation.

use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::CatalogProviderList;
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::pg_catalog::catalog_info::CatalogInfo;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{
    PgCatalogSchemaProvider, PgCatalogStaticTables, setup_pg_catalog,
};
use sealhouse_storage::{Catalog, RESERVED_PROJECT_NAMES};

use super::{StatementOutput, Warehouse};
use crate::access::{self, Authorizer};
use crate::meta::{self, Meta};
use crate::script::{self, ScriptLine};
use crate::tables::CATALOG_NAME;
use crate::{SqlError, functions};

impl Warehouse {
    /// Makes the session answer PostgreSQL clients' catalog queries: a
    /// `pg_catalog` schema (listing, for a session with an identity, only
    /// the projects it may see) and the `pg_*` functions drivers call.
    pub fn enable_postgres_catalog(&mut self) -> Result<(), SqlError> {
        setup_pg_catalog(&self.ctx, CATALOG_NAME, EmptyContextProvider)
            .map_err(|e| SqlError::from(*e))?;
        // setup_pg_catalog lists every project; a session with an identity
        // gets one that lists what SHOW PROJECTS would.
        if let Some(auth) = &self.authorizer {
            let visible = VisibleProjects {
                all: self.ctx.state().catalog_list().clone(),
                catalog: Arc::clone(&self.catalog),
                auth: Arc::new(auth.clone()),
            };
            let schema =
                PgCatalogSchemaProvider::try_new(visible, static_tables()?, EmptyContextProvider)?;
            self.ctx
                .catalog(CATALOG_NAME)
                .ok_or_else(|| SqlError::plan("the warehouse catalog is not registered"))?
                .register_schema("pg_catalog", Arc::new(schema))?;
        }
        Ok(())
    }

    /// Whether `sql` is one of Sealhouse's own statements, which only
    /// [`Warehouse::execute`] understands: `@x := ...`, GRANT / REVOKE and
    /// the other access statements, CREATE / ALTER / DESC / DROP PROJECT,
    /// USE, SHOW TABLES / PROJECTS, DESC, REWRITE. `SET` is not: a
    /// PostgreSQL endpoint keeps its own settings.
    pub fn is_sealhouse_statement(sql: &str) -> bool {
        match script::classify(sql) {
            ScriptLine::Assign { .. } => true,
            ScriptLine::Sql(sql) => {
                access::parse_acl(sql).is_some()
                    || meta::parse(sql).is_some_and(|m| !matches!(m, Meta::Set { .. }))
            }
        }
    }

    /// Plans a statement parsed elsewhere (the PostgreSQL endpoint parses
    /// with PostgreSQL's dialect). `$n` placeholders stay open: bind them
    /// with [`LogicalPlan::with_param_values`] before
    /// [`Warehouse::execute_plan`].
    pub async fn plan_statement(&self, statement: Statement) -> Result<LogicalPlan, SqlError> {
        let plan = self
            .ctx
            .state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await?;
        functions::check_wrapped_keysets_constant(&plan)?;
        Ok(plan)
    }

    /// Authorises and runs a plan from [`Warehouse::plan_statement`];
    /// `sql` is its text, for column names.
    pub async fn execute_plan(
        &mut self,
        sql: &str,
        plan: LogicalPlan,
    ) -> Result<StatementOutput, SqlError> {
        let result = match self.authorize_plan(&plan) {
            Ok(()) => self.run_plan(sql, plan).await,
            Err(e) => Err(e),
        };
        self.functions.end_statement();
        result
    }
}

/// The catalog tables, parsed once per process (they are the same for
/// every session).
fn static_tables() -> Result<Arc<PgCatalogStaticTables>, DataFusionError> {
    static TABLES: OnceLock<Arc<PgCatalogStaticTables>> = OnceLock::new();
    if let Some(tables) = TABLES.get() {
        return Ok(Arc::clone(tables));
    }
    let tables = Arc::new(PgCatalogStaticTables::try_new()?);
    Ok(Arc::clone(TABLES.get_or_init(|| tables)))
}

/// The catalog as `pg_catalog` shows it to one session: the projects it may
/// see (and the system schemas), with their tables.
#[derive(Clone)]
struct VisibleProjects {
    all: Arc<dyn CatalogProviderList>,
    catalog: Arc<Catalog>,
    auth: Arc<Authorizer>,
}

impl fmt::Debug for VisibleProjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VisibleProjects")
            .field("principal", &self.auth.principal_name())
            .finish_non_exhaustive()
    }
}

impl VisibleProjects {
    fn visible(&self, catalog: &str, schema: &str) -> bool {
        catalog == CATALOG_NAME
            && (RESERVED_PROJECT_NAMES.contains(&schema)
                || self.auth.can_see(&self.catalog, schema).unwrap_or(false))
    }
}

#[async_trait]
impl CatalogInfo for VisibleProjects {
    async fn catalog_names(&self) -> Result<Vec<String>, DataFusionError> {
        Ok(vec![CATALOG_NAME.to_owned()])
    }

    async fn schema_names(&self, catalog: &str) -> Result<Option<Vec<String>>, DataFusionError> {
        Ok(CatalogInfo::schema_names(&self.all, catalog)
            .await?
            .map(|names| {
                names
                    .into_iter()
                    .filter(|s| self.visible(catalog, s))
                    .collect()
            }))
    }

    async fn table_names(
        &self,
        catalog: &str,
        schema: &str,
    ) -> Result<Option<Vec<String>>, DataFusionError> {
        if !self.visible(catalog, schema) {
            return Ok(None);
        }
        CatalogInfo::table_names(&self.all, catalog, schema).await
    }

    async fn table_schema(
        &self,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> Result<Option<SchemaRef>, DataFusionError> {
        if !self.visible(catalog, schema) {
            return Ok(None);
        }
        CatalogInfo::table_schema(&self.all, catalog, schema, table).await
    }

    async fn table_type(
        &self,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> Result<Option<TableType>, DataFusionError> {
        if !self.visible(catalog, schema) {
            return Ok(None);
        }
        CatalogInfo::table_type(&self.all, catalog, schema, table).await
    }
}
