//! Cursors: a query's rows, handed out a FETCH at a time. The rows are
//! those committed when the cursor was declared (the query runs at DECLARE),
//! which is the snapshot PostgreSQL's cursors give too.

use std::collections::VecDeque;

use datafusion::arrow::array::RecordBatch;
use sealhouse_sql::format::ResultSet;

/// A declared cursor.
pub(crate) struct Cursor {
    names: Vec<String>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    pending: VecDeque<RecordBatch>,
    hold: bool,
}

impl Cursor {
    pub(crate) fn new(rows: ResultSet, hold: bool) -> Self {
        Self {
            names: rows.names,
            schema: rows.schema,
            pending: rows
                .batches
                .into_iter()
                .filter(|b| b.num_rows() > 0)
                .collect(),
            hold,
        }
    }

    /// Its columns: the schema and the names shown.
    pub(crate) fn columns(&self) -> (&datafusion::arrow::datatypes::Schema, &[String]) {
        (&self.schema, &self.names)
    }

    /// Whether it outlives its transaction (WITH HOLD).
    pub(crate) fn hold(&self) -> bool {
        self.hold
    }

    /// The next `count` rows (`None`: all that are left).
    pub(crate) fn fetch(&mut self, count: Option<usize>) -> ResultSet {
        let mut wanted = count.unwrap_or(usize::MAX);
        let mut batches = Vec::new();
        while wanted > 0 {
            let Some(batch) = self.pending.pop_front() else {
                break;
            };
            if batch.num_rows() <= wanted {
                wanted -= batch.num_rows();
                batches.push(batch);
            } else {
                batches.push(batch.slice(0, wanted));
                self.pending
                    .push_front(batch.slice(wanted, batch.num_rows() - wanted));
                wanted = 0;
            }
        }
        ResultSet {
            names: self.names.clone(),
            schema: self.schema.clone(),
            batches,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn cursor(batch_sizes: &[i64]) -> Cursor {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let mut next = 0;
        let batches = batch_sizes
            .iter()
            .map(|&size| {
                let values: Vec<i64> = (next..next + size).collect();
                next += size;
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values))])
                    .expect("batch")
            })
            .collect();
        Cursor::new(
            ResultSet {
                names: vec!["n".to_owned()],
                schema,
                batches,
            },
            false,
        )
    }

    fn values(rows: &ResultSet) -> Vec<i64> {
        rows.batches
            .iter()
            .flat_map(|b| {
                let a = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("i64");
                a.values().to_vec()
            })
            .collect()
    }

    #[test]
    fn fetches_hand_out_every_row_once_in_order_across_batches() {
        let mut c = cursor(&[3, 0, 4, 2]);
        assert_eq!(values(&c.fetch(Some(2))), vec![0, 1]);
        assert_eq!(values(&c.fetch(Some(3))), vec![2, 3, 4]);
        assert_eq!(values(&c.fetch(None)), vec![5, 6, 7, 8]);
        assert!(values(&c.fetch(Some(100))).is_empty());
        assert!(values(&c.fetch(None)).is_empty());
    }
}
