//! REPEAT, LPAD and RPAD with their output bounded.
//!
//! They are the functions whose result can be far larger than their input:
//! `REPEAT('a', 10000000)` over 800 rows asks for 8 GB in one batch.
//! DataFusion's own versions build that until a 32-bit offset overflows and
//! panic, after seconds and gigabytes (LPAD to 2 billion characters took
//! 6 minutes and 14 GB before it did), so one statement could starve every
//! other session of a server. These wrap DataFusion's functions and refuse,
//! before building anything, a batch whose results would exceed
//! [`MAX_BATCH_BYTES`].
//!
//! They are volatile, so the planner never folds a call with constant
//! arguments into one literal: a literal is copied into every row after the
//! check could see how many rows there are. Here the check always sees the
//! batch's rows.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::kernels::{cast::cast, length::length};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// The most bytes of text one call may build for one batch: well inside
/// the 2 GiB a batch of strings can address, and PostgreSQL's 1 GB limit
/// for one value.
pub(crate) const MAX_BATCH_BYTES: u128 = 1 << 30;

/// The bounded REPEAT, LPAD and RPAD, replacing DataFusion's.
pub(crate) fn all() -> Vec<ScalarUDF> {
    use datafusion::functions::{string, unicode};
    vec![
        bounded(string::repeat(), Growth::Repeat),
        bounded(unicode::lpad(), Growth::Pad),
        bounded(unicode::rpad(), Growth::Pad),
    ]
}

fn bounded(inner: Arc<ScalarUDF>, growth: Growth) -> ScalarUDF {
    let mut signature = inner.signature().clone();
    signature.volatility = Volatility::Volatile;
    ScalarUDF::new_from_impl(Bounded {
        inner,
        growth,
        signature,
    })
}

/// How a function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(text, n)`: the text's bytes times n.
    Repeat,
    /// `lpad(text, n [, fill])`: n characters, up to 4 bytes each.
    Pad,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    signature: Signature,
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let bytes = match (self.growth, args.args.as_slice()) {
            (Growth::Repeat, [text, count, ..]) => {
                total(rows, &PerRow::text_bytes(text)?, &PerRow::counts(count)?)
            }
            (Growth::Pad, [_, count, ..]) => total(rows, &PerRow::Same(4), &PerRow::counts(count)?),
            _ => 0,
        };
        if bytes > MAX_BATCH_BYTES {
            return Err(DataFusionError::Execution(format!(
                "{} would build {} of text for {rows} rows at once, more than the {} Sealhouse \
                 builds in one batch: ask for shorter values, or fewer rows (LIMIT, WHERE)",
                self.inner.name().to_ascii_uppercase(),
                gib(bytes),
                gib(MAX_BATCH_BYTES),
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// A number per row: one for all rows (a scalar argument), or each row's.
enum PerRow {
    Same(u128),
    Each(Vec<u128>),
}

impl PerRow {
    /// Byte lengths of a text argument (NULL: 0).
    fn text_bytes(value: &ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Scalar(scalar) => Self::Same(match scalar {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => s.len() as u128,
                _ => 0,
            }),
            ColumnarValue::Array(array) => Self::Each(non_negative(&length(array)?)?),
        })
    }

    /// Counts or target lengths (NULL and negative: 0).
    fn counts(value: &ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Scalar(scalar) => {
                Self::Same(match scalar.cast_to(&DataType::Int64)? {
                    ScalarValue::Int64(Some(n)) => n.max(0) as u128,
                    _ => 0,
                })
            }
            ColumnarValue::Array(array) => Self::Each(non_negative(array)?),
        })
    }

    fn at(&self, row: usize) -> u128 {
        match self {
            Self::Same(n) => *n,
            Self::Each(values) => values.get(row).copied().unwrap_or(0),
        }
    }
}

fn non_negative(array: &dyn Array) -> Result<Vec<u128>> {
    let numbers = cast(array, &DataType::Int64)?;
    Ok(numbers
        .as_primitive::<Int64Type>()
        .iter()
        .map(|n| n.unwrap_or(0).max(0) as u128)
        .collect())
}

/// The sum over the rows of size times count.
fn total(rows: usize, size: &PerRow, count: &PerRow) -> u128 {
    match (size, count) {
        (PerRow::Same(s), PerRow::Same(c)) => s * c * rows as u128,
        _ => (0..rows).map(|row| size.at(row) * count.at(row)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_scalars_and_rows() {
        assert_eq!(
            total(800, &PerRow::Same(1), &PerRow::Same(10_000_000)),
            8_000_000_000
        );
        let each = PerRow::Each(vec![1, 2, 3]);
        assert_eq!(total(3, &each, &PerRow::Same(10)), 60);
        assert_eq!(total(3, &PerRow::Same(2), &each), 12);
        assert_eq!(total(3, &each, &PerRow::Each(vec![0, 5, 1])), 13);
    }

    #[test]
    fn counts_treat_null_and_negative_as_nothing() {
        let PerRow::Same(n) =
            PerRow::counts(&ColumnarValue::Scalar(ScalarValue::Int64(Some(-5)))).unwrap()
        else {
            panic!("scalar")
        };
        assert_eq!(n, 0);
        let array: Arc<dyn Array> = Arc::new(datafusion::arrow::array::Int64Array::from(vec![
            Some(3),
            None,
            Some(-1),
        ]));
        let PerRow::Each(v) = PerRow::counts(&ColumnarValue::Array(array)).unwrap() else {
            panic!("array")
        };
        assert_eq!(v, [3, 0, 0]);
    }
}
