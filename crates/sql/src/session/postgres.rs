//! What the PostgreSQL wire protocol endpoint (crate `sealhouse-server`)
//! needs from a session: the `pg_catalog` schema and functions that psql's
//! `\d` and drivers query, planning a statement the endpoint has parsed
//! (with `$n` parameters left open, for the extended protocol), and running
//! a plan under the session's authorisation.

use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::CatalogProviderList;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::pg_catalog::catalog_info::CatalogInfo;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{
    PgCatalogSchemaProvider, PgCatalogStaticTables, setup_pg_catalog,
};
use sealhouse_storage::{Catalog, RESERVED_PROJECT_NAMES};

use super::kept_plans::{self, BoundPlan};
use super::{SqlSession, StatementOutput};
use crate::access::{self, Authorizer, Privilege};
use crate::own_statements::{self, OwnStatement};
use crate::script::{self, ScriptLine};
use crate::tables::CATALOG_NAME;
use crate::{SqlError, functions};

impl SqlSession {
    /// Makes the session answer PostgreSQL clients' catalog queries: a
    /// `pg_catalog` schema (listing, for a session with an identity, only
    /// the projects it may see) and the `pg_*` functions drivers call.
    /// Also reads string literals that become BINARY the way PostgreSQL
    /// reads bytea input: `'\x00ff'` is two bytes, not six characters
    /// (postgres_fdw pushes filters on bytea columns down that way).
    pub fn enable_postgres_catalog(&mut self) -> Result<(), SqlError> {
        setup_pg_catalog(&self.ctx, CATALOG_NAME, EmptyContextProvider)
            .map_err(|e| SqlError::from(*e))?;
        self.ctx.add_analyzer_rule(Arc::new(ByteaHexLiterals));
        self.kept.analyse_bound_with(Arc::new(ByteaHexLiterals));
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
    /// [`SqlSession::execute`] understands: `@x := ...`, GRANT / REVOKE and
    /// the other access statements, CREATE / ALTER / DESC / DROP PROJECT,
    /// USE, SHOW TABLES / PROJECTS, DESC, REWRITE. `SET` is not: a
    /// PostgreSQL endpoint keeps its own settings.
    pub fn is_sealhouse_statement(sql: &str) -> bool {
        match script::classify(sql) {
            ScriptLine::Assign { .. } => true,
            ScriptLine::Sql(sql) => {
                access::parse_acl(sql).is_some()
                    || own_statements::parse(sql)
                        .is_some_and(|m| !matches!(m, OwnStatement::Set { .. }))
            }
        }
    }

    /// Plans a statement parsed elsewhere (the PostgreSQL endpoint parses
    /// with PostgreSQL's dialect). `$n` placeholders stay open: bind them
    /// with [`LogicalPlan::with_param_values`] before
    /// [`SqlSession::execute_plan`].
    /// Planning errors are screened as [`SqlSession::execute`]'s are.
    pub async fn plan_statement(&self, statement: Statement) -> Result<LogicalPlan, SqlError> {
        let mut statement = DfStatement::Statement(Box::new(statement));
        crate::field_access::quote_field_names(&mut statement);
        let plan = match self.ctx.state().statement_to_plan(statement.clone()).await {
            Ok(plan) => plan,
            Err(e) => return Err(self.screen_statement_error(&statement, e.into())),
        };
        functions::check_wrapped_keysets_constant(&plan)?;
        Ok(plan)
    }

    /// Plans a statement for a client's Describe: its parameter and result
    /// types, shown only when the session holds every privilege running it
    /// would need (result columns name and type what a table holds).
    pub async fn describe_statement(&self, statement: Statement) -> Result<LogicalPlan, SqlError> {
        let plan = self.plan_statement(statement).await?;
        self.authorize_plan(&plan)?;
        Ok(plan)
    }

    /// Plans a prepared statement for one execution and binds its `$n`;
    /// `sql` is its text. With `keep`, an INSERT or query this session
    /// planned before (in the same project) is taken from the session's
    /// kept plans and only bound (`kept_plans` says when that is safe), and
    /// one planned now is kept when it may be; without, it is planned with
    /// its values, every time.
    pub async fn bind_statement(
        &mut self,
        sql: &str,
        statement: &Statement,
        params: Option<ParamValues>,
        keep: bool,
    ) -> Result<BoundPlan, SqlError> {
        let keeping = keep && self.remote.is_none();
        if keeping && let Some(kept) = self.kept.get(sql, &self.project) {
            let catalog = self
                .ctx
                .catalog(CATALOG_NAME)
                .ok_or_else(|| SqlError::plan("the warehouse catalog is not registered"))?;
            match kept.bind(params.as_ref(), catalog.as_ref()).await? {
                Some(bound) => return Ok(bound),
                None => self.kept.forget(sql, &self.project),
            }
        }
        let plan = self.plan_statement(statement.clone()).await?;
        let typed = match &params {
            Some(params) if keeping => kept_plans::type_placeholders(plan.clone(), params).ok(),
            _ => Some(plan.clone()),
        };
        if keeping
            && let Some(typed) = typed
            && kept_plans::keepable(&typed)?
            // An optimiser rule that cannot handle a placeholder leaves
            // the statement to be planned per execution.
            && let Ok(optimized) = self.ctx.state().optimize(&typed)
        {
            let optimized = kept_plans::pin_names(optimized)?;
            // Values of other types than the plan's placeholders (which
            // the server does not send) leave nothing kept.
            if let Some(bound) = kept_plans::bind_values(optimized.clone(), params.as_ref())? {
                let needs = access::table_needs(&plan)?;
                let needs = self.kept.keep(sql, &self.project, optimized, needs);
                return Ok(BoundPlan {
                    plan: bound,
                    kept_needs: Some(needs),
                    reused: false,
                });
            }
        }
        let plan = match params {
            Some(params) => plan.with_param_values(params)?,
            None => plan,
        };
        Ok(BoundPlan::planned(plan))
    }

    /// Authorises and runs a plan from [`SqlSession::bind_statement`];
    /// `sql` is its text, for column names.
    pub async fn execute_plan(
        &mut self,
        sql: &str,
        bound: BoundPlan,
    ) -> Result<StatementOutput, SqlError> {
        let result = match self.authorize_bound(&bound) {
            Ok(()) => {
                let optimized = bound.kept_needs.is_some();
                self.run_plan(sql, bound.plan, optimized).await
            }
            Err(e) => Err(e),
        };
        self.end_statement();
        result
    }
}

/// PostgreSQL's bytea input in hex format: a string literal `\x` followed
/// by an even number of hex digits, where it is cast (explicitly or by type
/// coercion, which runs first) to a binary type, is those bytes.
#[derive(Debug)]
struct ByteaHexLiterals;

impl AnalyzerRule for ByteaHexLiterals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            node.map_expressions(|expr| expr.transform_up(|e| Ok(bytea_literal(e))))
        })
        .data()
    }

    fn name(&self) -> &str {
        "postgres_bytea_hex_literals"
    }
}

