//! The executor's engine for query stages: what Ballista's default engine
//! does, except that a stage's output is written as sealed shuffle files
//! ([`super::sealed_file`]) instead of plaintext Arrow IPC.

use std::fmt;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::JobId;
use ballista_core::execution_plans::{
    ShuffleReaderExec, ShuffleWriterExec, SortShuffleWriterExec, create_shuffle_path,
};
use ballista_core::serde::protobuf::ShuffleWritePartition;
use ballista_core::utils::collect_plan_metrics;
use ballista_executor::execution_engine::{ExecutionEngine, QueryStageExecutor};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::{MetricsSet, Time};
use datafusion::physical_plan::repartition::BatchPartitioner;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use datafusion::prelude::SessionConfig;
use futures::StreamExt;
use sealhouse_crypto::primitive::AesGcm256;

use super::sealed_file::{SealingWriter, ShuffleSecret};

/// Builds each task's stage with sealed output.
#[derive(Debug)]
pub(crate) struct SealedShuffleEngine {
    secret: Arc<ShuffleSecret>,
}

impl SealedShuffleEngine {
    pub(crate) fn new(secret: Arc<ShuffleSecret>) -> Self {
        Self { secret }
    }
}

impl ExecutionEngine for SealedShuffleEngine {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        _partition_id: usize,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        _config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        // Shuffle readers learn where this executor keeps its files.
        // (Ballista's engine also pins file scans to the task's file group;
        // a Sealhouse scan, `SnapshotScanExec`, plans only the partition a
        // task runs, so it needs no pinning.)
        let plan = plan
            .transform(|node| {
                Ok(match node.downcast_ref::<ShuffleReaderExec>() {
                    Some(reader) => {
                        Transformed::yes(Arc::new(reader.with_work_dir(work_dir.to_owned()))
                            as Arc<dyn ExecutionPlan>)
                    }
                    None => Transformed::no(node),
                })
            })?
            .data;
        if plan.downcast_ref::<SortShuffleWriterExec>().is_some() {
            return Err(DataFusionError::NotImplemented(
                "sort-based shuffle is not available on a Sealhouse cluster (its files could \
                 not be sealed); leave ballista.shuffle.sort_based.enabled off"
                    .to_owned(),
            ));
        }
        let writer = plan.downcast_ref::<ShuffleWriterExec>().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "a query stage must start with a shuffle writer, not {}",
                plan.name()
            ))
        })?;
        Ok(Arc::new(SealedStage {
            job_id,
            stage_id,
            input: Arc::clone(writer.children()[0]),
            partitioning: writer.shuffle_output_partitioning().cloned(),
            work_dir: work_dir.to_owned(),
            secret: Arc::clone(&self.secret),
        }))
    }
}

/// One task's stage: runs the input partition and writes what it gives,
/// split by the stage's output partitioning, into sealed files.
#[derive(Debug)]
struct SealedStage {
    job_id: JobId,
    stage_id: usize,
    input: Arc<dyn ExecutionPlan>,
    partitioning: Option<Partitioning>,
    work_dir: String,
    secret: Arc<ShuffleSecret>,
}

impl fmt::Display for SealedStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedShuffleWriter: job {} stage {}, partitioning {}",
            self.job_id,
            self.stage_id,
            self.partitioning
                .as_ref()
                .map_or_else(|| "none".to_owned(), ToString::to_string)
        )
    }
}

/// Batches in flight between the input stream and the writing thread.
const CHANNEL_CAPACITY: usize = 2;

