//! Queries that run on a cluster: the session plans and authorises them as
//! always, with table scans planned as the storage crate's
//! `SnapshotScanExec` (the scan descriptor, no keys), and hands the
//! physical plan to a [`RemoteExecution`] (the cluster crate's coordinator)
//! instead of running it here. Every other statement runs here as before.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionConfig};

use super::SqlSession;

/// Runs a session's query plans somewhere other than this process.
#[async_trait]
pub trait RemoteExecution: Send + Sync + std::fmt::Debug {
    /// Runs `plan` with the session's settings `config`, its rows as they
    /// come.
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream>;
}

/// Set in the configuration of a session whose queries run remotely: table
/// scans are planned as descriptors.
#[derive(Debug)]
pub(crate) struct DistributedScans;

impl SqlSession {
    /// The session with its queries run by `remote` (a cluster) from now on.
    #[must_use]
    pub fn with_remote_execution(mut self, remote: Arc<dyn RemoteExecution>) -> Self {
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .set_extension(Arc::new(DistributedScans));
        self.remote = Some(remote);
        self
    }

    /// The rows of a query's `frame`: computed here, or by the remote
    /// executor when the session has one.
    pub(super) async fn query_rows(&self, frame: DataFrame) -> Result<SendableRecordBatchStream> {
        match &self.remote {
            None => frame.execute_stream().await,
            Some(remote) => {
                let config = frame.task_ctx().session_config().clone();
                let plan = frame.create_physical_plan().await?;
                remote.execute(plan, config).await
            }
        }
    }
}
