//! Queries that run on a cluster: the session plans and authorises them as
//! always, with table scans planned as the storage crate's
//! `SnapshotScanExec` (the scan descriptor, no keys), and hands the
//! physical plan to a [`RemoteExecution`] (the cluster crate's coordinator)
//! instead of running it here.
//!
//! What goes: a query that reads stored tables, and the query feeding an
//! INSERT or CREATE TABLE AS (whose writing, data keys and catalog commit
//! stay here). What stays: a plan that reads no stored table (constants,
//! the PostgreSQL catalog), and every other statement.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::prelude::{DataFrame, SessionConfig};
use futures::TryStreamExt;
use sealhouse_storage::{PlanSealer, SnapshotScanExec};

use super::SqlSession;
use crate::functions::keyset_function_names;
use crate::sealed_keysets::{self, SealedKind, plan};
use crate::tables::StoredTable;

/// Runs a session's query plans somewhere other than this process.
#[async_trait]
pub trait RemoteExecution: Send + Sync + fmt::Debug {
    /// Runs `plan` with the session's settings `config`, its rows as they
    /// come.
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream>;
}

/// Set in the configuration of a session whose queries run remotely: table
/// scans are planned as descriptors, with plain files' block-tag keys
/// sealed for the executors (when the session reaches a KMS).
pub(crate) struct DistributedScans {
    pub(crate) sealer: Option<Arc<dyn PlanSealer>>,
}

impl fmt::Debug for DistributedScans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistributedScans")
            .field("sealer", &self.sealer.is_some())
            .finish()
    }
}

impl SqlSession {
    /// The session with its queries run by `remote` (a cluster) from now on.
    #[must_use]
    pub fn with_remote_execution(mut self, remote: Arc<dyn RemoteExecution>) -> Self {
        // Executors without the catalog key check plain files with the tag
        // keys sealed into each scan.
        let sealer = self
            .authorizer
            .as_ref()
            .and_then(|a| a.services().keyset_sealer().ok())
            .map(|s| s as Arc<dyn PlanSealer>);
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .set_extension(Arc::new(DistributedScans { sealer }));
        self.remote = Some(remote);
        self
    }

    /// The rows of a query's `frame`: computed by the remote executor when
    /// the session has one and the query reads stored tables, else here.
    pub(super) async fn query_rows(&self, frame: DataFrame) -> Result<SendableRecordBatchStream> {
        let Some(remote) = &self.remote else {
            return frame.execute_stream().await;
        };
        let task = Arc::new(frame.task_ctx());
        let plan = self.cluster_plan(frame).await?;
        if reads_stored_tables(&plan)? {
            remote.execute(plan, task.session_config().clone()).await
        } else {
            datafusion::physical_plan::execute_stream(plan, task)
        }
    }

