//! Bordered tables.

use std::io::Write;

use super::ResultSet;
use super::cell::column_text;

pub(super) fn write(rows: &ResultSet, out: &mut dyn Write) -> std::io::Result<()> {
    let mut grid: Vec<Vec<String>> = Vec::with_capacity(rows.num_rows());
    for batch in &rows.batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| column_text(c.as_ref()))
            .collect();
        for r in 0..batch.num_rows() {
            grid.push(
                columns
                    .iter()
                    .map(|c| c[r].clone().unwrap_or_else(|| "NULL".into()))
                    .collect(),
            );
        }
    }
    let mut widths: Vec<usize> = rows.names.iter().map(|n| n.chars().count()).collect();
    for row in &grid {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.lines().map(|l| l.chars().count()).max().unwrap_or(0));
        }
    }
    let border: String = widths.iter().fold(String::from("+"), |mut s, w| {
        s.push_str(&"-".repeat(w + 2));
        s.push('+');
        s
    });
    writeln!(out, "{border}")?;
    write_line(out, &widths, &rows.names)?;
    writeln!(out, "{border}")?;
    for row in &grid {
        write_line(out, &widths, row)?;
    }
    writeln!(out, "{border}")
}

/// One row, which spans several lines when a cell holds newlines.
fn write_line(out: &mut dyn Write, widths: &[usize], cells: &[String]) -> std::io::Result<()> {
    let split: Vec<Vec<&str>> = cells.iter().map(|c| c.split('\n').collect()).collect();
    let height = split.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let mut text = String::from("|");
        for (w, lines) in widths.iter().zip(&split) {
            let part = lines.get(line).copied().unwrap_or("");
            text.push(' ');
            text.push_str(part);
            text.push_str(&" ".repeat(w - part.chars().count() + 1));
            text.push('|');
        }
        writeln!(out, "{text}")?;
    }
    Ok(())
}
