//! Plans kept per prepared statement. A client that prepares a statement
//! once and executes it many times (drivers, connection pools, pgbench)
//! gets it parsed, resolved, analysed and optimised once; each execution
//! then binds its values into the optimised plan and plans it physically.
//! Planning was a third of a single-row INSERT's server time (profile in
//! BENCHMARKS.md, "Where an INSERT's time goes").
//!
//! A kept plan holds placeholders, never values, and is reused only while
//! nothing it was planned on can have changed:
//! - every table it names is looked up again at each execution (a fresh
//!   snapshot, leased like any statement's), and must still be the same
//!   table (its id, never reused) with the same columns; otherwise the
//!   statement is planned anew;
//! - it calls only immutable or volatile functions: the optimiser folds
//!   stable ones into values at plan time (`now()` would stand still, and a
//!   kept `USE_WRAPPED_KEYSET` would skip the role chain at later runs);
//! - every placeholder has a type, and each execution binds values of
//!   exactly those types;
//! - it scans only stored tables (not `pg_catalog`, whose rows depend on
//!   what the session may see);
//! - it is kept per current project, and the session's own statements
//!   (USE, SET, DDL by text) empty the cache;
//! - sessions that send queries to a cluster keep nothing: their plans are
//!   checked and sealed per statement.
//!
//! What is never kept is the authorisation: each execution checks the
//! privileges of the statement as written (its unoptimised plan's needs)
//! as of now.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::Field;
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::catalog::{CatalogProvider, TableProvider};
use datafusion::common::ParamValues;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    DmlStatement, Expr, LogicalPlan, LogicalPlanBuilder, Projection, TableScan, TableSource,
    Values, Volatility, WriteOp,
};
use datafusion::optimizer::AnalyzerRule;

use crate::access::Need;
use crate::tables::StoredTable;

/// How many statements a session keeps plans for; the least recently used
/// goes first.
const CAPACITY: usize = 64;

/// A session's kept plans, by statement text and current project.
#[derive(Default)]
pub(super) struct KeptPlans {
    entries: HashMap<(String, String), Kept>,
    clock: u64,
    /// The session's own analyser rules, run again on each bound plan
    /// (`analyse_bound`).
    rebind_rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>>,
}

/// One statement's optimised plan, with placeholders.
#[derive(Clone)]
pub(crate) struct Kept {
    plan: LogicalPlan,
    /// The privileges the statement as written needs.
    needs: Arc<Vec<Need>>,
    last_used: u64,
}

/// A plan ready to run: its placeholders bound.
pub struct BoundPlan {
    pub(super) plan: LogicalPlan,
    /// For a kept plan (already analysed and optimised), the privileges
    /// the statement as written needs; `None` for a plan planned now, whose
    /// own tables say that.
    pub(super) kept_needs: Option<Arc<Vec<Need>>>,
    /// Whether the plan was kept at an earlier execution.
    pub(super) reused: bool,
}

impl BoundPlan {
    /// A plan planned for this execution.
    pub(super) fn planned(plan: LogicalPlan) -> Self {
        Self {
            plan,
            kept_needs: None,
            reused: false,
        }
    }

    /// Whether the plan was kept at an earlier execution (only bound now,
    /// not planned).
    pub fn reused(&self) -> bool {
        self.reused
    }
}

impl KeptPlans {
    /// The kept plan of `text` in `project`, if any.
    pub(super) fn get(&mut self, text: &str, project: &str) -> Option<Kept> {
        self.clock += 1;
        let entry = self
            .entries
            .get_mut(&(text.to_owned(), project.to_owned()))?;
        entry.last_used = self.clock;
        Some(entry.clone())
    }

    /// Keeps `plan` (optimised, with placeholders) for `text` in `project`;
    /// the needs as kept.
    pub(super) fn keep(
        &mut self,
        text: &str,
        project: &str,
        plan: LogicalPlan,
        needs: Vec<Need>,
    ) -> Arc<Vec<Need>> {
        if self.entries.len() >= CAPACITY
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, kept)| kept.last_used)
                .map(|(key, _)| key.clone())
        {
            self.entries.remove(&oldest);
        }
        self.clock += 1;
        let needs = Arc::new(needs);
        self.entries.insert(
            (text.to_owned(), project.to_owned()),
            Kept {
                plan,
                needs: Arc::clone(&needs),
                last_used: self.clock,
            },
        );
        needs
    }

    /// Forgets `text`'s plan in `project` (its tables changed).
    pub(super) fn forget(&mut self, text: &str, project: &str) {
        self.entries.remove(&(text.to_owned(), project.to_owned()));
    }

    /// Forgets every plan.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Runs `rule` (one of the session's own analyser rules) on each bound
    /// plan too.
    pub(super) fn analyse_bound_with(&mut self, rule: Arc<dyn AnalyzerRule + Send + Sync>) {
        self.rebind_rules.push(rule);
    }

    /// A bound plan as the analyser leaves it. DataFusion's rules ran when
    /// the plan was kept, and change nothing once values of the
    /// placeholders' own types are in it (types were coerced around the
    /// placeholders); the session's own rules can (bytea input: a text
    /// value cast to bytea).
    pub(super) fn analyse_bound(
        &self,
        plan: LogicalPlan,
        options: &ConfigOptions,
    ) -> Result<LogicalPlan> {
        self.rebind_rules
            .iter()
            .try_fold(plan, |plan, rule| rule.analyze(plan, options))
    }
}

