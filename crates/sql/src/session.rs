//! A SQL session over one data directory: statements in, results out.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::{SendableRecordBatchStream, SessionState};
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::FutureExt;
use sealhouse_iam::Principal;
use sealhouse_storage::{Catalog, CatalogKey, DEFAULT_PROJECT, TableInfo};

use crate::access::{self, AclOutput, Authorizer, Privilege};
use crate::error::ObjectKind;
use crate::format::ResultSet;
use crate::functions::{self, FunctionSet};
use crate::own_statements::{self, OwnStatement};
use crate::script::{self, ScriptLine, ScriptStatement};
use crate::tables::{CATALOG_NAME, CatalogView, StatementLeases};
use crate::wrapped::{IdentityServices, KeysetWrapper};
use crate::{SqlError, column_names};
use sealhouse_storage::encryption::StorageKeys;

mod authorization;
mod cluster;
mod create_table;
mod database_settings;
mod describe_statements;
mod encryption_statements;
mod insert_types;
mod kept_plans;
mod memory;
mod output;
mod postgres;
mod project_statements;
mod set_statement;
mod small_files;
mod streaming;
mod values_insert;
mod view_comparisons;

/// The smallest file a scan splits across cores (see `build`).
const REPARTITION_FILE_MIN_BYTES: usize = 1024 * 1024;

pub(crate) use cluster::DistributedScans;
pub use cluster::RemoteExecution;
pub use kept_plans::BoundPlan;
pub use output::{ScriptError, StatementOutput};
pub use streaming::{PlanOutput, RowStream};

/// One user's session: the current project, script variables and settings,
/// over a data directory shared with other sessions.
pub struct SqlSession {
    catalog: Arc<Catalog>,
    ctx: SessionContext,
    functions: FunctionSet,
    /// Who the session acts as and what it may do, when it was opened with
    /// an identity; without one, nothing is checked (the caller holds the
    /// data directory itself).
    authorizer: Option<Authorizer>,
    /// How encrypted projects reach their keys (sessions with an identity).
    storage_keys: Option<Arc<StorageKeys>>,
    /// The running statement's leases on the files it reads.
    leases: Arc<StatementLeases>,
    project: String,
    variables: BTreeMap<String, ScalarValue>,
    /// The variables whose value a keyset function made (a keyset, or
    /// what holds one): a plan carrying one does not go to a cluster.
    keyset_variables: BTreeSet<String>,
    settings: BTreeMap<String, String>,
    /// Where queries run when not here (a cluster).
    remote: Option<Arc<dyn RemoteExecution>>,
    /// Prepared statements' optimised plans (`kept_plans`).
    kept: kept_plans::KeptPlans,
    /// How long a written table must go without INSERTs before its small
    /// files are merged in the background (`small_files`); none: never.
    quiet_merge: Option<std::time::Duration>,
}

impl SqlSession {
    /// Opens (creating on first use) the data directory at `data_dir`, its
    /// catalog checked with `key` (derived from the KMS root key).
    pub fn open(data_dir: &Path, key: CatalogKey) -> Result<Self, SqlError> {
        Ok(Self::new(Catalog::open(data_dir, key)?))
    }

