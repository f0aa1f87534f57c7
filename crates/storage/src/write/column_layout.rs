//! How each column of a new data file is encoded, chosen from its first rows.
//!
//! Most byte columns in an encrypting warehouse hold ciphertexts, which no
//! compressor can shrink: snappy spent 7% of an encrypting `CREATE TABLE AS`
//! failing to compress them, and its decompression and the dictionary
//! encoder's attempt (every value distinct) cost scans and writes again.
//! A byte column whose sampled bytes look random (Shannon entropy above
//! [`RANDOM_BITS_PER_BYTE`]) is therefore written PLAIN and uncompressed;
//! every other column keeps dictionary encoding and snappy.
//!
//! Row groups are bounded in rows and in bytes, whichever comes first.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

/// Bytes sampled per column: enough for a stable estimate, cheap to count.
const SAMPLE_BYTES: usize = 64 * 1024;
/// Entropy above which bytes are taken as incompressible. Random bytes score
/// close to 8 over a 64 KiB sample; text and numbers stay well under 6.
const RANDOM_BITS_PER_BYTE: f64 = 7.5;
/// Fewer sampled bytes than this say nothing reliable: keep the default.
const MIN_SAMPLE_BYTES: usize = 4 * 1024;

/// Rows per Parquet row group: large enough for efficient scans, small
/// enough that a scan of one file splits across cores.
const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Bytes per row group (the writer's estimate of its encoded size). A scan
/// reads each column chunk of a row group into fresh memory, so with rows
/// alone as the bound 1 KiB values made ~270 MB chunks: a count over 1M of
/// them peaked at ~1 GB resident and spent up to 40% of its CPU in the kernel
/// faulting and zeroing pages. 32 MiB: ~325 MB peak, a fifth of the system
/// time (bench/README.md, issue 8).
const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// `builder` with every random-looking byte column of `sample` set to PLAIN
/// encoding without compression.
pub(crate) fn with_column_layouts(
    mut builder: WriterPropertiesBuilder,
    sample: &RecordBatch,
) -> WriterPropertiesBuilder {
    for (field, column) in sample.schema().fields().iter().zip(sample.columns()) {
        let Some(bits) = byte_entropy(column.as_ref()) else {
            continue;
        };
        if bits > RANDOM_BITS_PER_BYTE {
            let path = ColumnPath::from(field.name().as_str());
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), Encoding::PLAIN)
                .set_column_compression(path, Compression::UNCOMPRESSED);
        }
    }
    builder
}

/// The default properties for byte columns and everything else, and the
/// row-group bounds.
pub(crate) fn base_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
}

/// Shannon entropy, in bits per byte, of up to [`SAMPLE_BYTES`] of a byte
/// column's values; `None` for other columns and for too small a sample.
fn byte_entropy(column: &dyn Array) -> Option<f64> {
    let data: &[u8] = match column.data_type() {
        DataType::Binary => sample_of(column.as_binary::<i32>().values()),
        DataType::LargeBinary => sample_of(column.as_binary::<i64>().values()),
        DataType::Utf8 => sample_of(column.as_string::<i32>().values()),
        DataType::LargeUtf8 => sample_of(column.as_string::<i64>().values()),
        _ => return None,
    };
    if data.len() < MIN_SAMPLE_BYTES {
        return None;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    Some(
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = f64::from(c) / n;
                -p * p.log2()
            })
            .sum(),
    )
}

fn sample_of(values: &[u8]) -> &[u8] {
    &values[..values.len().min(SAMPLE_BYTES)]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{BinaryArray, Int64Array, StringArray};
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

    #[test]
    fn random_bytes_are_plain_and_uncompressed_text_keeps_the_defaults() {
        let random = random_values(2000, 32);
        let tels: Vec<String> = (0..2000)
            .map(|i| (13_900_000_000u64 + i).to_string())
            .collect();
        let sample = batch(vec![
            (
                "c",
                Arc::new(BinaryArray::from_iter_values(random.iter())) as Arc<dyn Array>,
            ),
            ("tel", Arc::new(StringArray::from_iter_values(tels.iter()))),
            ("n", Arc::new(Int64Array::from_iter_values(0..2000))),
            // 2,000 bytes: too few to judge.
            (
                "small",
                Arc::new(BinaryArray::from_iter_values([b"x"; 2000])),
            ),
        ]);
        let props = with_column_layouts(base_properties(), &sample).build();
        let c = ColumnPath::from("c");
        assert_eq!(props.compression(&c), Compression::UNCOMPRESSED);
        assert!(!props.dictionary_enabled(&c));
        assert_eq!(props.encoding(&c), Some(Encoding::PLAIN));
        for other in ["tel", "n", "small"] {
            let path = ColumnPath::from(other);
            assert_eq!(props.compression(&path), Compression::SNAPPY, "{other}");
            assert!(props.dictionary_enabled(&path), "{other}");
        }
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
        // groups of about 32 MiB (the bound is on encoded, compressed bytes).
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

    #[test]
    fn entropy_of_one_repeated_byte_is_zero_and_of_every_byte_eight() {
        let same = BinaryArray::from_iter_values([vec![7u8; 8192]]);
        assert_eq!(byte_entropy(&same), Some(0.0));
        let all: Vec<u8> = (0..32).flat_map(|_| 0..=255u8).collect();
        let every = BinaryArray::from_iter_values([all]);
        assert!((byte_entropy(&every).expect("sampled") - 8.0).abs() < 1e-9);
        assert_eq!(byte_entropy(&Int64Array::from(vec![1])), None);
    }
}