impl Kept {
    /// The kept plan with its tables looked up again in `catalog` (which
    /// leases their snapshots for the statement) and `params` bound; `None`
    /// when a table changed or a value's type differs from its
    /// placeholder's, so the statement must be planned anew.
    pub(super) async fn bind(
        self,
        params: Option<&ParamValues>,
        catalog: &dyn CatalogProvider,
    ) -> Result<Option<BoundPlan>> {
        let mut fresh: HashMap<_, Arc<dyn TableProvider>> = HashMap::new();
        for (project, table) in stored_tables(&self.plan)? {
            let Some(schema) = catalog.schema(&project) else {
                return Ok(None);
            };
            let Some(provider) = schema.table(&table).await? else {
                return Ok(None);
            };
            fresh.insert((project, table), provider);
        }
        let mut changed = false;
        let plan = self
            .plan
            .transform_up_with_subqueries(|node| {
                let Some(source) = table_source(&node) else {
                    return Ok(Transformed::no(node));
                };
                let Some(old) = stored(source) else {
                    return Ok(Transformed::no(node));
                };
                let key = (old.info().project.clone(), old.info().name.clone());
                let Some(new) = fresh.get(&key) else {
                    changed = true;
                    return Ok(Transformed::no(node));
                };
                let same = new.downcast_ref::<StoredTable>().is_some_and(|n| {
                    n.info().id == old.info().id
                        && n.info().scan_schema() == old.info().scan_schema()
                });
                if !same {
                    changed = true;
                    return Ok(Transformed::no(node));
                }
                Ok(Transformed::yes(with_source(
                    node,
                    provider_as_source(Arc::clone(new)),
                )))
            })?
            .data;
        if changed {
            return Ok(None);
        }
        Ok(bind_values(plan, params)?.map(|plan| BoundPlan {
            plan,
            kept_needs: Some(self.needs),
            reused: true,
        }))
    }
}

/// A kept plan with `params` bound, or `None` when a value's type is not
/// exactly its placeholder's (the statement is then planned with them).
pub(super) fn bind_values(
    plan: LogicalPlan,
    params: Option<&ParamValues>,
) -> Result<Option<LogicalPlan>> {
    match params {
        Some(params) if !types_match(&plan, params)? => Ok(None),
        Some(params) if fills_in_place(&plan)? => Ok(Some(fill(plan, params)?)),
        Some(params) => Ok(Some(plan.with_param_values(params.clone())?)),
        None => Ok(Some(plan)),
    }
}

/// Names each projected expression that holds a placeholder by the name
/// it has now (an alias), so that binding a value changes no column name:
/// a literal's text would enter the name (a keyset's bytes as hex, at
/// every execution) and DataFusion would recompute every schema above it.
pub(super) fn pin_names(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Projection(Projection {
            expr,
            input,
            schema,
            ..
        }) = node
        else {
            return Ok(Transformed::no(node));
        };
        let expr = expr
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                if matches!(e, Expr::Alias(_)) || !has_placeholder(&e)? {
                    return Ok(e);
                }
                let (qualifier, field) = schema.qualified_field(i);
                Ok(e.alias_qualified(qualifier.cloned(), field.name()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Transformed::yes(LogicalPlan::Projection(
            Projection::try_new_with_schema(expr, input, schema)?,
        )))
    })
    .map(|t| t.data)
}

