//! CSV: a header line, then one line per row; NULL is an empty field.

use std::io::Write;

use super::ResultSet;
use super::cell::column_text;

pub(super) fn write(rows: &ResultSet, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        rows.names
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join(",")
    )?;
    for batch in &rows.batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| column_text(c.as_ref()))
            .collect();
        for r in 0..batch.num_rows() {
            let line: Vec<String> = columns
                .iter()
                .map(|c| c[r].as_deref().map(escape).unwrap_or_default())
                .collect();
            writeln!(out, "{}", line.join(","))?;
        }
    }
    Ok(())
}

fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
