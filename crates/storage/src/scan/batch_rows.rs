//! Rows per batch a scan produces, bounded by the batch's bytes.
//!
//! DataFusion's batch size is a row count (8192 by default), the right
//! size for narrow rows. For wide values it is not: 8192 values of 1 KiB
//! make an 8 MiB batch, and every operator above the scan (a decrypt, an
//! encrypt) fills a buffer of that size again. The process's memory peaks
//! at a few such batches per core, and memory fresh to a process is what
//! costs most on a virtual machine (each huge page is faulted in and
//! zeroed; BENCHMARKS.md, "Batches bounded by bytes"). A scan of wide rows
//! therefore yields fewer rows a batch, about [`BATCH_BYTES`] of them, which
//! the allocator hands back to the next batch while they are still in
//! cache. Narrow rows keep the session's batch size.

use arrow::datatypes::Schema;

/// The bytes a scan's batch aims at, from the columns' mean widths.
const BATCH_BYTES: usize = 2 * 1024 * 1024;
/// The fewest rows a batch is cut to: below this, per-batch work (one
/// call per batch into each operator) starts to show.
const MIN_BATCH_ROWS: usize = 1024;

/// The rows per batch for a scan of `schema`'s columns `projection` (all
/// when `None`), whose byte columns hold `widths` bytes per value on
/// average (by column index; 0 or missing: not measured, counted as
/// small), when the session asks for `session_rows`: at most that, and
/// fewer when rows are wide. `None` keeps the session's size.
pub(super) fn batch_rows(
    schema: &Schema,
    projection: Option<&[usize]>,
    widths: &[u32],
    session_rows: usize,
) -> Option<usize> {
    let column_bytes = |i: usize| {
        let field = schema.fields().get(i)?;
        // Fixed-width values take their width; variable-width ones their
        // measured mean (a view also takes 16 bytes, an offset 4: noise).
        Some(
            field
                .data_type()
                .primitive_width()
                .unwrap_or_else(|| widths.get(i).copied().unwrap_or(0) as usize),
        )
    };
    let row_bytes: usize = match projection {
        Some(columns) => columns.iter().filter_map(|&i| column_bytes(i)).sum(),
        None => (0..schema.fields().len()).filter_map(column_bytes).sum(),
    };
    let rows = (BATCH_BYTES / row_bytes.max(1)).max(MIN_BATCH_ROWS);
    (rows < session_rows).then_some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("x", DataType::Utf8View, true),
            Field::new("c", DataType::BinaryView, true),
        ])
    }

    #[test]
    fn narrow_rows_keep_the_session_size() {
        // 8 + 11 + 39 bytes a row: 8192 rows are under half a MiB.
        assert_eq!(batch_rows(&schema(), None, &[0, 11, 39], 8192), None);
        // Widths never measured (tables written before) count as small.
        assert_eq!(batch_rows(&schema(), None, &[], 8192), None);
    }

    #[test]
    fn wide_rows_make_batches_of_about_two_mib() {
        let widths = [0, 512, 540];
        // The id and both wide columns: 1060 bytes a row.
        assert_eq!(
            batch_rows(&schema(), None, &widths, 8192),
            Some(BATCH_BYTES / 1060)
        );
        // Only what the scan reads counts: the id alone is narrow.
        assert_eq!(batch_rows(&schema(), Some(&[0]), &widths, 8192), None);
        assert_eq!(
            batch_rows(&schema(), Some(&[0, 1]), &widths, 8192),
            Some(BATCH_BYTES / 520)
        );
    }

    #[test]
    fn batches_never_shrink_below_the_floor_nor_grow_past_the_session() {
        let huge = [0, 1 << 20, 0];
        assert_eq!(
            batch_rows(&schema(), None, &huge, 8192),
            Some(MIN_BATCH_ROWS)
        );
        // A session asking for small batches keeps them.
        assert_eq!(batch_rows(&schema(), None, &huge, 512), None);
        assert_eq!(batch_rows(&schema(), None, &[0, 1024, 0], 1000), None);
        // A projection naming a column the schema lacks counts nothing for it.
        assert_eq!(batch_rows(&schema(), Some(&[7]), &huge, 8192), None);
    }
}
