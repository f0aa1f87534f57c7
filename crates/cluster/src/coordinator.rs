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
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use sealhouse_sql::RemoteExecution;

use crate::SchedulerUrl;
use crate::codec::SealhouseCodec;

/// A cluster a session's queries run on.
#[derive(Debug)]
pub struct Cluster {
    scheduler: SchedulerUrl,
    codec: SealhouseCodec,
    /// The scheduler's session for this coordinator's jobs.
    session_id: String,
}

impl Cluster {
    /// The cluster whose scheduler listens at `scheduler`.
    pub fn new(scheduler: SchedulerUrl) -> Arc<Self> {
        Arc::new(Self {
            scheduler,
            codec: SealhouseCodec::new(None),
            session_id: uuid::Uuid::new_v4().to_string(),
        })
    }
}

#[async_trait]
impl RemoteExecution for Cluster {
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream> {
        let config = sealed_shuffle(config);
        execute_physical_plan::<PhysicalPlanNode>(
            self.scheduler.http(),
            &BallistaConfig::default(),
            plan,
            &self.codec,
            self.session_id.clone(),
            config,
        )
        .await
        .map_err(|e| self.explain(e))
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

impl Cluster {
    /// Ballista reports an unreachable scheduler as a transport error's
    /// Debug text; say what it means and what to do.
    fn explain(&self, e: DataFusionError) -> DataFusionError {
        let text = e.to_string();
        if text.contains("ConnectError") || text.contains("tcp connect error") {
            DataFusionError::Execution(format!(
                "cannot reach the cluster's scheduler at {}: start it with `sealhouse cluster \
                 scheduler --listen {}`, or run the statement without --cluster",
                self.scheduler, self.scheduler
            ))
        } else {
            e
        }
    }
}
