//! The predicate a scan descriptor carries: the query's conditions on the
//! table's own columns that a reader may use to skip row groups and pages
//! (Parquet statistics, page indexes, bloom filters).
//!
//! It is a small language of its own rather than DataFusion's expressions,
//! so that it serialises with the descriptor, names nothing but columns and
//! constants (no function of the warehouse, so nothing that could need a
//! key runs where the descriptor is read), and is checked against the
//! table's schema wherever it arrives. Pruning is only ever an
//! optimisation: the query still filters every row it reads, so a
//! predicate the reader cannot use costs speed, never rows.

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, lit};
use serde::{Deserialize, Serialize};

use crate::StorageError;

/// A condition on one snapshot's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanPredicate {
    /// `column <op> value`.
    Compare {
        /// The column's name.
        column: String,
        /// The comparison.
        op: Comparison,
        /// The constant, as text of the column's type.
        value: String,
    },
    /// `column IS NULL` (`negated`: `IS NOT NULL`).
    IsNull {
        /// The column's name.
        column: String,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `column IN (values)` (`negated`: `NOT IN`).
    InList {
        /// The column's name.
        column: String,
        /// The constants, as text of the column's type.
        values: Vec<String>,
        /// `NOT IN`.
        negated: bool,
    },
    /// All of them hold.
    And(Vec<ScanPredicate>),
    /// One of them holds.
    Or(Vec<ScanPredicate>),
    /// It does not hold.
    Not(Box<ScanPredicate>),
}

/// A comparison of a column with a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `<>`
    #[serde(rename = "<>")]
    NotEq,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    LtEq,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    GtEq,
}

/// How deep a query's condition may nest and still be carried (deeper ones
/// are left to the query's own filter).
const MAX_DEPTH: usize = 32;

impl ScanPredicate {
    /// `filter` as a scan predicate over `schema`, if it is one: column
    /// comparisons with constants of the column's own type, null tests,
    /// `IN` lists, `BETWEEN`, and `AND` / `OR` / `NOT` of them. A constant
    /// whose text does not read back as the same value is not carried.
    pub fn from_filter(filter: &Expr, schema: &Schema) -> Option<Self> {
        Self::from_expr(filter, schema, 0)
    }

