//! Keeping key material out of the plans a session sends to a cluster.
//!
//! A query's keyset constants (a keyset literal, a variable, what
//! `KEYSET_FROM_JSON('...')` or `USE_WRAPPED_KEYSET(...)` folds into while
//! the plan is optimised) are sealed where a keyset function takes them
//! ([`seal`]). Anything else that would carry key material is refused:
//! [`check_unoptimised`] before optimisation (which could fold key material
//! into a value nothing recognises, such as its HEX), [`check_sealed`] after
//! sealing.

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use sealhouse_crypto::Keyset;

use super::format::{SealedKind, is_sealed};
use crate::functions::{KEY_MATERIAL, KeysetConstant, RAW_KEY, ROLE_CHAIN, SEALABLE};

/// What the refusals end with.
const INSTEAD: &str = "run this statement without --cluster";

fn refuse(what: String) -> DataFusionError {
    DataFusionError::NotImplemented(format!("{what}; {INSTEAD}"))
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Refuses, before optimisation, key material that would be folded into a
/// constant other than a keyset argument: a call making key material on
/// constants, or a variable holding what a keyset function made (named in
/// `keyset_values`), used anywhere but as a keyset function's argument or
/// a result column (which [`check_sealed`] sees).
pub(crate) fn check_unoptimised(
    plan: &LogicalPlan,
    keyset_values: &[(&String, &ScalarValue)],
) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            check_expr(expr, true, keyset_values)?;
            Ok(TreeNodeRecursion::Continue)
        })
    })?;
    Ok(())
}

