//! A kept INSERT of VALUES, planned straight to its physical plan: the
//! row(s) of values, the projection computing the stored columns from them
//! (casts, `ENHANCED_SYM_ENCRYPT(...)`), and the table's writer.
//!
//! Why: with plans kept, 16 clients' single-row INSERTs still spent about a
//! sixth of the server's CPU in DataFusion's physical planning of every
//! execution: the analyser again, then the physical optimiser's dozen rules
//! walking three nodes none of them changes (one partition of values, a
//! projection, a sink that gathers its input itself). This builds the same
//! three nodes as DataFusion's planner does (`create_physical_expr` for each
//! expression, `MemorySourceConfig::try_new_as_values`, the table's
//! `insert_into`), and only for that shape: anything else (a subquery, an
//! asynchronous function, a SELECT) is planned by DataFusion as before.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan, Projection, Values, WriteOp};
use datafusion::physical_expr::create_physical_expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

use crate::tables::StoredTable;

/// The physical plan of `dml` if it is an INSERT of VALUES (through
/// projections) into a stored table; `None` for any other statement.
pub(super) async fn plan(
    state: &SessionState,
    dml: &DmlStatement,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let WriteOp::Insert(op @ (InsertOp::Append | InsertOp::Overwrite)) = dml.op else {
        return Ok(None);
    };
    let Some(table) = StoredTable::behind(dml.target.as_ref()) else {
        return Ok(None);
    };
    let Some(input) = values_input(state, &dml.input)? else {
        return Ok(None);
    };
    table.insert_into(state, input, op).await.map(Some)
}

/// The physical plan of `plan` if it is VALUES under projections only, as
/// DataFusion's planner makes it; `None` for anything else, or for an
/// expression DataFusion's planner treats specially.
fn values_input(
    state: &SessionState,
    plan: &LogicalPlan,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let props = state.execution_props();
    match plan {
        LogicalPlan::Values(Values { values, schema }) => {
            if any_special(values.iter().flatten())? {
                return Ok(None);
            }
            let rows = values
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|e| create_physical_expr(e, schema, props))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(MemorySourceConfig::try_new_as_values(
                Arc::clone(schema.inner()),
                rows,
            )?))
        }
        LogicalPlan::Projection(Projection {
            expr,
            input,
            schema,
            ..
        }) => {
            if any_special(expr)? {
                return Ok(None);
            }
            let Some(input_exec) = values_input(state, input)? else {
                return Ok(None);
            };
            let exprs = expr
                .iter()
                .zip(schema.fields())
                .map(|(e, field)| {
                    Ok(ProjectionExpr {
                        expr: create_physical_expr(e, input.schema(), props)?,
                        alias: field.name().clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(Arc::new(ProjectionExec::try_new(exprs, input_exec)?)))
        }
        _ => Ok(None),
    }
}

/// Whether any of `exprs` holds what DataFusion's planner plans as nodes
/// of their own (subqueries, asynchronous functions), or a placeholder.
fn any_special<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Result<bool> {
    for expr in exprs {
        let special = expr.exists(|e| {
            Ok(match e {
                Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::SetComparison(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::Placeholder(_) => true,
                Expr::ScalarFunction(f) => f.func.as_async().is_some(),
                _ => false,
            })
        })?;
        if special {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use sealhouse_crypto::SecretBytes;
    use sealhouse_storage::CatalogKey;

    use super::*;
    use crate::session::{SqlSession, StatementOutput};

    fn session(dir: &tempfile::TempDir) -> SqlSession {
        let key = CatalogKey::new(&SecretBytes::from_slice(&[7; 32])).expect("key");
        SqlSession::open(dir.path(), key).expect("session")
    }

    /// The statement's plan as a kept plan is: analysed and optimised.
    async fn optimised(session: &SqlSession, sql: &str) -> DmlStatement {
        let state = session.ctx.state();
        let plan = state.create_logical_plan(sql).await.expect("plans");
        match state.optimize(&plan).expect("optimises") {
            LogicalPlan::Dml(dml) => dml,
            other => panic!("not DML: {}", other.display()),
        }
    }

    #[tokio::test]
    async fn values_go_straight_to_the_writer_and_other_inserts_do_not() {
        let dir = tempfile::tempdir().expect("dir");
        let mut session = session(&dir);
        session
            .execute("CREATE TABLE t (a BIGINT, b STRING)")
            .await
            .expect("table");
        let state = session.ctx.state();
        let dml = optimised(&session, "INSERT INTO t VALUES (1, 'x'), (2, upper('y'))").await;
        let physical = plan(&state, &dml)
            .await
            .expect("plans")
            .expect("an INSERT of VALUES");
        let written = datafusion::physical_plan::collect(physical, state.task_ctx())
            .await
            .expect("writes");
        assert_eq!(crate::session::count_of(&written), 2);
        for other in [
            "INSERT INTO t SELECT a, b FROM t",
            "INSERT INTO t VALUES ((SELECT max(a) FROM t), 'z')",
        ] {
            let dml = optimised(&session, other).await;
            assert!(
                plan(&state, &dml).await.expect("plans").is_none(),
                "{other} is planned by DataFusion"
            );
        }
        let StatementOutput::Rows(rows) = session
            .execute("SELECT a, b FROM t ORDER BY a")
            .await
            .expect("reads")
        else {
            panic!("rows");
        };
        let batch = &rows.batches[0];
        let a = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("a");
        let b = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("b");
        assert_eq!(a.values(), &[1, 2]);
        assert_eq!((b.value(0), b.value(1)), ("x", "Y"));
    }
}
