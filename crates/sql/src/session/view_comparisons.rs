//! Comparisons of a view column cast to BINARY, done on views.
//!
//! Scans hand BINARY columns, and wide STRING columns, on as views (storage's
//! `ColumnType::scan_type`). `CAST(x AS BINARY)` of a view column copies
//! every value into a new offset buffer; in a comparison (`WHERE
//! ENHANCED_SYM_DECRYPT(ks, c) = CAST(x AS BINARY)`) that copy is all the
//! cast is for, and it took a fifth of a profile of such a query over 1 KiB
//! values (BENCHMARKS.md, "Comparisons on views"). Comparing as `BinaryView` gives
//! the same answer: the view side is only re-typed, the other side gets
//! views over its own buffer, and the bytes compared are the same. So this
//! rule, run after type coercion, turns `CAST(v AS BINARY) <op> e` (v of a
//! view type) into `CAST(v AS BINARY VIEW) <op> CAST(e AS BINARY VIEW)`, a
//! literal `e` into a view literal. Only operands of comparisons are
//! changed: nothing a query returns changes type.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{BinaryExpr, Cast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// The rule (the module doc says what it does).
#[derive(Debug)]
pub(super) struct ViewComparisons;

impl AnalyzerRule for ViewComparisons {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            // The columns an expression of this node can name: its
            // inputs' (as type coercion resolves them).
            let mut schema = DFSchema::empty();
            for input in node.inputs() {
                schema.merge(input.schema());
            }
            node.map_expressions(|expr| expr.transform_up(|e| on_views(e, &schema)))
        })
        .data()
    }

    fn name(&self) -> &str {
        "view_comparisons"
    }
}

/// `expr` compared on views, if it is a comparison with a view cast to
/// BINARY on one side and BINARY on the other.
fn on_views(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if !COMPARISONS.contains(op) {
        return Ok(Transformed::no(expr));
    }
    // A type that cannot be resolved here (an expression this rule does
    // not know the schema of) leaves the comparison as it is.
    let type_of = |e: &Expr| e.get_type(schema).ok();
    let is_binary = |e: &Expr| type_of(e) == Some(DataType::Binary);
    let view_cast = |e: &Expr| match e {
        Expr::Cast(Cast { expr, .. }) => {
            is_binary(e)
                && matches!(
                    type_of(expr),
                    Some(DataType::Utf8View | DataType::BinaryView)
                )
        }
        _ => false,
    };
    let (left_view, right_view) = (view_cast(left), view_cast(right));
    if !(left_view || right_view) || !is_binary(left) || !is_binary(right) {
        return Ok(Transformed::no(expr));
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return Ok(Transformed::no(expr));
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
        left: Box::new(as_view(*left, left_view)),
        op,
        right: Box::new(as_view(*right, right_view)),
    })))
}

/// The operators whose answer is the same on views as on BINARY: each
/// compares the bytes, in order.
const COMPARISONS: [Operator; 8] = [
    Operator::Eq,
    Operator::NotEq,
    Operator::Lt,
    Operator::LtEq,
    Operator::Gt,
    Operator::GtEq,
    Operator::IsDistinctFrom,
    Operator::IsNotDistinctFrom,
];