#[async_trait]
impl QueryStageExecutor for SealedStage {
    async fn execute_query_stage(
        &self,
        input_partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let mut stream = self.input.execute(input_partition, context)?;
        let mut files = StageFiles {
            work_dir: self.work_dir.clone(),
            job_id: self.job_id.clone(),
            stage_id: self.stage_id,
            cipher: self.secret.job_cipher(self.job_id.as_str()),
            schema: stream.schema(),
            open: Vec::new(),
        };
        let mut partitioner = match &self.partitioning {
            None => None,
            Some(Partitioning::Hash(exprs, n)) => Some(BatchPartitioner::new_hash_partitioner(
                exprs.clone(),
                *n,
                Time::new(),
            )?),
            Some(other) => {
                return Err(DataFusionError::Internal(format!(
                    "shuffle partitioning {other} is not one a stage writes"
                )));
            }
        };
        // Encoding, compressing, sealing and writing block: on their own
        // thread, fed batch by batch.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(CHANNEL_CAPACITY);
        let writing = tokio::task::spawn_blocking(move || {
            while let Some(batch) = rx.blocking_recv() {
                match &mut partitioner {
                    None => files.write(input_partition, None, &batch)?,
                    Some(p) => p.partition(batch, |output, part| {
                        files.write(output, Some(input_partition as u64), &part)
                    })?,
                }
            }
            if partitioner.is_none() {
                // Unpartitioned output has its one file even when empty, as
                // Ballista's writer makes it: readers expect it.
                files.ensure(input_partition, None)?;
            }
            files.finish()
        });
        let mut failed = None;
        while let Some(batch) = stream.next().await {
            match batch {
                Ok(batch) => {
                    if tx.send(batch).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writing.await.map_err(|e| {
            DataFusionError::Execution(format!("the shuffle writing task failed: {e}"))
        })?;
        match failed {
            Some(e) => Err(e),
            None => written,
        }
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        collect_plan_metrics(self.input.as_ref())
    }
}

/// The files one task is writing, one per output partition it has rows
/// for.
struct StageFiles {
    work_dir: String,
    job_id: JobId,
    stage_id: usize,
    cipher: Arc<AesGcm256>,
    schema: SchemaRef,
    open: Vec<Option<OpenFile>>,
}

struct OpenFile {
    writer: StreamWriter<SealingWriter<BufWriter<File>>>,
    path: PathBuf,
    partition: usize,
    file_id: Option<u64>,
    batches: u64,
    rows: u64,
}

impl StageFiles {
    fn write(&mut self, partition: usize, file_id: Option<u64>, batch: &RecordBatch) -> Result<()> {
        let file = self.ensure(partition, file_id)?;
        file.writer.write(batch)?;
        file.batches += 1;
        file.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// The open file of `partition`, created if need be.
    fn ensure(&mut self, partition: usize, file_id: Option<u64>) -> Result<&mut OpenFile> {
        if self.open.len() <= partition {
            self.open.resize_with(partition + 1, || None);
        }
        if self.open[partition].is_none() {
            let created = self.create(partition, file_id)?;
            self.open[partition] = Some(created);
        }
        self.open[partition]
            .as_mut()
            .ok_or_else(|| DataFusionError::Internal("a shuffle file was just opened".into()))
    }

    fn create(&self, partition: usize, file_id: Option<u64>) -> Result<OpenFile> {
        let path = create_shuffle_path(
            &self.work_dir,
            &self.job_id,
            self.stage_id,
            partition,
            file_id,
            false,
        )?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let name = super::file_name(&self.job_id, self.stage_id, partition, file_id)?;
        let sealing = SealingWriter::new(
            BufWriter::new(File::create(&path)?),
            Arc::clone(&self.cipher),
            name,
        )?;
        let options =
            IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME))?;
        let writer = StreamWriter::try_new_with_options(sealing, &self.schema, options)?;
        Ok(OpenFile {
            writer,
            path,
            partition,
            file_id,
            batches: 0,
            rows: 0,
        })
    }

    /// Ends every file; what the scheduler learns of them.
    fn finish(self) -> Result<Vec<ShuffleWritePartition>> {
        let mut written = Vec::new();
        for file in self.open.into_iter().flatten() {
            let OpenFile {
                mut writer,
                path,
                partition,
                file_id,
                batches,
                rows,
            } = file;
            writer.finish()?;
            writer.into_inner()?.finish()?;
            written.push(ShuffleWritePartition {
                partition_id: partition as u64,
                num_batches: batches,
                num_rows: rows,
                num_bytes: file_len(&path)?,
                file_id,
                is_sort_shuffle: false,
            });
        }
        Ok(written)
    }
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)?.len())
}
