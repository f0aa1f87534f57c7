//! Reading a bucket's Parquet file row groups ahead.
//!
//! DataFusion's Parquet reader fetches a row group's column chunks, decodes
//! them, and only then asks for the next row group's: on a local disk the
//! fetch is a copy from the page cache, but from an object store it is a
//! request whose whole transfer the scan waits for, once per row group.
//! [`ReadAhead`] overlaps the two: when the reader asks for exactly the
//! column chunks of one row group, the same columns of the next
//! [`DEPTH`] row groups of the file's range are fetched in the background,
//! and handed out if they are what the reader asks for next. A guess the
//! reader does not take (a row group pruned by statistics, pages selected
//! by the page index) drops the guesses, costing wasted requests, never
//! other bytes; memory holds at most `DEPTH` row groups' chunks per open
//! file beyond what the reader holds. Every byte still comes through the
//! same object store, so the file's checks (block tags, segment MACs) hold
//! for fetched-ahead bytes exactly as for the others.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use datafusion::datasource::listing::FileRange;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use tokio::task::JoinHandle;

/// How many row groups are fetched ahead of the one being read: two, so
/// that one is in flight while the next arrives (measured on the loopback
/// S3 server: see BENCHMARKS.md, "Tables in an S3 bucket").
const DEPTH: usize = 2;

/// A row group's chunks being fetched ahead.
struct Fetch {
    ranges: Vec<Range<u64>>,
    task: JoinHandle<object_store::Result<Vec<Bytes>>>,
}

/// `inner`, with the next row groups fetched while one is decoded.
pub(crate) struct ReadAhead {
    inner: Box<dyn AsyncFileReader + Send>,
    store: Arc<dyn ObjectStore>,
    location: Path,
    /// The part of the file this reader's scan reads (DataFusion splits a
    /// large file between partitions by byte range).
    range: Option<FileRange>,
    metadata: Option<Arc<ParquetMetaData>>,
    /// The row groups being fetched ahead, in file order.
    ahead: VecDeque<Fetch>,
    /// How many fetches ahead the reader used.
    taken: Arc<AtomicUsize>,
}

impl ReadAhead {
    pub(crate) fn new(
        inner: Box<dyn AsyncFileReader + Send>,
        store: Arc<dyn ObjectStore>,
        location: Path,
        range: Option<FileRange>,
    ) -> Self {
        Self {
            inner,
            store,
            location,
            range,
            metadata: None,
            ahead: VecDeque::new(),
            taken: Arc::default(),
        }
    }

    /// The fetch ahead of exactly `ranges`, if one is; the guesses before
    /// it (row groups the reader skipped) are dropped, and all of them if
    /// none is.
    fn take_ahead(&mut self, ranges: &[Range<u64>]) -> Option<Fetch> {
        while let Some(fetch) = self.ahead.pop_front() {
            if fetch.ranges == ranges {
                self.taken.fetch_add(1, Ordering::Relaxed);
                return Some(fetch);
            }
            fetch.task.abort();
        }
        None
    }

    /// Starts fetching the row groups after `asked` (see
    /// [`next_row_group`]) until `DEPTH` are in flight.
    fn fetch_after(&mut self, asked: &[Range<u64>]) {
        let Some(metadata) = self.metadata.clone() else {
            return;
        };
        while self.ahead.len() < DEPTH {
            let last = self.ahead.back().map_or(asked, |f| &f.ranges);
            let Some(next) = next_row_group(&metadata, self.range.as_ref(), last) else {
                return;
            };
            let store = Arc::clone(&self.store);
            let location = self.location.clone();
            let wanted = next.clone();
            let task = tokio::spawn(async move { store.get_ranges(&location, &wanted).await });
            self.ahead.push_back(Fetch { ranges: next, task });
        }
    }

    fn drop_ahead(&mut self) {
        for fetch in self.ahead.drain(..) {
            fetch.task.abort();
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.drop_ahead();
    }
}

impl AsyncFileReader for ReadAhead {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            let ahead = self.take_ahead(&ranges);
            // The next row groups go in flight before this one is waited
            // for.
            self.fetch_after(&ranges);
            match ahead {
                Some(fetch) => match fetch.task.await {
                    Ok(fetched) => fetched.map_err(|e| ParquetError::External(Box::new(e))),
                    Err(e) => Err(ParquetError::External(Box::new(e))),
                },
                None => self.inner.get_byte_ranges(ranges).await,
            }
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let metadata = self.inner.get_metadata(options).await?;
            self.metadata = Some(Arc::clone(&metadata));
            Ok(metadata)
        }
        .boxed()
    }
}

