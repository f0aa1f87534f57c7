//! The column types tables store, their SQL names, and their Arrow types.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::StorageError;

/// Mean bytes per value from which scans read a STRING column as
/// `Utf8View` ([`ColumnType::scan_type`]). Measured in BENCHMARKS.md
/// ("Wide text read as views").
pub const VIEW_TEXT_BYTES: u32 = 128;

/// A column type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// Bytes.
    Binary,
    /// 8-bit integer.
    TinyInt,
    /// 16-bit integer.
    SmallInt,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    BigInt,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// True or false.
    Boolean,
    /// Fixed-point decimal.
    Decimal(u8, i8),
    /// Calendar date.
    Date,
    /// Date and time, millisecond precision (DATETIME).
    DateTime,
    /// Date and time, nanosecond precision (TIMESTAMP).
    Timestamp,
}

impl ColumnType {
    /// The type of an Arrow column, if tables can store it. View and large
    /// variants of strings and bytes map to STRING and BINARY.
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::String,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Self::Binary,
            DataType::Int8 => Self::TinyInt,
            DataType::Int16 => Self::SmallInt,
            DataType::Int32 => Self::Int,
            DataType::Int64 => Self::BigInt,
            DataType::Float32 => Self::Float,
            DataType::Float64 => Self::Double,
            DataType::Boolean => Self::Boolean,
            DataType::Decimal128(p, s) => Self::Decimal(*p, *s),
            DataType::Date32 => Self::Date,
            DataType::Timestamp(TimeUnit::Millisecond, None) => Self::DateTime,
            DataType::Timestamp(_, None) => Self::Timestamp,
            // A literal NULL column (CREATE TABLE AS SELECT NULL) is stored as text.
            DataType::Null => Self::String,
            _ => return None,
        })
    }

    /// The Arrow type data of this column is stored and read as.
    pub fn to_arrow(self) -> DataType {
        match self {
            Self::String => DataType::Utf8,
            Self::Binary => DataType::Binary,
            Self::TinyInt => DataType::Int8,
            Self::SmallInt => DataType::Int16,
            Self::Int => DataType::Int32,
            Self::BigInt => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Decimal(p, s) => DataType::Decimal128(p, s),
            Self::Date => DataType::Date32,
            Self::DateTime => DataType::Timestamp(TimeUnit::Millisecond, None),
            Self::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
        }
    }

    /// The Arrow type scans hand this column on as, for values of `width`
    /// bytes on average (as the table's writes measured them; 0 when
    /// unknown). BINARY is always a `BinaryView`: its values stay in the
    /// Parquet page they were read from, so a ciphertext column is never
    /// copied value by value on its way to a decrypting function. Text is a
    /// `Utf8View` from [`VIEW_TEXT_BYTES`] a value, for the same reason, and
    /// `Utf8` below: short strings decode and compare faster as offsets, and
    /// every text function takes `Utf8` without a conversion. Every other
    /// type is read as stored.
    pub fn scan_type(self, width: u32) -> DataType {
        match self {
            Self::Binary => DataType::BinaryView,
            Self::String if width >= VIEW_TEXT_BYTES => DataType::Utf8View,
            other => other.to_arrow(),
        }
    }

    /// Parses the SQL name written by [`fmt::Display`] (as stored in the catalog).
    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "STRING" => Self::String,
            "BINARY" => Self::Binary,
            "TINYINT" => Self::TinyInt,
            "SMALLINT" => Self::SmallInt,
            "INT" => Self::Int,
            "BIGINT" => Self::BigInt,
            "FLOAT" => Self::Float,
            "DOUBLE" => Self::Double,
            "BOOLEAN" => Self::Boolean,
            "DATE" => Self::Date,
            "DATETIME" => Self::DateTime,
            "TIMESTAMP" => Self::Timestamp,
            other => {
                let inner = other.strip_prefix("DECIMAL(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',')?;
                Self::Decimal(p.trim().parse().ok()?, s.trim().parse().ok()?)
            }
        })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String => f.write_str("STRING"),
            Self::Binary => f.write_str("BINARY"),
            Self::TinyInt => f.write_str("TINYINT"),
            Self::SmallInt => f.write_str("SMALLINT"),
            Self::Int => f.write_str("INT"),
            Self::BigInt => f.write_str("BIGINT"),
            Self::Float => f.write_str("FLOAT"),
            Self::Double => f.write_str("DOUBLE"),
            Self::Boolean => f.write_str("BOOLEAN"),
            Self::Decimal(p, s) => write!(f, "DECIMAL({p},{s})"),
            Self::Date => f.write_str("DATE"),
            Self::DateTime => f.write_str("DATETIME"),
            Self::Timestamp => f.write_str("TIMESTAMP"),
        }
    }
}