/// Whether every placeholder of `plan` sits where a value can take its
/// place without changing a schema: in a node whose columns are not named
/// after its expressions, or under a projection's alias ([`pin_names`]).
fn fills_in_place(plan: &LogicalPlan) -> Result<bool> {
    let mut in_place = true;
    plan.apply_with_subqueries(|node| {
        let named = match node {
            LogicalPlan::Values(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::TableScan(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Repartition(_) => false,
            LogicalPlan::Projection(projection) => {
                for e in &projection.expr {
                    if !matches!(e, Expr::Alias(_)) && has_placeholder(e)? {
                        in_place = false;
                    }
                }
                false
            }
            _ => true,
        };
        if named {
            for e in node.expressions() {
                if has_placeholder(&e)? {
                    in_place = false;
                }
            }
        }
        Ok(if in_place {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(in_place)
}

/// `plan` with each placeholder replaced by its value, every schema kept.
fn fill(plan: LogicalPlan, params: &ParamValues) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|e| {
            e.transform_up(|e| match e {
                Expr::Placeholder(Placeholder { id, .. }) => {
                    let (value, metadata) = params.get_placeholders_with_values(&id)?.into_inner();
                    Ok(Transformed::yes(Expr::Literal(value, metadata)))
                }
                e => Ok(Transformed::no(e)),
            })
        })
    })
    .map(|t| t.data)
}

fn has_placeholder(e: &Expr) -> Result<bool> {
    e.exists(|e| Ok(matches!(e, Expr::Placeholder(_))))
}

/// Whether `plan` (unoptimised, with placeholders) may be kept: an INSERT
/// or a query, over stored tables only, calling no stable function, every
/// placeholder typed.
pub(super) fn keepable(plan: &LogicalPlan) -> Result<bool> {
    let kind_ok = match plan {
        LogicalPlan::Dml(dml) => matches!(dml.op, WriteOp::Insert(_)),
        LogicalPlan::Ddl(_)
        | LogicalPlan::Statement(_)
        | LogicalPlan::Copy(_)
        | LogicalPlan::DescribeTable(_)
        | LogicalPlan::Explain(_)
        | LogicalPlan::Analyze(_) => false,
        _ => true,
    };
    if !kind_ok {
        return Ok(false);
    }
    if plan.get_parameter_types()?.values().any(Option::is_none) {
        return Ok(false);
    }
    let mut ok = true;
    plan.apply_with_subqueries(|node| {
        if matches!(node, LogicalPlan::Extension(_)) {
            ok = false;
        } else if let Some(source) = table_source(node)
            && stored(source).is_none()
        {
            ok = false;
        } else {
            for expr in node.expressions() {
                expr.apply(|e| {
                    if let Expr::ScalarFunction(f) = e
                        && f.func.signature().volatility == Volatility::Stable
                    {
                        ok = false;
                        return Ok(TreeNodeRecursion::Stop);
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
            }
        }
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(ok)
}

/// `plan` with each placeholder the planner left untyped (a function's
/// argument, `$1::bytea`) given the type of the value bound to it at this
/// execution. Drivers bind the same types at every execution of a prepared
/// statement, so later executions reuse the plan; one that binds other
/// types is planned with them.
pub(super) fn type_placeholders(plan: LogicalPlan, params: &ParamValues) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let names = NamePreserver::new(&node);
        let typed = node.map_expressions(|e| {
            let name = names.save(&e);
            let typed = e.transform_up(|e| match e {
                Expr::Placeholder(Placeholder { id, field: None }) => {
                    let field = params
                        .get_placeholders_with_values(&id)
                        .ok()
                        .map(|v| Arc::new(Field::new(id.as_str(), v.value().data_type(), true)));
                    let typed = field.is_some();
                    let e = Expr::Placeholder(Placeholder { id, field });
                    Ok(if typed {
                        Transformed::yes(e)
                    } else {
                        Transformed::no(e)
                    })
                }
                e => Ok(Transformed::no(e)),
            })?;
            Ok(typed.update_data(|e| name.restore(e)))
        })?;
        if !typed.transformed {
            return Ok(typed);
        }
        // Schemas follow the new types; VALUES infers its own from its rows.
        typed.map_data(|node| match node {
            LogicalPlan::Values(Values { values, .. }) => {
                LogicalPlanBuilder::values(values)?.build()
            }
            node => node.recompute_schema(),
        })
    })
    .map(|t| t.data)
}

/// Whether each bound value has exactly its placeholder's type.
fn types_match(plan: &LogicalPlan, params: &ParamValues) -> Result<bool> {
    for (id, data_type) in plan.get_parameter_types()? {
        let value = match params.get_placeholders_with_values(&id) {
            Ok(value) => value,
            Err(_) => return Ok(false),
        };
        if Some(&value.value().data_type()) != data_type.as_ref() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The (project, table) of every stored table `plan` reads or writes.
fn stored_tables(plan: &LogicalPlan) -> Result<Vec<(String, String)>> {
    let mut tables = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let Some(table) = table_source(node).and_then(stored) {
            tables.push((table.info().project.clone(), table.info().name.clone()));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    tables.sort();
    tables.dedup();
    Ok(tables)
}

fn table_source(node: &LogicalPlan) -> Option<&Arc<dyn TableSource>> {
    match node {
        LogicalPlan::TableScan(scan) => Some(&scan.source),
        LogicalPlan::Dml(dml) => Some(&dml.target),
        _ => None,
    }
}

fn stored(source: &Arc<dyn TableSource>) -> Option<&StoredTable> {
    StoredTable::behind(source.as_ref())
}

fn with_source(node: LogicalPlan, source: Arc<dyn TableSource>) -> LogicalPlan {
    match node {
        LogicalPlan::TableScan(scan) => LogicalPlan::TableScan(TableScan { source, ..scan }),
        LogicalPlan::Dml(dml) => LogicalPlan::Dml(DmlStatement {
            target: source,
            ..dml
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan(sql: &str) -> LogicalPlan {
        SessionContext::new()
            .state()
            .create_logical_plan(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    #[tokio::test]
    async fn only_typed_immutable_queries_and_inserts_are_kept() {
        assert!(keepable(&plan("SELECT $1 + CAST(1 AS BIGINT)").await).expect("walks"));
        assert!(keepable(&plan("SELECT abs(-1)").await).expect("walks"));
        // The optimiser would fold now() into a value at plan time.
        assert!(!keepable(&plan("SELECT now()").await).expect("walks"));
        assert!(!keepable(&plan("SELECT 1 WHERE now() > now()").await).expect("walks"));
        // No type for the placeholder: planned with its value each time.
        assert!(!keepable(&plan("SELECT $1").await).expect("walks"));
        assert!(!keepable(&plan("EXPLAIN SELECT 1").await).expect("walks"));
        assert!(!keepable(&plan("CREATE TABLE t (a INT)").await).expect("walks"));
        // A scan of anything but a stored table (here DataFusion's range()).
        assert!(!keepable(&plan("SELECT * FROM range(3)").await).expect("walks"));
    }

    #[tokio::test]
    async fn values_bind_only_with_their_placeholders_types() {
        let kept = plan("SELECT $1 + CAST(1 AS BIGINT)").await;
        let exact = ParamValues::from(vec![ScalarValue::Int64(Some(41))]);
        let bound = bind_values(kept.clone(), Some(&exact))
            .expect("binds")
            .expect("same type");
        assert!(bound.get_parameter_types().expect("walks").is_empty());
        let other = ParamValues::from(vec![ScalarValue::Int32(Some(41))]);
        assert!(
            bind_values(kept.clone(), Some(&other))
                .expect("checks")
                .is_none()
        );
        let missing = ParamValues::from(Vec::<ScalarValue>::new());
        assert!(bind_values(kept, Some(&missing)).expect("checks").is_none());
    }

    #[tokio::test]
    async fn binding_a_kept_plan_changes_no_column_name() {
        let kept = pin_names(plan("SELECT $1 + CAST(1 AS BIGINT), 2").await).expect("pins");
        let names = |p: &LogicalPlan| -> Vec<String> {
            p.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        };
        let before = names(&kept);
        assert!(fills_in_place(&kept).expect("walks"));
        let values = ParamValues::from(vec![ScalarValue::Int64(Some(41))]);
        let bound = bind_values(kept, Some(&values))
            .expect("binds")
            .expect("same type");
        assert_eq!(names(&bound), before);
        assert!(bound.get_parameter_types().expect("walks").is_empty());
        // An aggregate names its columns after its expressions: bound by
        // DataFusion, which recomputes the schemas.
        let aggregate =
            pin_names(plan("SELECT sum(column1 + $1) FROM (VALUES (CAST(1 AS BIGINT)))").await)
                .expect("pins");
        assert!(!fills_in_place(&aggregate).expect("walks"));
        let bound = bind_values(aggregate, Some(&values))
            .expect("binds")
            .expect("same type");
        assert!(bound.get_parameter_types().expect("walks").is_empty());
    }

    #[tokio::test]
    async fn the_least_recently_used_plan_goes_first() {
        let mut kept = KeptPlans::default();
        let one = plan("SELECT 1").await;
        for i in 0..CAPACITY {
            kept.keep(&format!("q{i}"), "p", one.clone(), Vec::new());
        }
        // q0 used last: q1 is the oldest when one more is kept.
        assert!(kept.get("q0", "p").is_some());
        kept.keep("new", "p", one.clone(), Vec::new());
        assert_eq!(kept.entries.len(), CAPACITY);
        assert!(kept.get("q0", "p").is_some());
        assert!(kept.get("q1", "p").is_none());
        assert!(kept.get("new", "p").is_some());
        // Kept per project.
        assert!(kept.get("new", "other").is_none());
        kept.forget("new", "p");
        assert!(kept.get("new", "p").is_none());
        kept.clear();
        assert!(kept.get("q0", "p").is_none());
    }
}
