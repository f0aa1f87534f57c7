//! Printing results: bordered tables as the spec shows them, CSV, and JSON
//! lines. BINARY values print quoted-printable style in tables and CSV
//! (`=0A=10r8Mq...`, as the original service shows them) and as base64 in JSON.

mod cell;
mod csv;
mod json;
mod table;

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

pub use cell::quoted_printable;

/// A statement's rows, with the column names to show.
#[derive(Debug, Clone)]
pub struct ResultSet {
    /// Column names as the user should see them (`_c0`, `_c1`... for
    /// unnamed expressions, as the original service names them).
    pub names: Vec<String>,
    /// The rows' schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl ResultSet {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// How to print rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// A bordered table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
}

/// Writes `rows` in `format`.
pub fn write_rows(
    rows: &ResultSet,
    format: OutputFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Table => table::write(rows, out),
        OutputFormat::Csv => csv::write(rows, out),
        OutputFormat::Json => json::write(rows, out),
    }
}