    /// A session over an open catalog, starting in the default project,
    /// without an identity: the wrapped-keyset functions refuse to run.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self::build(catalog, None, None, None)
    }

    /// A session acting as `principal`: wrapped keysets are unwrapped through
    /// `keys` along role chains starting at `principal`.
    pub fn with_identity(
        catalog: Arc<Catalog>,
        principal: Principal,
        keys: Arc<IdentityServices>,
    ) -> Self {
        let wrapper = Arc::new(KeysetWrapper::new(Arc::clone(&keys), principal.clone()));
        let storage_keys = Arc::new(StorageKeys::new(
            Arc::clone(keys.gateway()),
            catalog.file_store(),
        ));
        let authorizer = Authorizer::new(keys, principal);
        Self::build(catalog, Some(authorizer), Some(wrapper), Some(storage_keys))
    }

    fn build(
        catalog: Arc<Catalog>,
        authorizer: Option<Authorizer>,
        wrapper: Option<Arc<KeysetWrapper>>,
        storage_keys: Option<Arc<StorageKeys>>,
    ) -> Self {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, DEFAULT_PROJECT)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false);
        // DataFusion's own view types off: which columns scans hand on as
        // views is the table's to say (storage's `ColumnType::scan_type`:
        // BINARY, and text whose values are wide), and SQL types and
        // function results stay Utf8 / Binary.
        let options = config.options_mut();
        options.execution.parquet.schema_force_view_types = false;
        options.sql_parser.map_string_types_to_utf8view = false;
        // A file is split across cores from 1 MiB on disk, not DataFusion's
        // 10 MiB: compressed files of wide values hold far more than their
        // size says (8 MiB of 1 KiB text is a gigabyte in memory). A file
        // scanned as one partition is dealt out again by a repartition,
        // which also glues the scan's batches back into 8192-row ones
        // (storage's scan/batch_rows.rs keeps wide batches small).
        options.optimizer.repartition_file_min_size = REPARTITION_FILE_MIN_BYTES;
        let ctx = SessionContext::new_with_config_rt(config, memory::runtime());
        ctx.add_analyzer_rule(Arc::new(view_comparisons::ViewComparisons));
        let leases = Arc::new(StatementLeases::default());
        ctx.register_catalog(
            CATALOG_NAME,
            Arc::new(CatalogView::new(
                Arc::clone(&catalog),
                storage_keys.clone(),
                Arc::clone(&leases),
            )),
        );
        // No unsealer: a session never opens a sealed keyset (only the
        // executors it sends plans to do), so one a user got hold of is
        // worth nothing here.
        let functions = functions::all(wrapper, None);
        for function in &functions.udfs {
            ctx.register_udf(function.clone());
        }
        Self {
            catalog,
            ctx,
            functions,
            authorizer,
            storage_keys,
            leases,
            project: DEFAULT_PROJECT.to_owned(),
            variables: BTreeMap::new(),
            keyset_variables: BTreeSet::new(),
            settings: BTreeMap::new(),
            remote: None,
            kept: kept_plans::KeptPlans::default(),
            quiet_merge: None,
        }
    }

    /// The project unqualified table names refer to.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The catalog this session works on.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Runs every statement of `script` in order, handing each result to
    /// `on_output`; stops at the first failure, naming its line.
    pub async fn run_script(
        &mut self,
        script: &str,
        mut on_output: impl FnMut(&ScriptStatement, StatementOutput),
    ) -> Result<usize, ScriptError> {
        let statements = script::split(script).map_err(|error| ScriptError { line: 1, error })?;
        for statement in &statements {
            let output = self
                .execute(&statement.text)
                .await
                .map_err(|error| ScriptError {
                    line: statement.line,
                    error,
                })?;
            on_output(statement, output);
        }
        Ok(statements.len())
    }

    /// Who the session acts as, if it was opened with an identity.
    pub fn principal(&self) -> Option<&Principal> {
        self.authorizer.as_ref().map(Authorizer::principal)
    }

    /// The stored table `project.table`, once the session's identity is
    /// allowed to read its rows: the SELECT check a query scanning it would
    /// pass (owner, RAM policies, then the project's roles and grants). For
    /// callers that hand the table's files to another engine instead of
    /// reading them here (`sealhouse external-engine manifest`).
    pub fn table_for_reading(&self, project: &str, table: &str) -> Result<TableInfo, SqlError> {
        self.table_allowed(project, table, Privilege::Select)
    }

    /// The stored table `project.table`, once the session may use it for
    /// `privilege`.
    fn table_allowed(
        &self,
        project: &str,
        table: &str,
        privilege: Privilege,
    ) -> Result<TableInfo, SqlError> {
        let info = self.catalog.table(project, table)?;
        if let Some(auth) = &self.authorizer {
            auth.check(&self.catalog, &info.project, Some(&info.name), privilege)?;
        }
        Ok(info)
    }

    /// Runs one statement (without its closing `;`).
    ///
    /// A panic inside Sealhouse or DataFusion while it runs becomes this
    /// statement's [`SqlError::Internal`]: the session, and every other
    /// session of the process, goes on.
    pub async fn execute(&mut self, statement: &str) -> Result<StatementOutput, SqlError> {
        // USE, SET and DDL change what a kept plan was planned on.
        self.kept.clear();
        let result = AssertUnwindSafe(self.execute_statement(statement))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(SqlError::from_panic(payload.as_ref())));
        self.end_statement();
        result
    }

    /// What lives for one statement ends with it: keyset references and
    /// unwraps, and the leases on the files it read.
    fn end_statement(&self) {
        self.functions.end_statement();
        self.leases.release_all();
    }

    async fn execute_statement(&mut self, statement: &str) -> Result<StatementOutput, SqlError> {
        // Before anything parses it: a deep tree overflows whatever recurses.
        crate::nesting::check_nesting(statement)?;
        match script::classify(statement) {
            ScriptLine::Assign { name, expr } => {
                let (value, from_keyset_function) = self.evaluate_constant(expr).await?;
                if from_keyset_function {
                    self.keyset_variables.insert(name.clone());
                } else {
                    self.keyset_variables.remove(&name);
                }
                self.variables.insert(name.clone(), value);
                Ok(StatementOutput::Done(format!("@{name} assigned")))
            }
            ScriptLine::Sql(sql) => {
                if let Some(acl) = access::parse_acl(sql) {
                    return self.run_acl(acl?);
                }
                match own_statements::parse(sql) {
                    Some(OwnStatement::Rewrite { target }) => self.rewrite(target).await,
                    Some(OwnStatement::MergeSmallFiles { table }) => {
                        self.merge_small_files(&table).await
                    }
                    Some(meta) => self.run_own_statement(meta),
                    None => {
                        let (prepared, plan) = match self.plan(sql).await {
                            Ok(planned) => planned,
                            Err(e) => return Err(self.screen_planning_error(sql, e)),
                        };
                        self.authorize_plan(&plan)?;
                        self.run_plan(&prepared, plan, false).await
                    }
                }
            }
        }
    }

    /// Plans a statement, with script variables bound as parameters; returns
    /// the text as rewritten for DataFusion, and the plan.
    async fn plan(&self, sql: &str) -> Result<(String, LogicalPlan), SqlError> {
        let (prepared, names) = script::prepare(sql)?;
        let values = names
            .iter()
            .map(|n| {
                self.variables.get(n).cloned().ok_or_else(|| {
                    SqlError::not_found(ObjectKind::Variable, format!(
                        "variable @{n} is not defined; define it first with @{n} := <expression>;"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let mut statement = state.sql_to_statement(&prepared, &dialect)?;
        crate::field_access::quote_field_names(&mut statement);
        let plan = state.statement_to_plan(statement).await?;
        let plan = if values.is_empty() {
            plan
        } else {
            plan.with_param_values(values)?
        };
        functions::check_wrapped_keysets_constant(&plan)?;
        Ok((prepared, plan))
    }

    /// The value of `expr`, and whether a keyset function made it.
    async fn evaluate_constant(&self, expr: &str) -> Result<(ScalarValue, bool), SqlError> {
        if expr
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"))
        {
            return Err(SqlError::unsupported(
                "table variables (@t := SELECT ...) are not supported; assign a constant expression".to_owned(),
            ));
        }
        let (_, plan) = self.plan(&format!("SELECT {expr}")).await?;
        // `@x := (SELECT ... FROM t)` reads t: authorised like any query.
        self.authorize_plan(&plan)?;
        let from_keyset = self.uses_keyset_functions(&plan)?;
        let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
        let batch = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| SqlError::plan("the expression gave no value"))?;
        if batch.num_columns() != 1 {
            return Err(SqlError::plan(
                "a variable holds one value; the expression gave several columns",
            ));
        }
        Ok((
            ScalarValue::try_from_array(batch.column(0), 0)?,
            from_keyset,
        ))
    }

    /// Runs a planned statement; `optimized` for a kept plan, which is
    /// not optimised again.
    async fn run_plan(
        &mut self,
        sql: &str,
        plan: LogicalPlan,
        optimized: bool,
    ) -> Result<StatementOutput, SqlError> {
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => {
                let (project, table) = self.resolve(&create.name)?;
                let existed = self.catalog.table(&project, &table).is_ok();
                let replaced = existed && create.or_replace;
                let output = self.create_table(sql, create).await?;
                if let Some(auth) = &self.authorizer
                    && (!existed || replaced)
                {
                    // The creator may use what they made, as its owner.
                    auth.grant_to_creator(&self.catalog, &project, &table)?;
                }
                Ok(output)
            }
            LogicalPlan::Ddl(DdlStatement::DropTable(drop)) => {
                let (project, table) = self.resolve(&drop.name)?;
                let dropped = self.catalog.drop_table(&project, &table, drop.if_exists)?;
                Ok(StatementOutput::Done(if dropped {
                    "OK".into()
                } else {
                    format!("OK: no table {table}")
                }))
            }
            LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(schema)) => {
                // The same statement as CREATE PROJECT.
                self.run_own_statement(OwnStatement::CreateProject {
                    name: schema.schema_name.clone(),
                    if_not_exists: schema.if_not_exists,
                    encryption: None,
                })
            }
            LogicalPlan::Ddl(other) => Err(SqlError::unsupported(format!(
                "{} is not supported; Sealhouse has tables (CREATE TABLE) and projects (CREATE PROJECT)",
                other.name()
            ))),
            LogicalPlan::Statement(s) => Err(SqlError::unsupported(format!(
                "{} statements are not supported",
                s.name()
            ))),
            LogicalPlan::Copy(_) => Err(SqlError::unsupported(
                "COPY is not supported; use INSERT INTO a table",
            )),
            LogicalPlan::Dml(dml) => {
                let target = self.resolve(&dml.table_name)?;
                let binary_as_text = insert_types::binary_into_string(&dml);
                let written = async {
                    if optimized {
                        let (state, physical) = self.kept_physical(LogicalPlan::Dml(dml)).await?;
                        datafusion::physical_plan::collect(physical, state.task_ctx()).await
                    } else {
                        let frame = self.ctx.execute_logical_plan(LogicalPlan::Dml(dml)).await?;
                        self.run_write(frame).await
                    }
                };
                let batches = written
                    .await
                    .map_err(|e| insert_types::explain(e, &binary_as_text, &target))?;
                self.merge_if_due(&target.0, &target.1).await;
                Ok(StatementOutput::Written(count_of(&batches)))
            }
            query => {
                let (schema, rows) = self.query_output(query, optimized).await?;
                let names = column_names::display_names(sql, &schema);
                let batches = datafusion::physical_plan::common::collect(rows).await?;
                Ok(StatementOutput::Rows(ResultSet {
                    names,
                    schema,
                    batches,
                }))
            }
        }
    }

    /// A query's schema and rows: a kept plan's planned here
    /// ([`SqlSession::kept_physical`]; a session that sends queries to a
    /// cluster keeps none), another's through its `DataFrame`, analysed,
    /// optimised and, when the session has a cluster, run there.
    async fn query_output(
        &self,
        plan: LogicalPlan,
        optimized: bool,
    ) -> Result<(SchemaRef, SendableRecordBatchStream), SqlError> {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let rows = if optimized {
            let (state, physical) = self.kept_physical(plan).await?;
            datafusion::physical_plan::execute_stream(physical, state.task_ctx())?
        } else {
            let frame = self.ctx.execute_logical_plan(plan).await?;
            self.query_rows(frame).await?
        };
        Ok((schema, rows))
    }

    /// The physical plan of a bound kept plan, and the state it was
    /// planned in. Only the session's own analyser rules run again
    /// (`KeptPlans::analyse_bound`: binding values can give them literals
    /// to rewrite, such as bytea input); nothing is optimised again, which
    /// is what keeping the plan saves; and an INSERT of VALUES skips
    /// DataFusion's planner altogether (`values_insert`).
    async fn kept_physical(
        &self,
        plan: LogicalPlan,
    ) -> datafusion::error::Result<(SessionState, Arc<dyn ExecutionPlan>)> {
        let state = self.ctx.state();
        let plan = self.kept.analyse_bound(plan, state.config_options())?;
        if let LogicalPlan::Dml(dml) = &plan
            && let Some(physical) = values_insert::plan(&state, dml).await?
        {
            return Ok((state, physical));
        }
        let physical = state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await?;
        Ok((state, physical))
    }

    /// Runs an access-control statement (which needs an identity).
    fn run_acl(&self, statement: access::AclStatement) -> Result<StatementOutput, SqlError> {
        let auth = self.authorizer.as_ref().ok_or_else(|| {
            SqlError::unsupported(
                "access control needs a session with an identity (the sealhouse CLI and server open one)",
            )
        })?;
        match access::run_acl(&self.catalog, auth, &self.project, statement)? {
            AclOutput::Done(message) => Ok(StatementOutput::Done(message)),
            AclOutput::Rows(columns, rows) => text_rows(columns, rows),
        }
    }

    fn run_own_statement(&mut self, statement: OwnStatement) -> Result<StatementOutput, SqlError> {
        match statement {
            OwnStatement::CreateProject {
                name,
                if_not_exists,
                encryption: Some(request),
            } => self.create_encrypted_project(&name, if_not_exists, &request),
            OwnStatement::CreateProject {
                name,
                if_not_exists,
                encryption: None,
            } => self.create_project(&name, if_not_exists),
            OwnStatement::AlterEncryption { project, enable } => {
                self.alter_encryption(&project, enable.as_ref())
            }
            OwnStatement::DescribeProject { project } => self.describe_project(&project),
            OwnStatement::AlterDatabase {
                project,
                setting,
                value,
            } => self.alter_database(&project, setting, value.as_deref()),
            OwnStatement::ShowSetting { setting } => self.show_setting(setting),
            OwnStatement::Rewrite { .. } | OwnStatement::MergeSmallFiles { .. } => {
                Err(SqlError::plan(
                    "REWRITE and MERGE SMALLFILES run as statements of their own, not inside \
                     another",
                ))
            }
            OwnStatement::Malformed(message) => Err(SqlError::syntax(message)),
            OwnStatement::DropProject { name, if_exists } => self.drop_project(&name, if_exists),
            OwnStatement::ShowProjects => self.show_projects(),
            OwnStatement::Use { project } => self.use_project(&project),
            OwnStatement::ShowTables { project } => self.show_tables(project),
            OwnStatement::Describe { table } => self.describe_table(table),
            OwnStatement::Set { assignment: None } => self.show_set(),
            OwnStatement::Set {
                assignment: Some((key, value)),
            } => self.set(key, value),
        }
    }
}

fn count_of(batches: &[RecordBatch]) -> u64 {
    batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
        })
        .map_or(0, |a| a.value(0))
}

fn text_rows(columns: &[&str], rows: Vec<Vec<String>>) -> Result<StatementOutput, SqlError> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(datafusion::error::DataFusionError::from)?;
    Ok(StatementOutput::Rows(ResultSet {
        names: columns.iter().map(|c| (*c).to_owned()).collect(),
        schema,
        batches: vec![batch],
    }))
}