/// The schema a table stores for `schema`: every column mapped to its stored
/// Arrow type, all nullable. Fails on a column type tables cannot store.
pub fn table_schema(
    schema: &Schema,
) -> Result<(SchemaRef, Vec<(String, ColumnType)>), StorageError> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    let mut fields = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column_type = ColumnType::from_arrow(field.data_type()).ok_or_else(|| {
            StorageError::UnsupportedType {
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            }
        })?;
        fields.push(Field::new(field.name(), column_type.to_arrow(), true));
        columns.push((field.name().clone(), column_type));
    }
    Ok((Arc::new(Schema::new(fields)), columns))
}

/// The schema a scan of a table with `columns` (name, type, mean bytes per
/// value) produces: each column's [`ColumnType::scan_type`], all nullable.
pub fn scan_schema<'a>(columns: impl IntoIterator<Item = (&'a str, ColumnType, u32)>) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .into_iter()
            .map(|(name, ty, width)| Field::new(name, ty.scan_type(width), true))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in [
            ColumnType::String,
            ColumnType::Binary,
            ColumnType::BigInt,
            ColumnType::Decimal(38, 18),
            ColumnType::DateTime,
            ColumnType::Timestamp,
        ] {
            assert_eq!(ColumnType::parse(&t.to_string()), Some(t));
            assert_eq!(ColumnType::from_arrow(&t.to_arrow()), Some(t));
            assert_eq!(ColumnType::from_arrow(&t.scan_type(0)), Some(t));
            assert_eq!(ColumnType::from_arrow(&t.scan_type(4096)), Some(t));
        }
        // Scans hand BINARY on as views, text as views once its values are
        // wide, everything else as stored.
        assert_eq!(ColumnType::Binary.scan_type(0), DataType::BinaryView);
        assert_eq!(ColumnType::String.scan_type(0), DataType::Utf8);
        assert_eq!(
            ColumnType::String.scan_type(VIEW_TEXT_BYTES - 1),
            DataType::Utf8
        );
        assert_eq!(
            ColumnType::String.scan_type(VIEW_TEXT_BYTES),
            DataType::Utf8View
        );
        assert_eq!(ColumnType::BigInt.scan_type(4096), DataType::Int64);
        let schema = scan_schema([
            ("c", ColumnType::Binary, 0),
            ("x", ColumnType::String, 11),
            ("w", ColumnType::String, 1024),
        ]);
        assert_eq!(schema.field(0).data_type(), &DataType::BinaryView);
        assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
        assert_eq!(schema.field(2).data_type(), &DataType::Utf8View);
        assert_eq!(
            ColumnType::parse("decimal(10, 2)"),
            Some(ColumnType::Decimal(10, 2))
        );
        assert_eq!(ColumnType::parse("LIST"), None);
    }

    #[test]
    fn unsupported_types_are_named() {
        let schema = Schema::new(vec![Field::new(
            "l",
            DataType::new_list(DataType::Int32, true),
            true,
        )]);
        let err = table_schema(&schema).unwrap_err().to_string();
        assert!(err.contains("column 'l' has type List"), "{err}");
    }
}
