//! What every keyset function shares: argument checking with messages that
//! name the function and its parameters, typed access to argument values, and
//! building BINARY / STRING results without a copy per row.

use std::sync::Arc;

use datafusion::arrow::array::builder::NullBufferBuilder;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::Error as CryptoError;

use crate::SqlError;

/// The kind of value a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// BINARY; STRING is accepted and used as its UTF-8 bytes.
    Bytes,
    /// A keyset: BINARY (or STRING) as [`Kind::Bytes`], or what
    /// USE_WRAPPED_KEYSET returns (a STRUCT whose `keyset` field is read).
    Keyset,
    /// STRING; BINARY is not accepted.
    Text,
}

/// What a function is: its name and parameters (for checking calls and
/// explaining mistakes), its result type, and whether it draws randomness.
#[derive(Debug)]
pub(crate) struct FunctionSpec {
    pub(crate) function: &'static str,
    pub(crate) params: &'static [(&'static str, Kind)],
    /// How many leading parameters are required; the rest are optional.
    pub(crate) required: usize,
    /// BINARY or STRING.
    pub(crate) returns: DataType,
    /// Volatile when it draws randomness (a fresh IV or key per row).
    pub(crate) volatility: Volatility,
}

impl FunctionSpec {
    /// `NAME(a, b [, c])`.
    pub(crate) fn usage(&self) -> String {
        let mut out = format!("{}(", self.function);
        for (i, (name, _)) in self.params.iter().enumerate() {
            match (i, i >= self.required) {
                (0, _) => out.push_str(name),
                (_, false) => out.push_str(&format!(", {name}")),
                (_, true) => out.push_str(&format!(" [, {name}")),
            }
        }
        out.push_str(&"]".repeat(self.params.len() - self.required));
        out.push(')');
        out
    }

    /// DataFusion's `coerce_types`: checks the count and the types, and
    /// asks for STRING arguments as BINARY where bytes are wanted.
    pub(crate) fn coerce(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < self.required || arg_types.len() > self.params.len() {
            return Err(DataFusionError::Plan(format!(
                "{} takes {} arguments, but {} were given: {}",
                self.function,
                if self.required == self.params.len() {
                    self.required.to_string()
                } else {
                    format!("{} to {}", self.required, self.params.len())
                },
                arg_types.len(),
                self.usage()
            )));
        }
        arg_types
            .iter()
            .zip(self.params)
            .map(|(given, (name, kind))| {
                let stringy = matches!(
                    given,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
                );
                let binary = matches!(
                    given,
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                );
                // Views (how scans hand BINARY on) are taken as they are:
                // casting them to BINARY would copy every value.
                let view = matches!(given, DataType::BinaryView | DataType::Utf8View);
                match kind {
                    Kind::Bytes | Kind::Keyset if view => Ok(DataType::BinaryView),
                    Kind::Bytes | Kind::Keyset if stringy || binary => Ok(DataType::Binary),
                    Kind::Keyset if keyset_field(given).is_some() => Ok(given.clone()),
                    Kind::Text if stringy => Ok(DataType::Utf8),
                    _ => Err(DataFusionError::Plan(format!(
                        "{}: argument {name} must be {}, not {}; {}",
                        self.function,
                        match kind {
                            Kind::Bytes => "BINARY or STRING",
                            Kind::Keyset => "a keyset (BINARY, or USE_WRAPPED_KEYSET's result)",
                            Kind::Text => "STRING",
                        },
                        sql_type_name(given),
                        self.usage()
                    ))),
                }
            })
            .collect()
    }
}

/// The field a keyset STRUCT (USE_WRAPPED_KEYSET's result) keeps the keyset
/// in.
pub(crate) const KEYSET_FIELD: &str = "keyset";

/// The position of the BINARY `keyset` field of a STRUCT type.
fn keyset_field(data_type: &DataType) -> Option<usize> {
    let DataType::Struct(fields) = data_type else {
        return None;
    };
    fields
        .iter()
        .position(|f| f.name() == KEYSET_FIELD && f.data_type() == &DataType::Binary)
}