/// A BINARY expression as `BinaryView`: a cast of a view re-typed (the
/// cast becomes one that copies nothing), a literal converted, anything
/// else cast (views over its own buffer).
fn as_view(expr: Expr, view_cast: bool) -> Expr {
    match expr {
        Expr::Cast(Cast { expr, .. }) if view_cast => {
            Expr::Cast(Cast::new(expr, DataType::BinaryView))
        }
        Expr::Literal(ScalarValue::Binary(value), metadata) => {
            Expr::Literal(ScalarValue::BinaryView(value), metadata)
        }
        other => Expr::Cast(Cast::new(Box::new(other), DataType::BinaryView)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, BinaryArray, BinaryViewArray, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A plain DataFusion session (SQL spells BINARY `BYTEA` there) with
    /// the rule, or without it, over a table of text views
    /// `v`, BINARY `b` (each row: `v`'s bytes, except one that differs and
    /// one NULL) and BINARY views `bv`.
    fn session(with_rule: bool) -> SessionContext {
        let ctx = SessionContext::new();
        if with_rule {
            ctx.add_analyzer_rule(Arc::new(ViewComparisons));
        }
        let long = "x".repeat(40);
        let v = vec![Some("a"), Some(long.as_str()), Some("c"), None, Some("e")];
        let b = vec![
            Some(&b"a"[..]),
            Some(long.as_bytes()),
            Some(&b"zz"[..]),
            Some(&b"d"[..]),
            None,
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Utf8View, true),
            Field::new("b", DataType::Binary, true),
            Field::new("bv", DataType::BinaryView, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringViewArray::from(v)),
            Arc::new(BinaryArray::from(b.clone())),
            Arc::new(BinaryViewArray::from(b)),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("batch");
        let table = MemTable::try_new(schema, vec![vec![batch]]).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        ctx
    }

    async fn run(ctx: &SessionContext, sql: &str) -> (String, String) {
        let df = ctx.sql(sql).await.expect("plans");
        let plan = df
            .clone()
            .into_optimized_plan()
            .expect("optimizes")
            .display_indent_schema()
            .to_string();
        let batches = df.collect().await.expect("runs");
        (
            pretty_format_batches(&batches)
                .expect("formats")
                .to_string(),
            plan,
        )
    }

    #[tokio::test]
    async fn comparisons_of_a_view_cast_to_binary_run_on_views_with_the_same_answers() {
        let (with, without) = (session(true), session(false));
        for sql in [
            "SELECT count(*) FROM t WHERE b = CAST(v AS BYTEA)",
            "SELECT count(*) FROM t WHERE CAST(v AS BYTEA) <> b",
            "SELECT count(*) FROM t WHERE CAST(v AS BYTEA) < b",
            "SELECT count(*) FROM t WHERE b >= CAST(v AS BYTEA)",
            "SELECT count(*) FROM t WHERE CAST(v AS BYTEA) IS DISTINCT FROM b",
            "SELECT count(*) FROM t WHERE CAST(v AS BYTEA) IS NOT DISTINCT FROM b",
            "SELECT count(*) FROM t WHERE CAST(bv AS BYTEA) = CAST(v AS BYTEA)",
            "SELECT count(*) FROM t WHERE CAST(v AS BYTEA) = CAST('c' AS BYTEA)",
            "SELECT v, CAST(v AS BYTEA) = b AS same FROM t ORDER BY v",
        ] {
            let (rows, plan) = run(&with, sql).await;
            let (expected, before) = run(&without, sql).await;
            assert_eq!(rows, expected, "{sql}");
            assert!(plan.contains("AS BinaryView"), "{sql}: {plan}");
            assert!(!before.contains("BinaryView)"), "{sql}: {before}");
        }
    }

    #[tokio::test]
    async fn nothing_but_comparisons_changes() {
        let ctx = session(true);
        // A cast a query returns keeps its type; a comparison of text, or
        // of BINARY that is no view, is left alone.
        for sql in [
            "SELECT CAST(v AS BYTEA) AS c FROM t",
            "SELECT count(*) FROM t WHERE v = 'c'",
            "SELECT count(*) FROM t WHERE b = CAST('c' AS BYTEA)",
        ] {
            let (_, plan) = run(&ctx, sql).await;
            assert!(!plan.contains("AS BinaryView"), "{sql}: {plan}");
        }
        let (rows, _) = run(
            &ctx,
            "SELECT arrow_typeof(CAST(v AS BYTEA)) AS t FROM t LIMIT 1",
        )
        .await;
        assert!(rows.contains("| Binary |"), "{rows}");
    }

    #[tokio::test]
    async fn comparisons_in_subqueries_and_joins_give_the_same_answers() {
        let (with, without) = (session(true), session(false));
        for sql in [
            "SELECT count(*) FROM t WHERE EXISTS \
             (SELECT 1 FROM t t2 WHERE CAST(t2.v AS BYTEA) = t.b)",
            "SELECT count(*) FROM t a JOIN t c ON CAST(a.v AS BYTEA) = c.b",
            "SELECT count(*) FROM t WHERE b IN (SELECT CAST(v AS BYTEA) FROM t)",
        ] {
            assert_eq!(run(&with, sql).await.0, run(&without, sql).await.0, "{sql}");
        }
    }
}
