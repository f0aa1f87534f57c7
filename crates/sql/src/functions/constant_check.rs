//! Planning-time check that every `USE_WRAPPED_KEYSET` call's wrapped keyset
//! is a constant, so that a column reference is refused before anything runs
//! (rather than failing, or unwrapping per row, at execution).

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan};

use super::use_wrapped_keyset::{NOT_CONSTANT, SPEC, WRAPPED_ARG};

/// Fails with [`NOT_CONSTANT`] if a `USE_WRAPPED_KEYSET` call anywhere in
/// `plan` (subqueries included) takes a non-constant wrapped keyset.
pub(crate) fn check_wrapped_keysets_constant(plan: &LogicalPlan) -> Result<()> {
    let name = SPEC.function.to_ascii_lowercase();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarFunction(call) = e
                    && call.func.name() == name
                    && call.args.get(WRAPPED_ARG).is_some_and(|a| !is_constant(a))
                {
                    return Err(DataFusionError::Plan(NOT_CONSTANT.to_owned()));
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .map(|_| ())
}

/// No column, no subquery, nothing volatile: the same value for every row.
fn is_constant(expr: &Expr) -> bool {
    !expr.is_volatile()
        && !expr
            .exists(|e| {
                Ok(matches!(
                    e,
                    Expr::Column(_)
                        | Expr::OuterReferenceColumn(..)
                        | Expr::ScalarSubquery(_)
                        | Expr::Exists(_)
                        | Expr::InSubquery(_)
                ))
            })
            .unwrap_or(true)
}