    /// All of `filters` that are scan predicates, as one (`None`: none is).
    pub fn all_of(filters: &[Expr], schema: &Schema) -> Option<Self> {
        let mut all: Vec<Self> = filters
            .iter()
            .filter_map(|f| Self::from_filter(f, schema))
            .collect();
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Self::And(all)),
        }
    }

    fn from_expr(expr: &Expr, schema: &Schema, depth: usize) -> Option<Self> {
        if depth > MAX_DEPTH {
            return None;
        }
        let below = |e: &Expr| Self::from_expr(e, schema, depth + 1);
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And | Operator::Or => {
                    let (left, right) = (below(left)?, below(right)?);
                    Some(if *op == Operator::And {
                        Self::And(vec![left, right])
                    } else {
                        Self::Or(vec![left, right])
                    })
                }
                _ => {
                    let op = Comparison::of(*op)?;
                    match (left.as_ref(), right.as_ref()) {
                        (Expr::Column(c), Expr::Literal(v, _)) => Self::compare(schema, c, op, v),
                        (Expr::Literal(v, _), Expr::Column(c)) => {
                            Self::compare(schema, c, op.flipped(), v)
                        }
                        _ => None,
                    }
                }
            },
            Expr::IsNull(e) | Expr::IsNotNull(e) => match e.as_ref() {
                Expr::Column(c) => {
                    column_type(schema, c)?;
                    Some(Self::IsNull {
                        column: c.name.clone(),
                        negated: matches!(expr, Expr::IsNotNull(_)),
                    })
                }
                _ => None,
            },
            Expr::InList(list) => {
                let Expr::Column(c) = list.expr.as_ref() else {
                    return None;
                };
                let ty = column_type(schema, c)?;
                let values = list
                    .list
                    .iter()
                    .map(|v| match v {
                        Expr::Literal(v, _) => as_text(v, ty),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Self::InList {
                    column: c.name.clone(),
                    values,
                    negated: list.negated,
                })
            }
            Expr::Between(between) => {
                let Expr::Column(c) = between.expr.as_ref() else {
                    return None;
                };
                let (Expr::Literal(low, _), Expr::Literal(high, _)) =
                    (between.low.as_ref(), between.high.as_ref())
                else {
                    return None;
                };
                let within = Self::And(vec![
                    Self::compare(schema, c, Comparison::GtEq, low)?,
                    Self::compare(schema, c, Comparison::LtEq, high)?,
                ]);
                Some(if between.negated {
                    Self::Not(Box::new(within))
                } else {
                    within
                })
            }
            Expr::Not(e) => Some(Self::Not(Box::new(below(e)?))),
            _ => None,
        }
    }

    fn compare(schema: &Schema, c: &Column, op: Comparison, value: &ScalarValue) -> Option<Self> {
        let value = as_text(value, column_type(schema, c)?)?;
        Some(Self::Compare {
            column: c.name.clone(),
            op,
            value,
        })
    }

    /// The predicate as a DataFusion expression over `schema`; an unknown
    /// column or a constant that is not of its column's type is an error
    /// (the descriptor is damaged).
    pub fn to_expr(&self, schema: &Schema) -> Result<Expr, StorageError> {
        let column = |name: &str| -> Result<(Expr, &DataType), StorageError> {
            let field = schema.field_with_name(name).map_err(|_| {
                StorageError::Corrupt(format!(
                    "the scan descriptor's predicate names column {name}, which the table does not have"
                ))
            })?;
            Ok((Expr::Column(Column::from_name(name)), field.data_type()))
        };
        let constant = |text: &str, ty: &DataType| -> Result<Expr, StorageError> {
            ScalarValue::try_from_string(text.to_owned(), ty)
                .ok()
                .filter(|v| !v.is_null())
                .map(lit)
                .ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "the scan descriptor's predicate compares with {text:?}, which is not a {ty}"
                    ))
                })
        };
        let joined = |parts: &[Self], op: Operator| -> Result<Expr, StorageError> {
            let mut parts = parts.iter().map(|p| p.to_expr(schema));
            let first = parts.next().ok_or_else(|| {
                StorageError::Corrupt("the scan descriptor's predicate joins nothing".into())
            })??;
            parts.try_fold(first, |acc, p| {
                Ok(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(acc),
                    op,
                    Box::new(p?),
                )))
            })
        };
        Ok(match self {
            Self::Compare {
                column: name,
                op,
                value,
            } => {
                let (c, ty) = column(name)?;
                Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(c),
                    op.operator(),
                    Box::new(constant(value, ty)?),
                ))
            }
            Self::IsNull {
                column: name,
                negated,
            } => {
                let (c, _) = column(name)?;
                if *negated {
                    c.is_not_null()
                } else {
                    c.is_null()
                }
            }
            Self::InList {
                column: name,
                values,
                negated,
            } => {
                let (c, ty) = column(name)?;
                let list = values
                    .iter()
                    .map(|v| constant(v, ty))
                    .collect::<Result<Vec<_>, _>>()?;
                c.in_list(list, *negated)
            }
            Self::And(parts) => joined(parts, Operator::And)?,
            Self::Or(parts) => joined(parts, Operator::Or)?,
            Self::Not(inner) => Expr::Not(Box::new(inner.to_expr(schema)?)),
        })
    }

    /// The predicate as a physical expression DataFusion's Parquet reader
    /// prunes with.
    pub(crate) fn to_physical(
        &self,
        state: &dyn datafusion::catalog::Session,
        schema: &Arc<Schema>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_expr::PhysicalExpr>> {
        let expr = self
            .to_expr(schema)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let schema = DFSchema::try_from(Arc::clone(schema))?;
        state.create_physical_expr(expr, &schema)
    }
}

impl Comparison {
    fn of(op: Operator) -> Option<Self> {
        Some(match op {
            Operator::Eq => Self::Eq,
            Operator::NotEq => Self::NotEq,
            Operator::Lt => Self::Lt,
            Operator::LtEq => Self::LtEq,
            Operator::Gt => Self::Gt,
            Operator::GtEq => Self::GtEq,
            _ => return None,
        })
    }

    fn operator(self) -> Operator {
        match self {
            Self::Eq => Operator::Eq,
            Self::NotEq => Operator::NotEq,
            Self::Lt => Operator::Lt,
            Self::LtEq => Operator::LtEq,
            Self::Gt => Operator::Gt,
            Self::GtEq => Operator::GtEq,
        }
    }

    /// The comparison with its sides swapped (`5 < x` is `x > 5`).
    fn flipped(self) -> Self {
        match self {
            Self::Eq | Self::NotEq => self,
            Self::Lt => Self::Gt,
            Self::LtEq => Self::GtEq,
            Self::Gt => Self::Lt,
            Self::GtEq => Self::LtEq,
        }
    }
}

/// The type of column `c` of `schema`, if it has that column (and the
/// column is not qualified by another relation).
fn column_type<'a>(schema: &'a Schema, c: &Column) -> Option<&'a DataType> {
    schema.field_with_name(&c.name).ok().map(|f| f.data_type())
}

