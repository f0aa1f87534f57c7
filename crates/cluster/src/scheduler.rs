//! `sealhouse cluster scheduler`: Ballista's scheduler with Sealhouse's
//! codec. It plans stages and hands out tasks; it never reads a table file
//! (its codec has no reader) and holds no key.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::ClusterError;
use crate::codec::SealhouseCodec;

/// How soon a finished job's shuffle files are removed from the executors'
/// work directories.
const FINISHED_JOB_DATA_CLEANUP_SECONDS: u64 = 2;

/// Runs a scheduler listening on `listen` until the process ends.
pub async fn run_scheduler(listen: SocketAddr) -> Result<(), ClusterError> {
    let config = SchedulerConfig {
        bind_host: listen.ip().to_string(),
        bind_port: listen.port(),
        external_host: listen.ip().to_string(),
        // Executors ask for work: nothing but the scheduler listens for
        // task plans.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        finished_job_data_clean_up_interval_seconds: FINISHED_JOB_DATA_CLEANUP_SECONDS,
        override_physical_codec: Some(Arc::new(SealhouseCodec::new(None))),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ClusterError::ballista("setting up the scheduler's state"))?;
    start_server(cluster, listen, Arc::new(config))
        .await
        .map_err(ClusterError::ballista("running the scheduler"))
}