    /// Runs a write's `frame` (INSERT, CREATE TABLE AS) here, its input
    /// query computed by the remote executor when the session has one and
    /// the query reads stored tables; the write's output rows.
    pub(super) async fn run_write(&self, frame: DataFrame) -> Result<Vec<RecordBatch>> {
        let Some(remote) = &self.remote else {
            return frame.collect().await;
        };
        let task = Arc::new(frame.task_ctx());
        let mut plan = self.cluster_plan(frame).await?;
        if plan.is::<DataSinkExec>() && reads_stored_tables(&plan)? {
            let inputs = plan
                .children()
                .into_iter()
                .map(|input| -> Result<Arc<dyn ExecutionPlan>> {
                    if reads_stored_tables(input)? {
                        Ok(Arc::new(RemoteInputExec::new(
                            Arc::clone(input),
                            Arc::clone(remote),
                            task.session_config().clone(),
                        )))
                    } else {
                        Ok(Arc::clone(input))
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            plan = plan.with_new_children(inputs)?;
        }
        datafusion::physical_plan::collect(plan, task).await
    }

    /// The physical plan of `frame` for a session whose queries may run on
    /// a cluster: when it reads stored tables, its keyset constants are
    /// sealed (`sealed_keysets`), and what would carry key material any
    /// other way is refused before anything is sent.
    async fn cluster_plan(&self, frame: DataFrame) -> Result<Arc<dyn ExecutionPlan>> {
        let (state, plan) = frame.into_parts();
        // EXPLAIN runs here, and shows its plan: nothing in it is sealed.
        let remote = reads_stored_tables_logical(&plan)?
            && !matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_));
        let mut keyset_names = Vec::new();
        if remote {
            plan::check_unoptimised(&plan, &self.keyset_values())?;
            keyset_names = plan::keyset_names(&plan)?;
        }
        let mut plan = state.optimize(&plan)?;
        if remote {
            let sealed = RefCell::new(Vec::new());
            plan = self.seal_keysets(plan, &keyset_names, &sealed)?;
            plan::check_sealed(&plan, &keyset_names, &sealed.into_inner())?;
        }
        state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await
    }

    /// `plan` with its keyset constants sealed for the cluster (each seal
    /// kept in `sealed`), and their `keyset_names` out of its column names.
    fn seal_keysets(
        &self,
        plan: LogicalPlan,
        keyset_names: &[String],
        sealed: &RefCell<Vec<Vec<u8>>>,
    ) -> Result<LogicalPlan> {
        let now = sealed_keysets::now();
        let sealer = std::cell::OnceCell::new();
        let seal = |kind: SealedKind, keyset: &[u8]| -> Result<Vec<u8>> {
            let sealer = match sealer.get() {
                Some(made) => Arc::clone(made),
                None => {
                    let made = self
                        .authorizer
                        .as_ref()
                        .ok_or_else(|| {
                            DataFusionError::NotImplemented(
                                "a keyset constant goes to a cluster sealed by the KMS, and this \
                                 session has no KMS; run this statement without --cluster"
                                    .to_owned(),
                            )
                        })?
                        .services()
                        .keyset_sealer()
                        .map_err(DataFusionError::Execution)?;
                    Arc::clone(sealer.get_or_init(|| made))
                }
            };
            let made = sealer
                .seal(kind, keyset, now)
                .map_err(DataFusionError::Execution)?;
            sealed.borrow_mut().push(made.clone());
            Ok(made)
        };
        plan::seal(
            plan,
            keyset_names,
            &|bytes| self.functions.keyset_constant(bytes),
            &seal,
        )
    }

    /// The values of the variables a keyset function made, by name.
    fn keyset_values(&self) -> Vec<(&String, &ScalarValue)> {
        self.keyset_variables
            .iter()
            .filter_map(|name| self.variables.get(name).map(|value| (name, value)))
            .collect()
    }

    /// Whether `plan` calls a keyset function or reads a variable holding
    /// what one made: a variable assigned from it holds key material too.
    pub(super) fn uses_keyset_functions(&self, plan: &LogicalPlan) -> Result<bool> {
        let keyset_functions = &*KEYSET_FUNCTIONS;
        let keyset_values = self.keyset_values();
        let mut found = false;
        plan.apply_with_subqueries(|node| {
            node.apply_expressions(|expr| {
                expr.apply(|e| {
                    found |= match e {
                        Expr::ScalarFunction(call) => {
                            keyset_functions.contains(&call.name().to_ascii_lowercase())
                        }
                        Expr::Literal(value, _) => keyset_values.iter().any(|(_, v)| *v == value),
                        _ => false,
                    };
                    Ok(if found {
                        TreeNodeRecursion::Stop
                    } else {
                        TreeNodeRecursion::Continue
                    })
                })
            })
        })?;
        Ok(found)
    }
}

/// The names (lowercase) of the functions that hold keys or keysets.
static KEYSET_FUNCTIONS: LazyLock<HashSet<String>> = LazyLock::new(keyset_function_names);

/// Whether a logical `plan` reads a stored table, subqueries included
/// (optimisation may turn one into a join whose scan goes to the cluster).
fn reads_stored_tables_logical(plan: &LogicalPlan) -> Result<bool> {
    let mut reads = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            reads |= source_as_provider(&scan.source)?.is::<StoredTable>();
        }
        Ok(if reads {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(reads)
}

/// Whether `plan` reads a stored table.
fn reads_stored_tables(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    plan.exists(|node| Ok(node.is::<SnapshotScanExec>()))
}

/// A plan's input computed remotely: one partition, the remote rows.
struct RemoteInputExec {
    input: Arc<dyn ExecutionPlan>,
    remote: Arc<dyn RemoteExecution>,
    config: SessionConfig,
    properties: Arc<PlanProperties>,
}

impl RemoteInputExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        remote: Arc<dyn RemoteExecution>,
        config: SessionConfig,
    ) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(input.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            input,
            remote,
            config,
            properties,
        }
    }
}

impl fmt::Debug for RemoteInputExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteInputExec").finish_non_exhaustive()
    }
}

impl DisplayAs for RemoteInputExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteInputExec")
    }
}

impl ExecutionPlan for RemoteInputExec {
    fn name(&self) -> &str {
        "RemoteInputExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// None: the remote plan is not this process's to optimise or run.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "a remote input has no local inputs".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "partition {partition} of a remote input of one"
            )));
        }
        let remote = Arc::clone(&self.remote);
        let input = Arc::clone(&self.input);
        let config = self.config.clone();
        let rows = async move { remote.execute(input, config).await };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.input.schema(),
            futures::stream::once(rows).try_flatten(),
        )))
    }
}
