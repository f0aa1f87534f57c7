//! Binding a portal's parameters to the values a plan runs with.
//!
//! arrow-pg decodes each parameter by the type the client sent or the plan
//! infers; for a parameter of neither (PostgreSQL's `unknown`, which is how
//! psycopg and others send Python `str`), its fallback reads a value that
//! starts with `{` and ends with `}` as an array literal, so the text
//! `{"ssn":"123-45-6789"}` came back as `["ssn":"123-45-6789"]`. PostgreSQL
//! itself takes an `unknown` parameter as text until context says otherwise,
//! and so do we: such a parameter is the exact text the client sent.
//!
//! A parameter's type is what DataFusion infers from its context, or, as in
//! PostgreSQL, the type it is cast to (`$1::bytea`): DataFusion leaves a
//! parameter under a cast untyped, and drivers then refuse to send, say,
//! bytes for it.

use std::collections::HashMap;

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::into_pg_type;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::{Expr, LogicalPlan};
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use pgwire::error::PgWireResult;

use crate::error::ClientError;

/// Types whose parameters are their text exactly (arrow-pg would read a
/// `{...}` value of these as an array): `unknown`, and JSON sent as such.
const TEXT_AS_IS: [Type; 3] = [Type::UNKNOWN, Type::JSON, Type::JSONB];

/// The values of `portal`'s parameters, `inferred` being the types the
/// plan gives them (`None`: it gives none).
pub(crate) fn bind<S: Clone>(
    portal: &Portal<S>,
    inferred: &[Option<&DataType>],
) -> PgWireResult<ParamValues> {
    let mut values = deserialize_parameters(portal, inferred)?;
    if let ParamValues::List(list) = &mut values {
        for (i, value) in list.iter_mut().enumerate() {
            let ty = effective_type(portal, inferred, i)?;
            if TEXT_AS_IS.contains(&ty) {
                let text = portal.parameter::<String>(i, &ty)?;
                *value = ScalarValue::Utf8(text).into();
            }
        }
    }
    Ok(values)
}

/// The type arrow-pg decodes parameter `i` as: the client's if it sent
/// one (`unknown` included), else the plan's, else `unknown`.
fn effective_type<S>(
    portal: &Portal<S>,
    inferred: &[Option<&DataType>],
    i: usize,
) -> PgWireResult<Type> {
    match (
        portal.statement.parameter_types.get(i).cloned().flatten(),
        inferred.get(i).copied().flatten(),
    ) {
        (Some(hint), _) => Ok(hint),
        (None, Some(inferred)) => into_pg_type(inferred),
        (None, None) => Ok(Type::UNKNOWN),
    }
}

/// The plan's `$1`, `$2` ... types in order (`None`: not inferred).
pub(crate) fn types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| ClientError::from_sql(e.into()).into_pgwire())?;
    let casts = cast_types(plan);
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .map(|(name, t)| {
            let n = name
                .trim_start_matches('$')
                .parse::<usize>()
                .unwrap_or(usize::MAX);
            (n, t.or_else(|| casts.get(&name).cloned()))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered.into_iter().map(|(_, t)| t).collect())
}

/// The type each parameter is first cast to (`$1::bytea`), anywhere in
/// the plan, subqueries included.
fn cast_types(plan: &LogicalPlan) -> HashMap<String, DataType> {
    let mut casts = HashMap::new();
    let mut note = |e: &Expr| {
        let (inner, to) = match e {
            Expr::Cast(c) => (&c.expr, c.field.data_type()),
            Expr::TryCast(c) => (&c.expr, c.field.data_type()),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        if let Expr::Placeholder(p) = inner.as_ref() {
            casts.entry(p.id.clone()).or_insert_with(|| to.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    };
    // Walking a plan in memory cannot fail; a failure would only leave
    // parameters untyped, as DataFusion left them.
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| e.apply(&mut note))?;
        Ok(TreeNodeRecursion::Continue)
    });
    casts
}
