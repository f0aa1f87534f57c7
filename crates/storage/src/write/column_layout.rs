//! How each column of a new data file is encoded, chosen from its first rows.
//!
//! Two questions are asked of each column's sample, and answered by trying:
//!
//! - **Would a dictionary pay?** Not when (nearly) every sampled value is
//!   distinct: ids, phone numbers, timestamps, ciphertexts. Trying one cost
//!   57% of writing such a table (the writer interns every value until its
//!   dictionary page outgrows 1 MiB, then falls back to plain pages anyway),
//!   and reading dictionary pages back is slower than reading plain ones. Such
//!   integers are written DELTA_BINARY_PACKED (ascending ids take a few bits a
//!   value), such byte strings DELTA_LENGTH_BYTE_ARRAY (their lengths packed
//!   apart from the bytes, so a reader copies the bytes in one run rather
//!   than parsing a length before each value).
//! - **Does compression shrink it?** LZ4 is tried on the sampled bytes and
//!   kept only when they come out at most [`KEEP_COMPRESSION`] of their size:
//!   ciphertexts and other random bytes do not shrink, and compressing them
//!   cost 7% of an encrypting `CREATE TABLE AS` and decompressing them cost
//!   scans again.
//!
//! Files are compressed with LZ4 (LZ4_RAW): on the warehouse's own tables it
//! writes as fast as snappy, to the same size, and reads back a third faster
//! (files written with snappy before keep reading). A column whose sampled
//! values repeat keeps dictionary encoding and LZ4.
//! The sample is the first batch written; a column that is all distinct
//! there but repeats with a longer period later is written without a
//! dictionary (LZ4 still finds repeats close together). Measured in
//! BENCHMARKS.md, "Column layouts decided from data".
//!
//! Row groups are bounded in rows and in bytes, whichever comes first; the
//! row bound also comes from the sample's width, so that wide values that
//! compress well still make row groups of about [`ROW_GROUP_BYTES`] in memory.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use super::rows_bytes;

/// Values sampled per column, and at most this many of their bytes: enough
/// for a stable estimate, cheap to hash and to compress.
const SAMPLE_VALUES: usize = 4096;
const SAMPLE_BYTES: usize = 1024 * 1024;
/// Fewer sampled values than this say nothing reliable: keep the defaults.
const MIN_SAMPLE_VALUES: usize = 512;
/// Share of distinct values in the sample from which no dictionary is tried.
const DISTINCT_SHARE: f64 = 0.9;
/// Bytes the compression test runs on (LZ4's window is 64 KiB).
const COMPRESSION_SAMPLE_BYTES: usize = 64 * 1024;
/// Compression is kept when it brings the sample to at most this share.
const KEEP_COMPRESSION: f64 = 0.85;

/// Rows per Parquet row group: large enough for efficient scans, small
/// enough that a scan of one file splits across cores.
const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Bytes per row group (the writer's estimate of its encoded size, and from
/// the sample its width in memory). A scan reads each column chunk of a row
/// group into fresh memory, so with rows alone as the bound 1 KiB values made
/// ~270 MB chunks: a count over 1M of them peaked at ~1 GB resident and spent
/// up to 40% of its CPU in the kernel faulting and zeroing pages. 32 MiB
/// brought that to ~325 MB (bench/README.md, issue 8); 8 MiB to ~200 MB for
/// a decrypt of 1M 1 KiB values (57 huge-page faults a query against 86, CPU
/// 0.80 → 0.70 s; BENCHMARKS.md, "Block tags by GMAC"), the other peer
/// workloads unchanged.
const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;
/// The fewest rows a width-derived bound leaves in a row group.
const MIN_ROW_GROUP_ROWS: usize = 1024;

/// `builder` with each column's encoding and compression chosen from
/// `sample` (the module doc says how), and rows per row group bounded by the
/// sample's width; and each column's mean bytes per value in the sample (0
/// where it says nothing: not a byte column, or too few values), which the
/// commit keeps in the catalog for scans (`ColumnType::scan_type`).
pub(crate) fn with_column_layouts(
    mut builder: WriterPropertiesBuilder,
    sample: &RecordBatch,
) -> (WriterPropertiesBuilder, Vec<u32>) {
    let mut widths = Vec::with_capacity(sample.num_columns());
    for (field, column) in sample.schema().fields().iter().zip(sample.columns()) {
        let Some(sample) = Sample::of(column.as_ref()) else {
            widths.push(0);
            continue;
        };
        widths.push(sample.width());
        let Some(layout) = layout_of(&sample) else {
            continue;
        };
        let path = ColumnPath::from(field.name().as_str());
        if let Some(encoding) = layout.encoding {
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), encoding);
        }
        if !layout.compress {
            builder = builder.set_column_compression(path, Compression::UNCOMPRESSED);
        }
    }
    if let Some(rows) = rows_per_group(sample) {
        builder = builder.set_max_row_group_row_count(Some(rows));
    }
    (builder, widths)
}