fn bytea_literal(expr: Expr) -> Transformed<Expr> {
    let (inner, data_type) = match &expr {
        Expr::Cast(c) => (&c.expr, c.field.data_type()),
        Expr::TryCast(c) => (&c.expr, c.field.data_type()),
        _ => return Transformed::no(expr),
    };
    let text = match inner.as_ref() {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => s,
        _ => return Transformed::no(expr),
    };
    let Some(bytes) = bytea_hex(text) else {
        return Transformed::no(expr);
    };
    let value = match data_type {
        DataType::Binary => ScalarValue::Binary(Some(bytes)),
        DataType::LargeBinary => ScalarValue::LargeBinary(Some(bytes)),
        DataType::BinaryView => ScalarValue::BinaryView(Some(bytes)),
        _ => return Transformed::no(expr),
    };
    Transformed::yes(Expr::Literal(value, None))
}

/// The bytes of `\x<hex>`, or `None` for any other text.
fn bytea_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("\\x")?;
    hex::decode(digits).ok()
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
    /// A project is listed where SHOW PROJECTS lists it.
    fn visible(&self, catalog: &str, schema: &str) -> bool {
        catalog == CATALOG_NAME
            && (Self::system(schema) || self.auth.can_see(&self.catalog, schema).unwrap_or(false))
    }

    fn system(schema: &str) -> bool {
        RESERVED_PROJECT_NAMES.contains(&schema)
    }

    /// Whether the principal holds `privilege`; a failed check (a project
    /// dropped meanwhile, say) hides rather than fails the listing.
    fn may(&self, project: &str, table: Option<&str>, privilege: Privilege) -> bool {
        self.auth
            .check(&self.catalog, project, table, privilege)
            .is_ok()
    }

    /// A table's name is listed where SHOW TABLES would list it (List on
    /// its project), or where its columns are shown.
    fn table_listed(&self, schema: &str, table: &str) -> bool {
        self.table_described(schema, table) || self.may(schema, None, Privilege::List)
    }

    /// A table's columns and types are shown where DESC would show them,
    /// or where the session may read the table (`SELECT *` shows them too;
    /// postgres_fdw's IMPORT FOREIGN SCHEMA reads them here).
    fn table_described(&self, schema: &str, table: &str) -> bool {
        Self::system(schema)
            || self.may(schema, Some(table), Privilege::Describe)
            || self.may(schema, Some(table), Privilege::Select)
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
        let names = CatalogInfo::table_names(&self.all, catalog, schema).await?;
        Ok(names.map(|names| {
            names
                .into_iter()
                .filter(|t| self.table_listed(schema, t))
                .collect()
        }))
    }

    async fn table_schema(
        &self,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> Result<Option<SchemaRef>, DataFusionError> {
        if !self.visible(catalog, schema) || !self.table_described(schema, table) {
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
        if !self.visible(catalog, schema) || !self.table_listed(schema, table) {
            return Ok(None);
        }
        CatalogInfo::table_type(&self.all, catalog, schema, table).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytea_hex_input() {
        assert_eq!(bytea_hex("\\x00ff10"), Some(vec![0x00, 0xff, 0x10]));
        assert_eq!(bytea_hex("\\x"), Some(vec![]));
        assert_eq!(bytea_hex("\\x0"), None, "odd digits");
        assert_eq!(bytea_hex("00ff"), None, "no prefix: text");
        assert_eq!(bytea_hex("\\xzz"), None);
    }
}