/// The BINARY `keyset` column of a keyset STRUCT.
fn keyset_column(value: &StructArray) -> Result<&BinaryArray> {
    keyset_field(value.data_type())
        .and_then(|i| value.column(i).as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(|| {
            internal(format!(
                "expected a keyset STRUCT, got {}",
                value.data_type()
            ))
        })
}

/// A type as SQL users know it.
pub(crate) fn sql_type_name(data_type: &DataType) -> String {
    sealhouse_storage::ColumnType::from_arrow(data_type)
        .map(|t| t.to_string())
        .unwrap_or_else(|| data_type.to_string())
}

/// A BINARY argument, constant or per row.
pub(crate) enum Bytes<'a> {
    Scalar(Option<&'a [u8]>),
    Array(&'a BinaryArray),
    /// A column as scans hand BINARY on: each value where it was read.
    View(&'a BinaryViewArray),
}

impl<'a> Bytes<'a> {
    pub(crate) fn of(value: &'a ColumnarValue) -> Result<Self> {
        match value {
            ColumnarValue::Scalar(ScalarValue::Binary(v) | ScalarValue::BinaryView(v)) => {
                Ok(Self::Scalar(v.as_deref()))
            }
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Self::Scalar(None)),
            // A keyset STRUCT (USE_WRAPPED_KEYSET): its keyset field.
            ColumnarValue::Scalar(ScalarValue::Struct(s)) => {
                let keysets = keyset_column(s)?;
                Ok(Self::Scalar(
                    (s.is_valid(0) && keysets.is_valid(0)).then(|| keysets.value(0)),
                ))
            }
            ColumnarValue::Array(a) if matches!(a.data_type(), DataType::Struct(_)) => {
                let s = a
                    .as_any()
                    .downcast_ref::<StructArray>()
                    .ok_or_else(|| internal(format!("expected STRUCT, got {}", a.data_type())))?;
                keyset_column(s).map(Self::Array)
            }
            ColumnarValue::Array(a) => {
                if let Some(views) = a.as_any().downcast_ref::<BinaryViewArray>() {
                    return Ok(Self::View(views));
                }
                a.as_any()
                    .downcast_ref::<BinaryArray>()
                    .map(Self::Array)
                    .ok_or_else(|| internal(format!("expected BINARY, got {}", a.data_type())))
            }
            ColumnarValue::Scalar(other) => Err(internal(format!(
                "expected BINARY, got {}",
                other.data_type()
            ))),
        }
    }

    pub(crate) fn get(&self, row: usize) -> Option<&'a [u8]> {
        match self {
            Self::Scalar(v) => *v,
            Self::Array(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::View(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }

    /// Whether it is one value for every row.
    pub(crate) fn is_constant(&self) -> bool {
        matches!(self, Self::Scalar(_))
    }

    /// The bytes of all `rows` values together (a constant counts once per
    /// row).
    pub(crate) fn total_len(&self, rows: usize) -> usize {
        match self {
            Self::Scalar(v) => v.map_or(0, <[u8]>::len).saturating_mul(rows),
            Self::Array(a) => {
                let offsets = a.value_offsets();
                match (offsets.first(), offsets.last()) {
                    (Some(&first), Some(&last)) => usize::try_from(last - first).unwrap_or(0),
                    _ => 0,
                }
            }
            // A view's low 32 bits are its value's length.
            Self::View(a) => a.views().iter().map(|&v| v as u32 as usize).sum(),
        }
    }
}

/// A STRING argument, constant or per row.
pub(crate) enum Text<'a> {
    Scalar(Option<&'a str>),
    Array(&'a StringArray),
}

impl<'a> Text<'a> {
    pub(crate) fn of(value: &'a ColumnarValue) -> Result<Self> {
        match value {
            ColumnarValue::Scalar(ScalarValue::Utf8(v)) => Ok(Self::Scalar(v.as_deref())),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Self::Scalar(None)),
            ColumnarValue::Array(a) => a
                .as_any()
                .downcast_ref::<StringArray>()
                .map(Self::Array)
                .ok_or_else(|| internal(format!("expected STRING, got {}", a.data_type()))),
            ColumnarValue::Scalar(other) => Err(internal(format!(
                "expected STRING, got {}",
                other.data_type()
            ))),
        }
    }

    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Self::Scalar(v) => *v,
            Self::Array(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }
}

/// Whether every argument is a constant: then a deterministic function is
/// computed once, not once per row.
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Builds a BINARY or STRING column by appending each value's bytes straight
/// into the value buffer: no intermediate vector per row.
pub(crate) struct ByteColumn {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl ByteColumn {
    pub(crate) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            values: Vec::with_capacity(bytes),
            offsets,
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Appends one value written by `write`, which appends to the buffer it
    /// is given; `Ok(false)` from `write` makes the value NULL instead. If
    /// `write` fails or declines, the buffer is restored.
    pub(crate) fn append_or_null(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<bool>,
    ) -> Result<()> {
        let start = self.values.len();
        match write(&mut self.values) {
            Ok(true) => {
                self.push_offset()?;
                self.nulls.append_non_null();
                Ok(())
            }
            Ok(false) => {
                self.values.truncate(start);
                self.append_null()
            }
            Err(e) => {
                self.values.truncate(start);
                Err(e)
            }
        }
    }

    /// Appends one value written by `write`, which appends to the buffer it
    /// is given. If `write` fails, the buffer is restored.
    pub(crate) fn append_with(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let start = self.values.len();
        if let Err(e) = write(&mut self.values) {
            self.values.truncate(start);
            return Err(e);
        }
        self.push_offset()?;
        self.nulls.append_non_null();
        Ok(())
    }

    pub(crate) fn append_null(&mut self) -> Result<()> {
        self.push_offset()?;
        self.nulls.append_null();
        Ok(())
    }

    fn push_offset(&mut self) -> Result<()> {
        let end = i32::try_from(self.values.len()).map_err(|_| {
            DataFusionError::Execution(
                "a result batch exceeds 2 GiB; query fewer rows at a time".into(),
            )
        })?;
        self.offsets.push(end);
        Ok(())
    }

    pub(crate) fn finish_binary(mut self) -> ArrayRef {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Arc::new(BinaryArray::new(
            offsets,
            Buffer::from_vec(self.values),
            self.nulls.finish(),
        ))
    }

    /// A STRING column. Every appended value must be UTF-8 (checked).
    pub(crate) fn finish_string(mut self) -> Result<ArrayRef> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Ok(Arc::new(StringArray::try_new(
            offsets,
            Buffer::from_vec(self.values),
            self.nulls.finish(),
        )?))
    }
}

/// Computes a function row by row for functions whose values are small
/// (keysets, JSON, hex): `f(row)` gives a row's bytes or NULL. With `once`
/// (every argument constant and the function deterministic) it runs once and
/// the result is a constant. `returns` is BINARY or STRING.
pub(crate) fn per_row(
    rows: usize,
    once: bool,
    returns: &DataType,
    mut f: impl FnMut(usize) -> Result<Option<Vec<u8>>>,
) -> Result<ColumnarValue> {
    let text = matches!(returns, DataType::Utf8);
    if once {
        let value = f(0)?;
        return Ok(ColumnarValue::Scalar(if text {
            ScalarValue::Utf8(
                value
                    .map(String::from_utf8)
                    .transpose()
                    .map_err(|e| internal(e.to_string()))?,
            )
        } else {
            ScalarValue::Binary(value)
        }));
    }
    let mut out = ByteColumn::with_capacity(rows, rows * 32);
    for row in 0..rows {
        match f(row)? {
            Some(v) => out.append_with(|buf| {
                buf.extend_from_slice(&v);
                Ok(())
            })?,
            None => out.append_null()?,
        }
    }
    Ok(ColumnarValue::Array(if text {
        out.finish_string()?
    } else {
        out.finish_binary()
    }))
}

pub(crate) fn internal(message: String) -> DataFusionError {
    DataFusionError::Internal(message)
}

/// A value the function refuses, prefixed with its name
/// ([`SqlError::InvalidInput`]).
pub(crate) fn exec(function: &str, message: impl std::fmt::Display) -> DataFusionError {
    raise(SqlError::InvalidInput(format!("{function}: {message}")))
}

/// An error of the crypto crate raised by `function`: a decryption failure
/// stays one ([`SqlError::DecryptionFailed`]), a failed random generator is
/// the machine's fault, anything else is a value the function refuses.
pub(crate) fn crypto(function: &str, error: sealhouse_crypto::Error) -> DataFusionError {
    let message = format!("{function}: {error}");
    raise(match error {
        CryptoError::DecryptionFailed | CryptoError::TruncatedCiphertext { .. } => {
            SqlError::DecryptionFailed(message)
        }
        CryptoError::RandomUnavailable => SqlError::Execution(message),
        _ => SqlError::InvalidInput(message),
    })
}

/// A typed statement error raised inside DataFusion; it comes back out of
/// the query as itself (see `error/from_datafusion.rs`).
pub(crate) fn raise(error: SqlError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: FunctionSpec = FunctionSpec {
        function: "ENHANCED_SYM_ENCRYPT",
        returns: DataType::Binary,
        volatility: Volatility::Volatile,
        params: &[
            ("keyset", Kind::Keyset),
            ("plaintext", Kind::Bytes),
            ("aad", Kind::Text),
        ],
        required: 2,
    };

    #[test]
    fn usage_and_count_errors() {
        assert_eq!(P.usage(), "ENHANCED_SYM_ENCRYPT(keyset, plaintext [, aad])");
        let msg = P.coerce(&[DataType::Binary]).unwrap_err().to_string();
        assert!(
            msg.contains("takes 2 to 3 arguments, but 1 were given"),
            "{msg}"
        );
        let msg = P
            .coerce(&[DataType::Binary, DataType::Int64])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("argument plaintext must be BINARY or STRING, not BIGINT"),
            "{msg}"
        );
        // Views (BINARY as scans read it) are taken as views: no cast.
        assert_eq!(
            P.coerce(&[DataType::BinaryView, DataType::Utf8View, DataType::Utf8])
                .expect("ok"),
            vec![DataType::BinaryView, DataType::BinaryView, DataType::Utf8]
        );
        assert_eq!(
            P.coerce(&[DataType::Binary, DataType::LargeUtf8, DataType::Utf8])
                .expect("ok"),
            vec![DataType::Binary, DataType::Binary, DataType::Utf8]
        );
    }

    #[test]
    fn byte_column_restores_on_failure() {
        let mut col = ByteColumn::with_capacity(3, 16);
        col.append_with(|b| {
            b.extend_from_slice(b"ab");
            Ok(())
        })
        .expect("ok");
        assert!(
            col.append_with(|b| {
                b.extend_from_slice(b"zz");
                Err(DataFusionError::Execution("x".into()))
            })
            .is_err()
        );
        col.append_null().expect("ok");
        let arr = col.finish_binary();
        let arr = arr.as_any().downcast_ref::<BinaryArray>().expect("binary");
        assert_eq!(arr.len(), 2);
        assert_eq!(arr.value(0), b"ab");
        assert!(arr.is_null(1));
    }

    #[test]
    fn bytes_read_views_as_they_are() {
        let long = [9u8; 30];
        let views: ArrayRef = Arc::new(BinaryViewArray::from(vec![
            Some(&b"short"[..]),
            None,
            Some(&long[..]),
        ]));
        let value = ColumnarValue::Array(views);
        let bytes = Bytes::of(&value).expect("a view column");
        assert!(!bytes.is_constant());
        assert_eq!(bytes.get(0), Some(&b"short"[..]));
        assert_eq!(bytes.get(1), None);
        assert_eq!(bytes.get(2), Some(&long[..]));
        assert_eq!(bytes.total_len(3), 35);
        let scalar = ColumnarValue::Scalar(ScalarValue::BinaryView(Some(b"k".to_vec())));
        let bytes = Bytes::of(&scalar).expect("a constant");
        assert!(bytes.is_constant());
        assert_eq!(bytes.get(5), Some(&b"k"[..]));
    }
}