/// The default properties for byte columns and everything else, and the
/// row-group bounds.
pub(crate) fn base_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
}

/// What the sample says about one column.
#[derive(Debug, PartialEq)]
struct Layout {
    /// No dictionary, and this encoding instead.
    encoding: Option<Encoding>,
    /// Whether compression stays on.
    compress: bool,
}

/// The layout of a sampled column of integers or bytes; `None` (keep the
/// defaults) for too small a sample.
fn layout_of(sample: &Sample) -> Option<Layout> {
    if sample.values < MIN_SAMPLE_VALUES {
        return None;
    }
    let distinct = sample.distinct as f64 >= DISTINCT_SHARE * sample.values as f64;
    let layout = match sample.kind {
        // Delta-packed integers are a few bits a value or incompressible.
        Kind::Integer if distinct => Layout {
            encoding: Some(Encoding::DELTA_BINARY_PACKED),
            compress: false,
        },
        Kind::Integer => return None,
        Kind::Bytes => Layout {
            encoding: distinct.then_some(Encoding::DELTA_LENGTH_BYTE_ARRAY),
            compress: lz4_shrinks(&sample.bytes),
        },
    };
    Some(layout)
}

/// Whether LZ4 brings the start of `bytes` to at most
/// [`KEEP_COMPRESSION`] of its size.
fn lz4_shrinks(bytes: &[u8]) -> bool {
    let input = &bytes[..bytes.len().min(COMPRESSION_SAMPLE_BYTES)];
    let out = lz4_flex::block::compress(input);
    out.len() as f64 <= KEEP_COMPRESSION * input.len() as f64
}

/// Columns the rule applies to: integers that DELTA_BINARY_PACKED takes
/// (Parquet INT32 and INT64), and byte strings.
enum Kind {
    Integer,
    Bytes,
}

/// Up to [`SAMPLE_VALUES`] non-null values of a column, counted.
struct Sample {
    kind: Kind,
    values: usize,
    distinct: usize,
    /// The sampled values' bytes, one after another (byte columns only).
    bytes: Vec<u8>,
}

impl Sample {
    fn of(column: &dyn Array) -> Option<Self> {
        let kind = match column.data_type() {
            DataType::Int32
            | DataType::Int64
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _) => Kind::Integer,
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View => Kind::Bytes,
            _ => return None,
        };
        let state = RandomState::new();
        let mut seen = HashSet::with_capacity(SAMPLE_VALUES);
        let mut bytes = Vec::new();
        let mut values = 0;
        for_each_sampled(column, |value| {
            values += 1;
            // Distinct values counted by a 64-bit hash: a collision among
            // 4,096 values is a 2^-41 event, and would only miscount one.
            seen.insert(state.hash_one(value));
            if matches!(kind, Kind::Bytes) {
                bytes.extend_from_slice(value);
            }
        })?;
        Some(Self {
            kind,
            values,
            distinct: seen.len(),
            bytes,
        })
    }

    /// Mean bytes per sampled value of a byte column, rounded up; 0 for
    /// integers and for a sample too small to say (fewer than
    /// [`MIN_SAMPLE_VALUES`] values, unless they already fill half of
    /// [`SAMPLE_BYTES`]: a few very wide values are wide enough).
    fn width(&self) -> u32 {
        let enough = self.values >= MIN_SAMPLE_VALUES || self.bytes.len() >= SAMPLE_BYTES / 2;
        match self.kind {
            Kind::Bytes if enough && self.values > 0 => {
                u32::try_from(self.bytes.len().div_ceil(self.values)).unwrap_or(u32::MAX)
            }
            _ => 0,
        }
    }
}