/// `passed`: whether `expr` is a keyset function's argument or a whole
/// expression (a result column, whose constant [`check_sealed`] sees).
fn check_expr(expr: &Expr, passed: bool, keyset_values: &[(&String, &ScalarValue)]) -> Result<()> {
    let passes_key_material = match expr {
        Expr::ScalarFunction(call) => {
            let name = lower(call.name());
            SEALABLE.contains(&name.as_str()) || KEY_MATERIAL.contains(&name.as_str())
        }
        Expr::Alias(_) => passed,
        _ => false,
    };
    match expr {
        Expr::ScalarFunction(call)
            if KEY_MATERIAL.contains(&lower(call.name()).as_str())
                && !passed
                && !expr.any_column_refs()
                && !expr.is_volatile()
                && !shows_wrapped_keyset(expr) =>
        {
            return Err(refuse(format!(
                "{}(...) on constants would reach the cluster folded into a constant holding \
                 key material; pass it straight to ENHANCED_SYM_ENCRYPT, ENHANCED_SYM_DECRYPT \
                 or KEYSET_TO_JSON as their keyset",
                call.name().to_ascii_uppercase()
            )));
        }
        Expr::Literal(value, _) if !passed => {
            if let Some((name, _)) = keyset_values.iter().find(|(_, v)| *v == value) {
                return Err(refuse(format!(
                    "@{name} holds what a keyset function made, and here it is not a keyset \
                     argument, so it would travel in the plan to the cluster"
                )));
            }
        }
        _ => {}
    }
    expr.apply_children(|child| {
        check_expr(child, passes_key_material, keyset_values)?;
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

/// Whether `expr` is `KEYSET_TO_JSON` of a wrapped keyset, whose key
/// material it masks, made of nothing else that holds key material.
fn shows_wrapped_keyset(expr: &Expr) -> bool {
    let Expr::ScalarFunction(call) = expr else {
        return false;
    };
    let is = |e: &Expr, names: &[&str]| matches!(e, Expr::ScalarFunction(c) if names.contains(&lower(c.name()).as_str()));
    lower(call.name()) == "keyset_to_json"
        && call.args.first().is_some_and(|arg| {
            arg.exists(|e| Ok(is(e, &["use_wrapped_keyset"])))
                .unwrap_or(false)
                && !arg.exists(|e| Ok(is(e, KEY_MATERIAL))).unwrap_or(true)
        })
}

/// The names the constant keyset arguments of keyset functions have in
/// the unoptimised `plan` (`unhex(Utf8("..."))`, a bound variable's value):
/// names of the columns computed from them hold these, and [`seal`] takes
/// them out.
pub(crate) fn keyset_names(plan: &LogicalPlan) -> Result<Vec<String>> {
    let mut names = Vec::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarFunction(call) = e
                    && let Some(at) = sealed_argument(call.name())
                    && let Some(arg) = call.args.get(at)
                    && !arg.any_column_refs()
                    && !arg.is_volatile()
                    && !matches!(arg, Expr::Literal(ScalarValue::Null, _))
                {
                    let name = arg.schema_name().to_string();
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(names)
}

/// Seals keyset bytes of a kind.
pub(crate) type SealFn<'a> = &'a dyn Fn(SealedKind, &[u8]) -> Result<Vec<u8>>;

/// Says what keyset bytes stand for in the statement.
pub(crate) type ClassifyFn<'a> = &'a dyn Fn(&[u8]) -> KeysetConstant;

/// What a keyset constant's name becomes in the names of columns.
const SEALED_NAME: &str = "sealed_keyset";

/// `plan` (optimised) with each constant keyset argument of a keyset
/// function replaced by its sealed form (`classify` says what keyset bytes
/// stand for in the statement, `seal` seals them), and `keyset_names`
/// taken out of every column name.
pub(crate) fn seal(
    plan: LogicalPlan,
    keyset_names: &[String],
    classify: ClassifyFn<'_>,
    seal: SealFn<'_>,
) -> Result<LogicalPlan> {
    let sealed = plan.transform_up_with_subqueries(|node| {
        // A sealed expression keeps the name it had, as optimisation does.
        let names = NamePreserver::new(&node);
        node.map_expressions(|expr| {
            let name = names.save(&expr);
            let sealed = expr.transform_up(|e| seal_call(e, classify, seal))?;
            Ok(if sealed.transformed {
                sealed.update_data(|e| name.restore(e))
            } else {
                sealed
            })
        })
    })?;
    if keyset_names.is_empty() {
        return Ok(sealed.data);
    }
    let rename = |name: &mut String| {
        let renamed = keyset_names
            .iter()
            .fold(name.clone(), |n, k| n.replace(k.as_str(), SEALED_NAME));
        let changed = renamed != *name;
        *name = renamed;
        changed
    };
    sealed
        .data
        .transform_up_with_subqueries(|node| {
            node.map_expressions(|expr| {
                expr.transform_up(|e| match e {
                    Expr::Alias(mut alias) => {
                        let changed = rename(&mut alias.name);
                        Ok(Transformed::new_transformed(Expr::Alias(alias), changed))
                    }
                    Expr::Column(mut column) => {
                        let changed = rename(&mut column.name);
                        Ok(Transformed::new_transformed(Expr::Column(column), changed))
                    }
                    e => Ok(Transformed::no(e)),
                })
            })?
            // Every schema again: a child's names may have changed.
            .map_data(LogicalPlan::recompute_schema)
        })
        .map(|t| t.data)
}

/// A keyset function call with its constant keyset sealed.
fn seal_call(e: Expr, classify: ClassifyFn<'_>, seal: SealFn<'_>) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(mut call) = e else {
        return Ok(Transformed::no(e));
    };
    let Some(at) = sealed_argument(call.name()) else {
        return Ok(Transformed::no(Expr::ScalarFunction(call)));
    };
    let raw_key = at != 0;
    let sealed = match call.args.get(at) {
        Some(Expr::Literal(value, _)) if raw_key => keyset_bytes(value)
            .map(|key| seal(SealedKind::RawKey, &key))
            .transpose()?,
        Some(Expr::Literal(value, _)) => sealed_form(value, classify, seal)?,
        _ => None,
    };
    match sealed {
        Some(bytes) => {
            call.args[at] = Expr::Literal(ScalarValue::Binary(Some(bytes)), None);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        None => Ok(Transformed::no(Expr::ScalarFunction(call))),
    }
}

/// Where function `name` takes what a seal stands in for: a keyset function's
/// keyset (first), or a raw-key function's key.
fn sealed_argument(name: &str) -> Option<usize> {
    let name = lower(name);
    if SEALABLE.contains(&name.as_str()) {
        return Some(0);
    }
    RAW_KEY.iter().find(|(f, _)| *f == name).map(|(_, at)| *at)
}

/// The sealed form of a keyset constant; `None` for one that holds no
/// keyset (NULL, a stale reference, bytes that do not parse), which the
/// function refuses where it runs as it would here.
fn sealed_form(
    value: &ScalarValue,
    classify: ClassifyFn<'_>,
    seal: SealFn<'_>,
) -> Result<Option<Vec<u8>>> {
    let Some(bytes) = keyset_bytes(value) else {
        return Ok(None);
    };
    match classify(&bytes) {
        KeysetConstant::Reference(keyset) => seal(SealedKind::Reference, keyset.expose()).map(Some),
        KeysetConstant::Stale => Ok(None),
        KeysetConstant::Bytes if Keyset::from_bytes(&bytes).is_ok() => {
            seal(SealedKind::Keyset, &bytes).map(Some)
        }
        KeysetConstant::Bytes => Ok(None),
    }
}

/// The bytes a keyset argument's constant gives the function: binary, or
/// the `keyset` field of `USE_WRAPPED_KEYSET`'s STRUCT.
fn keyset_bytes(value: &ScalarValue) -> Option<Vec<u8>> {
    match value {
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b))
        | ScalarValue::FixedSizeBinary(_, Some(b)) => Some(b.clone()),
        ScalarValue::Struct(array) => {
            let column = array.column_by_name(crate::functions::KEYSET_FIELD)?;
            match ScalarValue::try_from_array(column, 0).ok()? {
                ScalarValue::Struct(_) => None,
                inner => keyset_bytes(&inner),
            }
        }
        _ => None,
    }
}

/// Refuses a sealed plan that would still carry key material: a constant
/// that is a keyset or a keyset's JSON, a function acting through the
/// session's role chain, a raw key given as a constant, or a name holding
/// one of `keyset_names`; and a sealed keyset that is not one of `sealed`
/// (made for this statement): one a user got hold of opens nothing.
pub(crate) fn check_sealed(
    plan: &LogicalPlan,
    keyset_names: &[String],
    sealed: &[Vec<u8>],
) -> Result<()> {
    let shown = plan.display_indent_schema().to_string();
    if keyset_names
        .iter()
        .any(|name| shown.contains(name.as_str()))
    {
        return Err(refuse(
            "a name in the query's plan would show a keyset constant".to_owned(),
        ));
    }
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                match e {
                    Expr::Literal(value, _)
                        if keyset_bytes(value)
                            .is_some_and(|b| is_sealed(&b) && !sealed.contains(&b)) =>
                    {
                        return Err(DataFusionError::Plan(
                            "the query holds a sealed keyset it did not make: sealed keysets \
                             are made by the warehouse for one statement; pass the keyset itself"
                                .to_owned(),
                        ));
                    }
                    Expr::Literal(value, _) if holds_keyset(value) => {
                        return Err(refuse(
                            "the query has a keyset (key material) as a constant other than a \
                             keyset function's keyset, which must not travel in a plan to a \
                             cluster"
                                .to_owned(),
                        ));
                    }
                    Expr::ScalarFunction(call) => {
                        let name = lower(call.name());
                        if ROLE_CHAIN.contains(&name.as_str()) {
                            return Err(refuse(format!(
                                "{} acts through your role chain, which stays with the session: \
                                 on a cluster it runs only on constant arguments, folded before \
                                 the plan is sent",
                                call.name().to_ascii_uppercase()
                            )));
                        }
                        // A constant key is sealed (above); anything else
                        // made of constants would carry it in the clear.
                        if let Some((_, at)) = RAW_KEY.iter().find(|(f, _)| *f == name)
                            && call.args.get(*at).is_some_and(|key| {
                                !key.any_column_refs()
                                    && !matches!(key, Expr::Literal(v, _)
                                        if v.is_null() || keyset_bytes(v).is_some_and(|b| is_sealed(&b)))
                            })
                        {
                            return Err(refuse(format!(
                                "{}'s key is made of constants that were not folded into one, \
                                 so it would travel in the clear; give the key as a constant \
                                 (UNHEX('...') or a variable), or keep it in a keyset",
                                call.name().to_ascii_uppercase()
                            )));
                        }
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(())
}

/// Whether a constant is a keyset, or a keyset's JSON with its key material.
fn holds_keyset(value: &ScalarValue) -> bool {
    match value {
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b))
        | ScalarValue::FixedSizeBinary(_, Some(b)) => Keyset::from_bytes(b).is_ok(),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => {
            s.trim_start().starts_with('{') && Keyset::from_json(s).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, BinaryArray, StringArray, StructArray};
    use datafusion::arrow::datatypes::{DataType, Field};
    use sealhouse_crypto::Algorithm;

    use super::*;

    fn keyset() -> Vec<u8> {
        Keyset::new(Algorithm::AesGcm256, "k")
            .expect("new")
            .to_bytes()
            .expose()
            .to_vec()
    }

    #[test]
    fn keysets_and_their_json_are_recognised_as_constants() {
        let bytes = keyset();
        let json = Keyset::from_bytes(&bytes).expect("parses").to_json();
        for held in [
            ScalarValue::Binary(Some(bytes.clone())),
            ScalarValue::LargeBinary(Some(bytes.clone())),
            ScalarValue::BinaryView(Some(bytes.clone())),
            ScalarValue::Utf8(Some(json.to_string())),
            ScalarValue::Utf8View(Some(format!("  {}", &*json))),
        ] {
            assert!(holds_keyset(&held), "{:?}", held.data_type());
        }
        for not in [
            ScalarValue::Binary(Some(b"junk".to_vec())),
            ScalarValue::Utf8(Some("{\"key\": []}".to_owned())),
            ScalarValue::Utf8(Some("plain text".to_owned())),
            ScalarValue::Int64(Some(1)),
            ScalarValue::Binary(None),
        ] {
            assert!(!holds_keyset(&not), "{not:?}");
        }
    }

    #[test]
    fn the_keyset_of_use_wrapped_keysets_struct_is_its_keyset_field() {
        let reference: ArrayRef = Arc::new(BinaryArray::from_iter_values([b"ref".as_slice()]));
        let info: ArrayRef = Arc::new(StringArray::from(vec!["{}"]));
        let fields = vec![
            Arc::new(Field::new("keyset", DataType::Binary, true)),
            Arc::new(Field::new("wrapped_keyset_info", DataType::Utf8, true)),
        ];
        let value =
            StructArray::try_new(fields.into(), vec![reference, info], None).expect("struct");
        assert_eq!(
            keyset_bytes(&ScalarValue::Struct(Arc::new(value))),
            Some(b"ref".to_vec())
        );
        assert_eq!(keyset_bytes(&ScalarValue::Utf8(Some("x".into()))), None);
    }

    #[test]
    fn a_constant_keyset_argument_is_sealed_and_its_name_kept() {
        use datafusion::logical_expr::{LogicalPlanBuilder, lit};
        use datafusion::prelude::col;

        let bytes = keyset();
        let encrypt = crate::functions::all(None, None)
            .udfs
            .into_iter()
            .find(|f| f.name() == "enhanced_sym_encrypt")
            .expect("the function");
        let plan = LogicalPlanBuilder::values(vec![vec![lit("x")]])
            .expect("values")
            .project(vec![
                Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    Arc::new(encrypt),
                    vec![
                        lit(ScalarValue::Binary(Some(bytes.clone()))),
                        col("column1"),
                    ],
                ))
                .alias("ct"),
            ])
            .expect("project")
            .build()
            .expect("plan");
        let sealed = seal(plan, &[], &|_| KeysetConstant::Bytes, &|kind, keyset| {
            assert_eq!(kind, SealedKind::Keyset);
            let mut out = super::super::format::PREFIX.to_vec();
            out.extend_from_slice(&keyset[..4]);
            Ok(out)
        })
        .expect("sealed");
        assert_eq!(sealed.schema().field(0).name(), "ct");
        let shown = sealed.display_indent().to_string();
        assert!(shown.contains("enhanced_sym_encrypt"), "{shown}");
        let mut made = super::super::format::PREFIX.to_vec();
        made.extend_from_slice(&bytes[..4]);
        check_sealed(&sealed, &[], &[made]).expect("its own seal, no keyset left");
        let err = check_sealed(&sealed, &[], &[]).expect_err("a seal it did not make");
        assert!(err.to_string().contains("did not make"), "{err}");
        let mut found = false;
        sealed
            .apply_expressions(|e| {
                e.apply(|e| {
                    if let Expr::Literal(ScalarValue::Binary(Some(b)), _) = e {
                        found |= is_sealed(b);
                        assert_ne!(b, &bytes, "the keyset itself is left");
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })
            .expect("walks");
        assert!(found, "the keyset was replaced by its seal");
    }
}
