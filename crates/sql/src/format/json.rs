//! JSON lines: one object per row, keys in column order. Numbers and
//! booleans are JSON numbers and booleans, BINARY is base64, NULL is null,
//! everything else is its text.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use serde_json::{Map, Value};

use super::ResultSet;
use super::cell::column_text;

pub(super) fn write(rows: &ResultSet, out: &mut dyn Write) -> std::io::Result<()> {
    for batch in &rows.batches {
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(|c| column_values(c.as_ref()))
            .collect();
        for r in 0..batch.num_rows() {
            let mut object = Map::new();
            for (name, column) in rows.names.iter().zip(&columns) {
                object.insert(name.clone(), column[r].clone());
            }
            writeln!(out, "{}", Value::Object(object))?;
        }
    }
    Ok(())
}

fn column_values(column: &dyn Array) -> Vec<Value> {
    let binary = |i: usize, bytes: &[u8]| {
        if column.is_null(i) {
            Value::Null
        } else {
            Value::String(STANDARD.encode(bytes))
        }
    };
    match column.data_type() {
        DataType::Binary => {
            let a = column.as_binary::<i32>();
            (0..a.len()).map(|i| binary(i, a.value(i))).collect()
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            (0..a.len()).map(|i| binary(i, a.value(i))).collect()
        }
        t => {
            let numeric = t.is_numeric() || matches!(t, DataType::Boolean);
            column_text(column)
                .into_iter()
                .map(|v| match v {
                    None => Value::Null,
                    Some(s) if numeric => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                    Some(s) => Value::String(s),
                })
                .collect()
        }
    }
}