/// Calls `f` with each non-null value among the first [`SAMPLE_VALUES`]
/// rows, as its bytes (little-endian for integers), stopping after
/// [`SAMPLE_BYTES`]. `None` for a type without a byte form here.
fn for_each_sampled(column: &dyn Array, mut f: impl FnMut(&[u8])) -> Option<()> {
    let rows = (0..column.len().min(SAMPLE_VALUES)).filter(|&i| column.is_valid(i));
    let mut taken = 0;
    let mut each = |value: &[u8]| {
        taken += value.len();
        if taken <= SAMPLE_BYTES {
            f(value);
        }
    };
    match column.data_type() {
        DataType::Binary => {
            let c = column.as_binary::<i32>();
            rows.for_each(|i| each(c.value(i)));
        }
        DataType::LargeBinary => {
            let c = column.as_binary::<i64>();
            rows.for_each(|i| each(c.value(i)));
        }
        DataType::BinaryView => {
            let c = column.as_binary_view();
            rows.for_each(|i| each(c.value(i)));
        }
        DataType::Utf8 => {
            let c = column.as_string::<i32>();
            rows.for_each(|i| each(c.value(i).as_bytes()));
        }
        DataType::LargeUtf8 => {
            let c = column.as_string::<i64>();
            rows.for_each(|i| each(c.value(i).as_bytes()));
        }
        DataType::Utf8View => {
            let c = column.as_string_view();
            rows.for_each(|i| each(c.value(i).as_bytes()));
        }
        other => {
            let width = other.primitive_width()?;
            let data = column.to_data();
            let buffer = data.buffers().first()?.as_slice();
            let start = data.offset() * width;
            rows.for_each(|i| each(&buffer[start + i * width..start + (i + 1) * width]));
        }
    }
    Some(())
}

