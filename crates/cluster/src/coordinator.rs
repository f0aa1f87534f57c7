//! The coordinator's side: a session's query plans run on the cluster.
//! The session plans, authorises and (for encrypted projects) reaches its
//! keys as in the embedded warehouse; what goes to the scheduler is the
//! physical plan, its scans as descriptors.

use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::config::{BALLISTA_SHUFFLE_SORT_BASED_ENABLED, BallistaConfig};
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;
use sealhouse_sql::RemoteExecution;

use crate::codec::SealhouseCodec;
use crate::{ClusterError, ClusterTls, SchedulerUrl};

/// A cluster a session's queries run on.
#[derive(Debug)]
pub struct Cluster {
    scheduler: SchedulerUrl,
    tls: Option<Arc<ClusterTls>>,
    codec: SealhouseCodec,
    /// The scheduler's session for this coordinator's jobs.
    session_id: String,
}

impl Cluster {
    /// The cluster whose scheduler listens at `scheduler`, reached over
    /// TLS with `tls` (which an `https://` scheduler needs).
    pub fn new(
        scheduler: SchedulerUrl,
        tls: Option<Arc<ClusterTls>>,
    ) -> Result<Arc<Self>, ClusterError> {
        scheduler.check_tls(tls.is_some())?;
        Ok(Arc::new(Self {
            scheduler,
            tls,
            codec: SealhouseCodec::new(None, None),
            session_id: uuid::Uuid::new_v4().to_string(),
        }))
    }
}

#[async_trait]
impl RemoteExecution for Cluster {
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream> {
        let mut config = sealed_shuffle(config);
        if let Some(tls) = &self.tls {
            config = over_tls(config, tls);
        }
        let stream = execute_physical_plan::<PhysicalPlanNode>(
            self.scheduler.url(),
            &BallistaConfig::default(),
            plan,
            &self.codec,
            self.session_id.clone(),
            config,
        )
        .await
        .map_err(|e| explain(&self.scheduler, e))?;
        // Ballista submits lazily: a refused connection or a failed task
        // may first show while the rows are read.
        let scheduler = self.scheduler.clone();
        let schema = stream.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.map_err(move |e| explain(&scheduler, e)),
        )))
    }
}

/// The job settings sealed shuffle files need: executors alone can open
/// their files, so every task fetches through the writer's Flight service;
/// and stages write with the hash shuffle writer, the one whose output the
/// executors seal (Ballista's sort-based writer is refused).
pub(crate) fn sealed_shuffle(config: SessionConfig) -> SessionConfig {
    config
        .with_ballista_shuffle_reader_force_remote_read(true)
        .set_bool(BALLISTA_SHUFFLE_SORT_BASED_ENABLED, false)
}

/// Job settings for a cluster with TLS: Ballista's clients (to the
/// scheduler, and Flight fetches from executors) connect over TLS with
/// this process's certificate.
pub(crate) fn over_tls(config: SessionConfig, tls: &Arc<ClusterTls>) -> SessionConfig {
    config
        .with_ballista_use_tls(true)
        .with_ballista_override_create_grpc_client_endpoint(tls.endpoint_override())
}

/// Ballista reports connection failures as a transport error's Debug text,
/// and a failed task as the Debug text of the executor's error; say what
/// went wrong and what to do.
fn explain(at: &SchedulerUrl, e: DataFusionError) -> DataFusionError {
    let text = e.to_string();
    let both = "give every process of the cluster certificates of one cluster CA \
                    (--cluster-ca, --cluster-cert, --cluster-key)";
    let message = if text.contains("InvalidCertificate") {
        format!(
            "the cluster's scheduler at {at} presented a certificate the CA of \
                 --cluster-ca did not issue: {both}"
        )
    } else if text.contains("received fatal alert") {
        format!("the cluster's scheduler at {at} refused this process's certificate: {both}")
    } else if text.contains("ConnectError") || text.contains("tcp connect error") {
        format!(
            "cannot reach the cluster's scheduler at {at}: start it with `sealhouse cluster \
                 scheduler --listen {at}`, or run the statement without --cluster"
        )
    } else if let Some(reason) = task_failure(&text) {
        format!("a task of the query failed on the cluster: {reason}")
    } else if at.tls() && text.contains("tonic::transport::Error") {
        // A server that refuses a client certificate sends an alert and
        // closes; the client often reads only the closed connection.
        format!(
            "the cluster's scheduler at {at} closed the TLS connection (it refused this \
             process's certificate, or it stopped): {both}"
        )
    } else if !at.tls() && text.contains("tonic::transport::Error") {
        format!(
            "the cluster's scheduler at {at} closed the plaintext connection: if it runs \
                 with TLS, give it as https://{at} with --cluster-ca, --cluster-cert and \
                 --cluster-key"
        )
    } else {
        return e;
    };
    DataFusionError::Execution(message)
}

/// The reason inside Ballista's report of a failed task, which carries the
/// executor's error as its Debug text (`Task failed due to runtime
/// execution error: DataFusionError(...(Kms { code: .., message: "..." }))`,
/// or `DataFusionError(Execution("..."))`): Sealhouse's own message,
/// unquoted.
fn task_failure(text: &str) -> Option<String> {
    let (_, debug) = text.split_once("Task failed due to runtime execution error: ")?;
    let quoted = ["message: \"", "Execution(\""]
        .iter()
        .filter_map(|marker| debug.find(marker).map(|at| &debug[at + marker.len()..]))
        .max_by_key(|rest| rest.len())?;
    let mut reason = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(reason),
            '\\' => match chars.next()? {
                'n' => reason.push('\n'),
                't' => reason.push('\t'),
                other => reason.push(other),
            },
            c => reason.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_task_reads_as_its_reason() {
        let text = "Execution error: Job a failed: Job failed due to stage 1 failed: Task \
                    failed due to runtime execution error: DataFusionError(ParquetError(External(\
                    Kms { code: Disabled, message: \"key k is Disabled, so \\\"it\\\" cannot\" })))";
        assert_eq!(
            task_failure(text).as_deref(),
            Some("key k is Disabled, so \"it\" cannot")
        );
        let text = "Job a failed: Task failed due to runtime execution error: \
                    DataFusionError(Execution(\"cannot read 'p': \\\"why\\\"\"))";
        assert_eq!(
            task_failure(text).as_deref(),
            Some("cannot read 'p': \"why\"")
        );
        assert_eq!(
            task_failure("Task failed due to runtime execution error: Io"),
            None
        );
        assert_eq!(task_failure("message: \"x\""), None);
        // Cut short: no reason rather than half of one.
        assert_eq!(
            task_failure("Task failed due to runtime execution error: X { message: \"abc"),
            None
        );
    }
}
