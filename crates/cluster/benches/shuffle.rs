//! What sealing shuffle files costs an executor (`sealhouse_cluster::
//! shuffle`): one stage output of 1,000,000 rows (an id, an amount and a
//! 24-byte text) as an LZ4-compressed Arrow IPC stream, next to the
//! reference measured in the same run, the same stream unsealed (what
//! Ballista's own writer produces):
//!
//! - `reference/ipc-write`, `sealed/write`: encoding the batches into a
//!   reused buffer, plain through an 8 KiB `BufWriter` as Ballista's writer
//!   does, or through a `SealingWriter` (which buffers 256 KiB chunks);
//! - `reference/ipc-read`, `sealed/read`: decoding them back, from the
//!   bytes or through an `OpeningReader`.
//!
//! After the criterion groups, in benchmark mode, a table in M rows/s from
//! the median of 5 timed passes of each, and the sealed/plain ratios: the
//! figures to quote. (Criterion's first case in the group measured 1.6-1.9x
//! slow whichever case it was, also after a pass of each beforehand.)
//! In test mode (`cargo test --all-targets`) the stage is 20,000 rows.
//!
//! Run with `cargo bench --workspace --bench shuffle`.

use std::hint::black_box;
use std::io::{BufWriter, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use sealhouse_cluster::shuffle::sealed_file::{OpeningReader, SealingWriter, ShuffleSecret};

const ROWS: usize = 1_000_000;
const TEST_MODE_ROWS: usize = 20_000;
const BATCH: usize = 8192;
const NAME: &str = "job/2/0/data-0.arrow";

fn batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("amount", DataType::Int64, false),
        Field::new("v", DataType::Utf8, false),
    ]));
    let batches = (0..rows)
        .step_by(BATCH)
        .map(|start| {
            let ids: Vec<i64> = (start as i64..(start + BATCH).min(rows) as i64).collect();
            let amounts: Vec<i64> = ids.iter().map(|i| i * 7919 % 1_000_003).collect();
            let texts: Vec<String> = ids.iter().map(|i| format!("value-{i:018}")).collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(Int64Array::from(amounts)),
                    Arc::new(StringArray::from(texts)),
                ],
            )
            .expect("a batch")
        })
        .collect();
    (schema, batches)
}

fn options() -> IpcWriteOptions {
    IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .expect("lz4 is built in")
}

/// As Ballista's writer: the IPC stream through an 8 KiB `BufWriter`.
fn write_plain(schema: &SchemaRef, batches: &[RecordBatch], out: Vec<u8>) -> Vec<u8> {
    let mut w =
        StreamWriter::try_new_with_options(BufWriter::new(out), schema, options()).expect("writer");
    for b in batches {
        w.write(b).expect("writes");
    }
    w.finish().expect("finishes");
    w.into_inner()
        .expect("the buffer")
        .into_inner()
        .expect("flushes")
}

fn write_sealed(
    secret: &ShuffleSecret,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: Vec<u8>,
) -> Vec<u8> {
    let sealing = SealingWriter::new(out, secret.job_cipher("job"), NAME.into()).expect("starts");
    let mut w = StreamWriter::try_new_with_options(sealing, schema, options()).expect("writer");
    for b in batches {
        w.write(b).expect("writes");
    }
    w.finish().expect("finishes");
    w.into_inner().expect("the writer").finish().expect("seals")
}

fn count_rows(reader: impl Read) -> usize {
    StreamReader::try_new(reader, None)
        .expect("a stream")
        .map(|b| b.expect("a batch").num_rows())
        .sum()
}

struct Case {
    name: &'static str,
    run: Box<dyn FnMut()>,
}

fn cases(rows: usize) -> Vec<Case> {
    let secret = Arc::new(ShuffleSecret::generate().expect("randomness"));
    let (schema, data) = batches(rows);
    let plain = write_plain(&schema, &data, Vec::new());
    let sealed = write_sealed(&secret, &schema, &data, Vec::new());
    println!(
        "stage output: {rows} rows, IPC {} bytes, sealed {} bytes",
        plain.len(),
        sealed.len()
    );
    let mut cases = Vec::new();
    let (s, d) = (Arc::clone(&schema), data.clone());
    let mut out = Some(Vec::new());
    cases.push(Case {
        name: "reference/ipc-write",
        run: Box::new(move || {
            let mut buf = out.take().unwrap_or_default();
            buf.clear();
            out = Some(black_box(write_plain(&s, &d, buf)));
        }),
    });
    let (s, d, k) = (Arc::clone(&schema), data, Arc::clone(&secret));
    let mut out = Some(Vec::new());
    cases.push(Case {
        name: "sealed/write",
        run: Box::new(move || {
            let mut buf = out.take().unwrap_or_default();
            buf.clear();
            out = Some(black_box(write_sealed(&k, &s, &d, buf)));
        }),
    });
    cases.push(Case {
        name: "reference/ipc-read",
        run: Box::new(move || assert_eq!(count_rows(black_box(&plain[..])), rows)),
    });
    cases.push(Case {
        name: "sealed/read",
        run: Box::new(move || {
            let reader = OpeningReader::new(&sealed[..], secret.job_cipher("job"), NAME.into())
                .expect("sealed");
            assert_eq!(count_rows(black_box(reader)), rows);
        }),
    });
    cases
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let rows = if bench_mode { ROWS } else { TEST_MODE_ROWS };
    let mut cases = cases(rows);
    {
        let mut group = criterion.benchmark_group("shuffle-1M-rows");
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(rows as u64));
        for case in &mut cases {
            group.bench_function(case.name, |b| b.iter(&mut case.run));
        }
        group.finish();
    }
    criterion.final_summary();

    if bench_mode {
        println!("\nshuffle stage output, {rows} rows, M rows/s, median of 5 passes:");
        let mut rates = std::collections::HashMap::new();
        for case in &mut cases {
            let mut secs: Vec<f64> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    (case.run)();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            secs.sort_by(f64::total_cmp);
            let rate = rows as f64 / secs[2] / 1e6;
            println!("  {:<22} {:>7.2} M rows/s", case.name, rate);
            rates.insert(case.name, rate);
        }
        for (sealed, plain) in [
            ("sealed/write", "reference/ipc-write"),
            ("sealed/read", "reference/ipc-read"),
        ] {
            println!(
                "  {sealed} takes {:.2}x the time of {plain}",
                rates[plain] / rates[sealed]
            );
        }
    }
}
