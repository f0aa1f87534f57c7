//! Result column names as the original service shows them: a column keeps
//! its name, an aliased expression its alias, and any other expression is
//! `_c<position>` (`SELECT HEX(ks)` gives `_c0`, `SELECT count(*)` too).
//!
//! Read from the statement's own select list: DataFusion's plans alias some
//! expressions themselves (`count(Int64(1)) AS count(*)`), so the plan cannot
//! tell a user's alias from the engine's.

use datafusion::arrow::datatypes::Schema;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement};

/// What one select-list item is.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    /// A column reference or an aliased expression: keeps its name.
    Named,
    /// Any other expression.
    Unnamed,
    /// `*` or `t.*`: as many columns as it expands to, keeping their names.
    Wildcard,
}

/// The names to show for the result of `sql`, whose result has `schema`.
pub(crate) fn display_names(sql: &str, schema: &Schema) -> Vec<String> {
    let fields: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let Some(items) = select_items(sql) else {
        return fields;
    };
    let wildcards = items.iter().filter(|i| **i == Item::Wildcard).count();
    let fixed = items.len() - wildcards;
    let names_from_plan = || fields.clone();
    match wildcards {
        0 if fixed == fields.len() => {}
        1 if fields.len() >= fixed => {}
        _ => return names_from_plan(),
    }
    let expanded = fields.len() - fixed;
    let mut names = Vec::with_capacity(fields.len());
    for item in items {
        match item {
            Item::Wildcard => {
                names.extend(fields[names.len()..names.len() + expanded].iter().cloned())
            }
            Item::Named => names.push(fields[names.len()].clone()),
            Item::Unnamed => names.push(format!("_c{}", names.len())),
        }
    }
    names
}

fn select_items(sql: &str) -> Option<Vec<Item>> {
    let statements = DFParser::parse_sql(sql).ok()?;
    let DFStatement::Statement(statement) = statements.front()? else {
        return None;
    };
    let query: &Query = match statement.as_ref() {
        Statement::Query(q) => q,
        Statement::CreateTable(c) => c.query.as_deref()?,
        _ => return None,
    };
    let mut body = query.body.as_ref();
    // For UNION and friends, the first branch names the columns.
    loop {
        match body {
            SetExpr::Select(select) => {
                return Some(select.projection.iter().map(classify).collect());
            }
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = q.body.as_ref(),
            _ => return None,
        }
    }
}

fn classify(item: &SelectItem) -> Item {
    match item {
        SelectItem::UnnamedExpr(Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => Item::Named,
        SelectItem::UnnamedExpr(Expr::Nested(inner)) if matches!(**inner, Expr::Identifier(_)) => {
            Item::Named
        }
        SelectItem::UnnamedExpr(_) => Item::Unnamed,
        SelectItem::ExprWithAlias { .. } | SelectItem::ExprWithAliases { .. } => Item::Named,
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(_, _) => Item::Wildcard,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field};

    use super::*;

    fn schema(names: &[&str]) -> Schema {
        Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn expressions_are_numbered_by_position() {
        let names = display_names(
            "SELECT t.id, count(*), HEX(ks) AS h, upper(name) FROM t",
            &schema(&["id", "count(*)", "h", "upper(t.name)"]),
        );
        assert_eq!(names, vec!["id", "_c1", "h", "_c3"]);
    }

    #[test]
    fn wildcards_expand_with_their_names() {
        let names = display_names("SELECT *, 1 FROM t", &schema(&["a", "b", "Int64(1)"]));
        assert_eq!(names, vec!["a", "b", "_c2"]);
        let names = display_names("SELECT 1 UNION ALL SELECT 2", &schema(&["Int64(1)"]));
        assert_eq!(names, vec!["_c0"]);
        // Not a query: the plan's names.
        assert_eq!(
            display_names("EXPLAIN SELECT 1", &schema(&["plan_type", "plan"])),
            vec!["plan_type", "plan"]
        );
    }
}
