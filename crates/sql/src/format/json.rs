//! JSON lines: one object per row, keys in column order. Numbers and
//! booleans are JSON numbers and booleans, BINARY is base64, NULL is null,
//! everything else is its text.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use serde_json::Value;

use super::ResultSet;
use super::cell::{column_text, null_mask};

pub(super) fn write(rows: &ResultSet, out: &mut dyn Write) -> std::io::Result<()> {
    // Keys are written by hand so that they keep the columns' order.
    let keys: Vec<String> = rows
        .names
        .iter()
        .map(|n| Value::String(n.clone()).to_string())
        .collect();
    for batch in &rows.batches {
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(|c| column_values(c.as_ref()))
            .collect();
        for r in 0..batch.num_rows() {
            let fields: Vec<String> = keys
                .iter()
                .zip(&columns)
                .map(|(k, c)| format!("{k}:{}", c[r]))
                .collect();
            writeln!(out, "{{{}}}", fields.join(","))?;
        }
    }
    Ok(())
}

fn column_values(column: &dyn Array) -> Vec<Value> {
    let nulls = null_mask(column);
    let binary = |i: usize, bytes: &[u8]| {
        if nulls[i] {
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
