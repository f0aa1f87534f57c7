//! Shuffle data sealed at rest (DESIGN.md, "Scale-out").
//!
//! Ballista's executors write each stage's output as Arrow IPC files in
//! their work directories and serve them over Arrow Flight. Those files
//! hold query results: decrypted values of encrypted tables. Here they are
//! written sealed ([`sealed_file`]): AES-256-GCM under a key derived, per
//! job, from a secret only the writing executor process holds in memory.
//! The executor's own Flight service opens them as it serves them; readers
//! always fetch through it (`ballista.shuffle.reader.force_remote_read`),
//! so no process reads a shuffle file from disk but its writer. A copy of
//! a work directory, or a crashed executor's leftovers, decrypts nothing.
//!
//! An executor that starts removes what a dead one left in its work
//! directory ([`reclaim`]): sealed files nothing can open any more.
//!
//! Executors also never spill: their runtime has no disk manager, as the
//! embedded warehouse's has none, so an operator that would spill fails
//! with the memory limit instead.

mod flight;
mod reclaim;
pub mod sealed_file;
mod stage;

pub(crate) use flight::serve;
pub(crate) use reclaim::reclaim;
pub(crate) use sealed_file::ShuffleSecret;
pub(crate) use stage::SealedShuffleEngine;

use ballista_core::JobId;
use ballista_core::execution_plans::create_shuffle_path;
use datafusion::error::{DataFusionError, Result};

/// A shuffle file's name as its seal binds it: its path under the work
/// directory, as Ballista lays files out.
fn file_name(
    job_id: &JobId,
    stage_id: usize,
    partition: usize,
    file_id: Option<u64>,
) -> Result<String> {
    let path = create_shuffle_path("", job_id, stage_id, partition, file_id, false)?;
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| DataFusionError::Internal("a shuffle path is not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_flight::decode::FlightRecordBatchStream;
    use arrow_flight::error::FlightError;
    use arrow_flight::flight_service_server::FlightService;
    use arrow_flight::{Action, Ticket};
    use ballista_core::execution_plans::ShuffleWriterExec;
    use ballista_core::serde::protobuf;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::TaskContext;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::Partitioning;
    use datafusion::prelude::SessionConfig;
    use futures::{StreamExt, TryStreamExt};
    use tonic::Request;

    use super::flight::SealedFlightService;
    use super::*;
    use ballista_executor::execution_engine::ExecutionEngine;

    const MARKER: &str = "shuffle-marker-plaintext";

    fn batch(from: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, false),
        ]));
        let ids: Vec<i64> = (from..from + 500).collect();
        let values: Vec<String> = ids.iter().map(|i| format!("{MARKER}-{i}")).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(values)),
            ],
        )
        .unwrap()
    }

    fn ticket(job: &str, stage: u32, partition: u32, file_id: Option<u64>) -> Vec<u8> {
        let action = protobuf::Action {
            action_type: Some(protobuf::action::ActionType::FetchPartition(
                protobuf::FetchPartition {
                    job_id: job.into(),
                    stage_id: stage,
                    partition_id: partition,
                    host: "127.0.0.1".into(),
                    port: 1,
                    file_id,
                    is_sort_shuffle: false,
                },
            )),
            settings: vec![],
        };
        prost::Message::encode_to_vec(&action)
    }

    fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    /// A stage writes sealed files that hold none of its rows' bytes; the
    /// Flight service gives back exactly the rows, both ways Ballista
    /// fetches; a file changed on disk is an error, not rows.
    #[tokio::test]
    async fn stage_output_is_sealed_and_served_opened() {
        let dir = tempfile::tempdir().unwrap();
        let work_dir = dir.path().to_str().unwrap().to_owned();
        let secret = Arc::new(ShuffleSecret::generate().unwrap());
        let input = MemorySourceConfig::try_new_exec(
            &[vec![batch(0), batch(500)]],
            batch(0).schema(),
            None,
        )
        .unwrap();
        let hash = Partitioning::Hash(vec![col("id", &batch(0).schema()).unwrap()], 3);
        let writer =
            ShuffleWriterExec::try_new("job1".into(), 2, input, work_dir.clone(), Some(hash))
                .unwrap();
        let engine = SealedShuffleEngine::new(Arc::clone(&secret));
        let stage = engine
            .create_query_stage_exec(
                "job1".into(),
                2,
                0,
                Arc::new(writer),
                &work_dir,
                &SessionConfig::new(),
            )
            .unwrap();
        let written = stage
            .execute_query_stage(0, Arc::new(TaskContext::default()))
            .await
            .unwrap();
        assert_eq!(written.len(), 3, "{written:?}");
        assert_eq!(written.iter().map(|p| p.num_rows).sum::<u64>(), 1000);

        let files = files_under(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert_eq!(&bytes[..8], sealed_file::MAGIC, "{file:?}");
            assert!(
                !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
                "{file:?} holds plaintext"
            );
        }

        let service = SealedFlightService::new(work_dir.clone(), Arc::clone(&secret));
        let mut ids = Vec::new();
        for part in &written {
            let t = ticket("job1", 2, part.partition_id as u32, part.file_id);
            // do_get: Flight data.
            let data = service
                .do_get(Request::new(Ticket {
                    ticket: t.clone().into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .map_err(FlightError::from);
            let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(data)
                .try_collect()
                .await
                .unwrap();
            assert_eq!(
                batches.iter().map(|b| b.num_rows() as u64).sum::<u64>(),
                part.num_rows
            );
            for b in &batches {
                let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                ids.extend(col.values().iter().copied());
            }
            // IO_BLOCK_TRANSPORT: the IPC stream's bytes.
            let blocks: Vec<arrow_flight::Result> = service
                .do_action(Request::new(Action {
                    r#type: "IO_BLOCK_TRANSPORT".into(),
                    body: t.into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .try_collect()
                .await
                .unwrap();
            let bytes: Vec<u8> = blocks.iter().flat_map(|b| b.body.to_vec()).collect();
            let reader =
                datafusion::arrow::ipc::reader::StreamReader::try_new(&bytes[..], None).unwrap();
            let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
            assert_eq!(rows as u64, part.num_rows);
        }
        ids.sort_unstable();
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());

        // A byte changed on disk: the fetch fails, naming the file.
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&files[0], bytes).unwrap();
        let part = written
            .iter()
            .find(|p| files[0].ends_with(format!("{}/data-0.arrow", p.partition_id)))
            .unwrap();
        let t = ticket("job1", 2, part.partition_id as u32, part.file_id);
        let fetched = match service
            .do_get(Request::new(Ticket { ticket: t.into() }))
            .await
        {
            Err(status) => Err(status.to_string()),
            Ok(response) => {
                let data = response.into_inner().map_err(FlightError::from);
                FlightRecordBatchStream::new_from_flight_data(data)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let error = fetched.unwrap_err();
        assert!(error.contains("cannot be read"), "{error}");

        // Another process (a restarted executor) cannot open them.
        let other =
            SealedFlightService::new(work_dir, Arc::new(ShuffleSecret::generate().unwrap()));
        let p = &written[1];
        let t = ticket("job1", 2, p.partition_id as u32, p.file_id);
        let refused = match other
            .do_get(Request::new(Ticket { ticket: t.into() }))
            .await
        {
            Ok(response) => response.into_inner().next().await.unwrap().is_err(),
            Err(status) => status.message().contains("fails authentication"),
        };
        assert!(refused, "a file of another process gave data");
    }
}