/// `value` as text of type `ty`, if it is a non-null `ty` whose text reads
/// back as the same value (binary and other types whose text is not their
/// value are not carried).
fn as_text(value: &ScalarValue, ty: &DataType) -> Option<String> {
    if value.is_null()
        || &value.data_type() != ty
        || matches!(ty, DataType::Binary | DataType::BinaryView)
    {
        return None;
    }
    let text = value.to_string();
    let back = ScalarValue::try_from_string(text.clone(), ty).ok()?;
    (&back == value).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use datafusion::logical_expr::col;
    use proptest::prelude::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("blob", DataType::Binary, true),
        ])
    }

    fn carried(filter: Expr) -> ScanPredicate {
        let s = schema();
        let p = ScanPredicate::from_filter(&filter, &s).expect("carried");
        let json = serde_json::to_string(&p).expect("serialises");
        let back: ScanPredicate = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, p, "{json}");
        p
    }

    #[test]
    fn comparisons_nulls_lists_and_ranges_are_carried() {
        let p = carried(col("id").lt(lit(10i64)));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            col("id").lt(lit(10i64))
        );
        // The constant on the left: the comparison turns round.
        let p = carried(lit(10i64).lt(col("id")));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            col("id").gt(lit(10i64))
        );
        let p = carried(col("name").eq(lit("a-b")).or(col("score").is_null()));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            col("name").eq(lit("a-b")).or(col("score").is_null())
        );
        let p = carried(col("id").between(lit(3i64), lit(7i64)));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            col("id").gt_eq(lit(3i64)).and(col("id").lt_eq(lit(7i64)))
        );
        let p = carried(col("id").in_list(vec![lit(1i64), lit(2i64)], true));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            col("id").in_list(vec![lit(1i64), lit(2i64)], true)
        );
        let p = carried(Expr::Not(Box::new(col("score").gt_eq(lit(0.1f64)))));
        assert_eq!(
            p.to_expr(&schema()).expect("expr"),
            Expr::Not(Box::new(col("score").gt_eq(lit(0.1f64))))
        );
    }

    #[test]
    fn what_is_not_a_column_against_a_constant_is_left_to_the_query() {
        let s = schema();
        for filter in [
            // A function of a column (a decryption, say) never travels.
            col("id").eq(col("id")),
            (col("id") + lit(1i64)).lt(lit(3i64)),
            // A constant of another type than the column's.
            col("id").lt(lit(10i32)),
            col("id").eq(lit(ScalarValue::Int64(None))),
            // Binary constants are not carried as text.
            col("blob").eq(lit(ScalarValue::Binary(Some(vec![0xff, 0])))),
            // A column the table does not have.
            col("other").eq(lit(1i64)),
            col("name").like(lit("a%")),
        ] {
            assert_eq!(ScanPredicate::from_filter(&filter, &s), None, "{filter}");
        }
        // One part that cannot travel makes an OR untravelable, while an
        // AND of filters keeps the parts that can.
        assert_eq!(
            ScanPredicate::from_filter(
                &col("id").lt(lit(1i64)).or(col("name").like(lit("a%"))),
                &s
            ),
            None
        );
        let all =
            ScanPredicate::all_of(&[col("id").lt(lit(1i64)), col("name").like(lit("a%"))], &s);
        assert_eq!(
            all.expect("one").to_expr(&s).expect("expr"),
            col("id").lt(lit(1i64))
        );
    }

    #[test]
    fn deep_conditions_are_not_carried() {
        let s = schema();
        let mut deep = col("id").eq(lit(0i64));
        for i in 1..200i64 {
            deep = deep.or(col("id").eq(lit(i)));
        }
        assert_eq!(ScanPredicate::from_filter(&deep, &s), None);
    }

    #[test]
    fn a_damaged_predicate_is_refused_by_name() {
        let s = schema();
        let unknown = ScanPredicate::IsNull {
            column: "nope".into(),
            negated: false,
        };
        let e = unknown.to_expr(&s).expect_err("refused");
        assert!(e.to_string().contains("column nope"), "{e}");
        let bad = ScanPredicate::Compare {
            column: "id".into(),
            op: Comparison::Eq,
            value: "ten".into(),
        };
        let e = bad.to_expr(&s).expect_err("refused");
        assert!(e.to_string().contains("\"ten\""), "{e}");
        let e = ScanPredicate::And(vec![]).to_expr(&s).expect_err("refused");
        assert!(e.to_string().contains("joins nothing"), "{e}");
    }

    proptest! {
        #[test]
        fn constants_survive_the_trip_as_text(i in any::<i64>(), f in any::<f64>(), t in ".{0,20}") {
            let s = schema();
            for (column, value) in [
                ("id", ScalarValue::Int64(Some(i))),
                ("score", ScalarValue::Float64(Some(f))),
                ("name", ScalarValue::Utf8(Some(t.clone()))),
            ] {
                let filter = col(column).eq(lit(value.clone()));
                // NaN never equals itself, so it is not carried; every other
                // constant comes back exactly.
                match ScanPredicate::from_filter(&filter, &s) {
                    Some(p) => prop_assert_eq!(p.to_expr(&s).expect("expr"), filter),
                    None => prop_assert!(f.is_nan() && column == "score"),
                }
            }
        }
    }
}
