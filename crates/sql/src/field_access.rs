//! `expr.field` on a STRUCT value that is not a column, such as
//! `USE_WRAPPED_KEYSET(...).wrapped_keyset_info` (the original service's
//! way to read a wrapped keyset's information). DataFusion 54 plans a dot
//! after an expression only when the field is a string literal
//! (`expr.'field'`), so each statement's `.name` there is rewritten to
//! `.'name'` before planning; qualified column names (`t.c`, `p.t.c`) are
//! identifiers of their own and are not touched.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{AccessExpr, Expr, Value, visit_expressions_mut};

/// Rewrites every `expr.name` field access in `statement` to `expr.'name'`.
pub(crate) fn quote_field_names(statement: &mut DfStatement) {
    let DfStatement::Statement(statement) = statement else {
        return;
    };
    let _ = visit_expressions_mut(statement.as_mut(), |expr| {
        if let Expr::CompoundFieldAccess { access_chain, .. } = expr {
            for access in access_chain {
                if let AccessExpr::Dot(Expr::Identifier(name)) = access {
                    let quoted = Value::SingleQuotedString(name.value.clone());
                    *access = AccessExpr::Dot(Expr::Value(quoted.with_empty_span()));
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn rewritten(sql: &str) -> String {
        let mut statements = DFParser::parse_sql(sql).expect("parses");
        let mut statement = statements.pop_front().expect("one");
        quote_field_names(&mut statement);
        statement.to_string()
    }

    #[test]
    fn fields_of_expressions_are_quoted_and_column_names_are_not() {
        assert_eq!(
            rewritten("SELECT f(1).info FROM t"),
            "SELECT f(1).'info' FROM t"
        );
        assert_eq!(
            rewritten("SELECT t.c, p.t.c FROM p.t"),
            "SELECT t.c, p.t.c FROM p.t"
        );
    }
}