/// If `ranges` are exactly some column chunks of one row group, the same
/// columns' chunks of the next row group that starts inside `range` (as
/// DataFusion assigns row groups to a file range: by the first column's
/// first page).
fn next_row_group(
    metadata: &ParquetMetaData,
    range: Option<&FileRange>,
    ranges: &[Range<u64>],
) -> Option<Vec<Range<u64>>> {
    let first = ranges.first()?;
    let groups = metadata.row_groups();
    let (index, group) = groups.iter().enumerate().find(|(_, g)| {
        g.columns().iter().any(|c| {
            let (start, len) = c.byte_range();
            start == first.start && start + len == first.end
        })
    })?;
    // Which columns, in the order asked; each range must be a whole chunk.
    let columns = ranges
        .iter()
        .map(|r| {
            group.columns().iter().position(|c| {
                let (start, len) = c.byte_range();
                start == r.start && start + len == r.end
            })
        })
        .collect::<Option<Vec<usize>>>()?;
    let next = groups.get(index + 1)?;
    let first_page = {
        let c = next.column(0);
        c.dictionary_page_offset()
            .unwrap_or_else(|| c.data_page_offset())
    };
    if range.is_some_and(|r| !r.contains(first_page)) {
        return None;
    }
    Some(
        columns
            .into_iter()
            .map(|i| {
                let (start, len) = next.column(i).byte_range();
                start..start + len
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    use parquet::arrow::async_reader::ParquetObjectReader;
    use parquet::file::properties::WriterProperties;

    /// A file of `groups` row groups of 100 rows (id, name).
    fn file(groups: usize) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let mut out = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(properties)).expect("writer");
        for g in 0..groups as i64 {
            let ids: Vec<i64> = (g * 100..(g + 1) * 100).collect();
            let names: Vec<String> = ids.iter().map(|i| format!("name-{i}")).collect();
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(names)),
                ],
            )
            .expect("batch");
            writer.write(&batch).expect("write");
            writer.flush().expect("flush");
        }
        writer.close().expect("close");
        out
    }

    fn chunk(metadata: &ParquetMetaData, group: usize, column: usize) -> Range<u64> {
        let (start, len) = metadata.row_group(group).column(column).byte_range();
        start..start + len
    }

    async fn stored(groups: usize) -> (Arc<dyn ObjectStore>, Path, Arc<ParquetMetaData>) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let location = Path::from("t/f.parquet");
        store
            .put(&location, PutPayload::from(file(groups)))
            .await
            .expect("put");
        let metadata = ParquetObjectReader::new(Arc::clone(&store), location.clone())
            .get_metadata(None)
            .await
            .expect("metadata");
        (store, location, metadata)
    }

    #[tokio::test]
    async fn the_next_row_group_of_the_same_columns_is_guessed() {
        let (_, _, m) = stored(3).await;
        assert_eq!(m.num_row_groups(), 3);
        // Column 1 alone, then both columns in the order asked.
        assert_eq!(
            next_row_group(&m, None, &[chunk(&m, 0, 1)]),
            Some(vec![chunk(&m, 1, 1)])
        );
        assert_eq!(
            next_row_group(&m, None, &[chunk(&m, 1, 1), chunk(&m, 1, 0)]),
            Some(vec![chunk(&m, 2, 1), chunk(&m, 2, 0)])
        );
        // After the last row group, nothing.
        assert_eq!(next_row_group(&m, None, &[chunk(&m, 2, 0)]), None);
        // Part of a chunk (pages chosen by the page index): no guess.
        let chunk_0 = chunk(&m, 0, 1);
        let part = chunk_0.start..chunk_0.end - 1;
        assert_eq!(next_row_group(&m, None, &[part]), None);
        // The next row group starts outside this reader's range.
        let range = FileRange {
            start: 0,
            end: chunk(&m, 1, 0).start as i64,
        };
        assert_eq!(next_row_group(&m, Some(&range), &[chunk(&m, 0, 0)]), None);
    }

    #[tokio::test]
    async fn a_scan_reads_the_same_rows_with_row_groups_fetched_ahead() {
        let (store, location, _) = stored(5).await;
        let inner = ParquetObjectReader::new(Arc::clone(&store), location.clone());
        let reader = ReadAhead::new(Box::new(inner), Arc::clone(&store), location, None);
        let taken = Arc::clone(&reader.taken);
        let mut stream = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .expect("builder")
            .build()
            .expect("stream");
        let mut batches = Vec::new();
        while let Some(batch) = futures::StreamExt::next(&mut stream).await {
            batches.push(batch.expect("read"));
        }
        // Every row group after the first came from a fetch ahead.
        assert_eq!(taken.load(Ordering::Relaxed), 4);
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("ids")
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(ids, (0..500).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn a_guess_not_taken_is_dropped_and_the_asked_bytes_read() {
        let (store, location, m) = stored(3).await;
        let inner = ParquetObjectReader::new(Arc::clone(&store), location.clone());
        let mut reader = ReadAhead::new(Box::new(inner), Arc::clone(&store), location, None);
        reader.get_metadata(None).await.expect("metadata");
        let whole = file(3);
        let slice =
            |r: &Range<u64>| Bytes::copy_from_slice(&whole[r.start as usize..r.end as usize]);
        let first = vec![chunk(&m, 0, 0)];
        assert_eq!(
            reader.get_byte_ranges(first.clone()).await.expect("read"),
            vec![slice(&first[0])]
        );
        let guesses: Vec<_> = reader.ahead.iter().map(|f| f.ranges.clone()).collect();
        assert_eq!(guesses, vec![vec![chunk(&m, 1, 0)], vec![chunk(&m, 2, 0)]]);
        // Row group 1 pruned: the reader asks for row group 2's same
        // column, fetched ahead; then for both its columns, not guessed.
        let second = vec![chunk(&m, 2, 0)];
        assert_eq!(
            reader.get_byte_ranges(second.clone()).await.expect("read"),
            vec![slice(&second[0])]
        );
        assert_eq!(reader.taken.load(Ordering::Relaxed), 1);
        assert!(reader.ahead.is_empty(), "nothing after the last row group");
        let third = vec![chunk(&m, 2, 0), chunk(&m, 2, 1)];
        assert_eq!(
            reader.get_byte_ranges(third.clone()).await.expect("read"),
            third.iter().map(slice).collect::<Vec<_>>()
        );
        assert!(reader.ahead.is_empty(), "nothing after the last row group");
    }
}