/// Rows per row group so that the sample's rows, as wide in memory as they
/// are there, make about [`ROW_GROUP_BYTES`]; `None` when that is more than
/// [`ROW_GROUP_ROWS`] anyway.
fn rows_per_group(sample: &RecordBatch) -> Option<usize> {
    let rows = sample.num_rows();
    if rows == 0 {
        return None;
    }
    // The same measure the group commit sizes rows by: it counts the values
    // a view column points to (writes arrive with BINARY as views).
    let width = rows_bytes(sample).div_ceil(rows).max(1);
    let bound = (ROW_GROUP_BYTES / width).max(MIN_ROW_GROUP_ROWS);
    (bound < ROW_GROUP_ROWS).then_some(bound)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        BinaryArray, BinaryViewArray, Float64Array, Int32Array, Int64Array, StringArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<(&str, Arc<dyn Array>)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, c)| c).collect(),
        )
        .expect("batch")
    }

    /// `count` values of `len` bytes from a keyed stream (SplitMix64): they
    /// stand in for ciphertexts.
    fn random_values(count: usize, len: usize) -> Vec<Vec<u8>> {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        (0..count)
            .map(|_| {
                (0..len.div_ceil(8))
                    .flat_map(|_| {
                        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        let mut z = state;
                        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                        (z ^ (z >> 31)).to_le_bytes()
                    })
                    .take(len)
                    .collect()
            })
            .collect()
    }

    /// The properties `with_column_layouts` makes for `sample`.
    fn layouts(sample: &RecordBatch) -> WriterProperties {
        with_column_layouts(base_properties(), sample).0.build()
    }

    fn assert_layout(props: &WriterProperties, column: &str, dictionary: bool, want: Layout) {
        let path = ColumnPath::from(column);
        assert_eq!(props.dictionary_enabled(&path), dictionary, "{column}");
        assert_eq!(props.encoding(&path), want.encoding, "{column}");
        let compression = if want.compress {
            Compression::LZ4_RAW
        } else {
            Compression::UNCOMPRESSED
        };
        assert_eq!(props.compression(&path), compression, "{column}");
    }

    #[test]
    fn distinct_values_go_without_a_dictionary_and_only_what_shrinks_is_compressed() {
        let random = random_values(2000, 32);
        let tels: Vec<String> = (0..2000)
            .map(|i| (13_900_000_000u64 + i).to_string())
            .collect();
        let sexes: Vec<&str> = (0..2000).map(|i| ["F", "M"][i % 2]).collect();
        // Deterministic ciphertexts of a column with 10 values: random
        // bytes, but repeating.
        let tokens = random_values(10, 48);
        let sealed_codes: Vec<&Vec<u8>> = (0..2000).map(|i| &tokens[i % 10]).collect();
        let sample = batch(vec![
            (
                "c",
                Arc::new(BinaryArray::from_iter_values(random.iter())) as Arc<dyn Array>,
            ),
            ("tel", Arc::new(StringArray::from_iter_values(tels.iter()))),
            ("sex", Arc::new(StringArray::from_iter_values(sexes))),
            (
                "sealed_code",
                Arc::new(BinaryArray::from_iter_values(sealed_codes)),
            ),
            ("n", Arc::new(Int64Array::from_iter_values(0..2000))),
            (
                "bucket",
                Arc::new(Int64Array::from_iter_values((0..2000).map(|i| i % 7))),
            ),
            // 100 values and 1,900 NULLs: too few values to judge.
            (
                "small",
                Arc::new(BinaryArray::from_iter(
                    (0..2000).map(|i| (i < 100).then(|| random[i].as_slice())),
                )),
            ),
        ]);
        let props = layouts(&sample);
        let delta_bytes = Some(Encoding::DELTA_LENGTH_BYTE_ARRAY);
        // Ciphertexts: all distinct, incompressible.
        let (encoding, compress) = (delta_bytes, false);
        assert_layout(&props, "c", false, Layout { encoding, compress });
        // Phone numbers: all distinct, digits shrink.
        let (encoding, compress) = (delta_bytes, true);
        assert_layout(&props, "tel", false, Layout { encoding, compress });
        // Repeating text, integers and ciphertexts keep their dictionary
        // and compression (the repeats shrink); too few values say nothing.
        for repeating in ["sex", "sealed_code", "bucket", "small"] {
            let (encoding, compress) = (None, true);
            assert_layout(&props, repeating, true, Layout { encoding, compress });
        }
        // Ascending integers: delta-packed, not compressed.
        let (encoding, compress) = (Some(Encoding::DELTA_BINARY_PACKED), false);
        assert_layout(&props, "n", false, Layout { encoding, compress });
    }

    #[test]
    fn incompressible_repeating_values_keep_a_dictionary_without_compression() {
        // 600 distinct 200-byte random values, each twice: half distinct,
        // and LZ4's 64 KiB window holds too few repeats to shrink them.
        let distinct = random_values(600, 200);
        let values: Vec<&Vec<u8>> = distinct.iter().chain(distinct.iter()).collect();
        let sample = batch(vec![(
            "v",
            Arc::new(BinaryArray::from_iter_values(values)) as Arc<dyn Array>,
        )]);
        let (encoding, compress) = (None, false);
        assert_layout(&layouts(&sample), "v", true, Layout { encoding, compress });
    }

    #[test]
    fn a_sample_of_sliced_nullable_integers_counts_only_its_values() {
        let mut values: Vec<Option<i32>> = (0..3000).map(Some).collect();
        values.iter_mut().step_by(2).for_each(|v| *v = None);
        let column = Int32Array::from(values).slice(1000, 2000);
        let sample = Sample::of(&column).expect("integers are sampled");
        assert_eq!((sample.values, sample.distinct), (1000, 1000));
        // Every value once more: half distinct, a dictionary pays.
        let twice = Int32Array::from_iter_values((0..1000).chain(0..1000));
        assert_eq!(layout_of(&Sample::of(&twice).expect("sampled")), None);
        // Floats and booleans are left to the defaults.
        let floats = Float64Array::from_iter_values((0..2000).map(f64::from));
        assert!(Sample::of(&floats).is_none());
    }

    #[test]
    fn byte_columns_report_their_mean_width() {
        let text = |len: usize, rows: usize| -> Arc<dyn Array> {
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
                let digits = i.to_string();
                "0".repeat(len - digits.len()) + &digits
            })))
        };
        let half_null: Arc<dyn Array> = Arc::new(StringArray::from_iter(
            (0..2000).map(|i| (i % 2 == 0).then(|| "x".repeat(100))),
        ));
        let sample = batch(vec![
            ("id", Arc::new(Int64Array::from_iter_values(0..2000))),
            ("short", text(11, 2000)),
            ("wide", text(1024, 2000)),
            // NULLs are not values: the mean is over the 1000 that are.
            ("half_null", half_null),
        ]);
        let (_, widths) = with_column_layouts(base_properties(), &sample);
        assert_eq!(widths, vec![0, 11, 1024, 100]);
        // Too few values to say.
        let (_, few) = with_column_layouts(base_properties(), &batch(vec![("few", text(30, 100))]));
        assert_eq!(few, vec![0]);
        // A few values that fill half the sample's bytes are enough.
        let (_, huge) =
            with_column_layouts(base_properties(), &batch(vec![("huge", text(100_000, 6))]));
        assert_eq!(huge, vec![100_000]);
    }

    #[test]
    fn wide_values_get_fewer_rows_per_group_by_their_width_in_memory() {
        // 1 KiB values of one repeated byte: LZ4 shrinks them to almost
        // nothing, so the writer's byte bound (on encoded bytes) would not
        // cut them; the sample's width does.
        let wide = BinaryArray::from_iter_values(std::iter::repeat_n(vec![b'x'; 1024], 2000));
        let sample = batch(vec![("v", Arc::new(wide) as Arc<dyn Array>)]);
        let rows = layouts(&sample).max_row_group_row_count().expect("bounded");
        // About ROW_GROUP_BYTES of 1 KiB values (their offsets or views add
        // a little to each).
        let about = ROW_GROUP_BYTES / 1024;
        assert!((about * 15 / 16..=about).contains(&rows), "{rows}");
        // The same values as views (how writes arrive): the values count,
        // not only their 16-byte views.
        let views = BinaryViewArray::from_iter_values(std::iter::repeat_n(vec![b'x'; 1024], 2000));
        let sample = batch(vec![("v", Arc::new(views) as Arc<dyn Array>)]);
        let rows = layouts(&sample).max_row_group_row_count().expect("bounded");
        assert!((about * 15 / 16..=about).contains(&rows), "{rows}");
        // Narrow rows keep the row bound.
        let narrow = batch(vec![(
            "n",
            Arc::new(Int64Array::from_iter_values(0..2000)) as Arc<dyn Array>,
        )]);
        assert_eq!(
            layouts(&narrow).max_row_group_row_count(),
            Some(ROW_GROUP_ROWS)
        );
    }

    #[test]
    fn wide_rows_are_cut_into_row_groups_by_bytes_narrow_ones_by_rows() {
        use parquet::arrow::ArrowWriter;
        use parquet::file::reader::{FileReader, SerializedFileReader};

        // Row groups of a file written with base_properties().
        fn row_groups(column: Arc<dyn Array>, rows_per_batch: usize) -> Vec<(i64, i64)> {
            let all = batch(vec![("v", column)]);
            let mut out = Vec::new();
            let mut writer =
                ArrowWriter::try_new(&mut out, all.schema(), Some(base_properties().build()))
                    .expect("writer");
            for start in (0..all.num_rows()).step_by(rows_per_batch) {
                let len = rows_per_batch.min(all.num_rows() - start);
                writer.write(&all.slice(start, len)).expect("write");
            }
            writer.close().expect("close");
            let reader = SerializedFileReader::new(bytes::Bytes::from(out)).expect("read");
            reader
                .metadata()
                .row_groups()
                .iter()
                .map(|g| (g.num_rows(), g.compressed_size()))
                .collect()
        }

        // 80,000 incompressible values of 1 KiB (~80 MB): cut by bytes into
        // groups of about ROW_GROUP_BYTES (the bound is on encoded, compressed bytes).
        let wide = random_values(80_000, 1024);
        let groups = row_groups(Arc::new(BinaryArray::from_iter_values(wide.iter())), 8192);
        assert!(groups.len() >= 3, "{groups:?}");
        assert_eq!(groups.iter().map(|g| g.0).sum::<i64>(), 80_000);
        for (_, bytes) in &groups {
            // The writer checks the bound between batches: one batch (8 MiB) over at most.
            let limit = i64::try_from(ROW_GROUP_BYTES).expect("fits") + 9 * 1024 * 1024;
            assert!(*bytes <= limit, "{groups:?}");
        }
        // 300,000 eight-byte values (2.4 MB): cut by rows at 256Ki.
        let narrow = row_groups(Arc::new(Int64Array::from_iter_values(0..300_000)), 8192);
        let rows: Vec<i64> = narrow.iter().map(|g| g.0).collect();
        assert_eq!(rows, vec![262_144, 37_856]);
    }
}
