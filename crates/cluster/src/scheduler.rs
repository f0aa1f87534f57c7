//! `sealhouse cluster scheduler`: Ballista's scheduler with Sealhouse's
//! codec. It plans stages and hands out tasks; it never reads a table file
//! (its codec has no reader) and holds no key. It serves Ballista's
//! scheduler gRPC service alone (no REST API, no Flight proxy), with
//! mutually authenticated TLS when the cluster has a CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::create_scheduler;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tonic::transport::Server;

use crate::codec::SealhouseCodec;
use crate::{ClusterError, ClusterTls};

/// How soon a finished job's shuffle files are removed from the executors'
/// work directories.
const FINISHED_JOB_DATA_CLEANUP_SECONDS: u64 = 2;

/// What a scheduler needs.
#[derive(Debug)]
pub struct SchedulerOptions {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The cluster's TLS, if it has one.
    pub tls: Option<Arc<ClusterTls>>,
    /// How long an executor may go without asking for work before it is
    /// taken for lost: its tasks run again elsewhere (a busy executor asks
    /// only when a task slot frees, so this must exceed the longest task).
    pub executor_timeout: Duration,
}

/// Runs a scheduler until the process ends.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    let SchedulerOptions {
        listen,
        tls,
        executor_timeout,
    } = options;
    let timeout = executor_timeout.as_secs().max(1);
    let config = Arc::new(SchedulerConfig {
        bind_host: listen.ip().to_string(),
        bind_port: listen.port(),
        external_host: listen.ip().to_string(),
        // Executors ask for work: nothing but the scheduler listens for
        // task plans.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        finished_job_data_clean_up_interval_seconds: FINISHED_JOB_DATA_CLEANUP_SECONDS,
        override_physical_codec: Some(Arc::new(SealhouseCodec::new(None, None))),
        executor_timeout_seconds: timeout,
        expire_dead_executor_interval_seconds: (timeout / 3).clamp(1, 15),
        ..SchedulerConfig::default()
    });
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ClusterError::ballista("setting up the scheduler's state"))?;
    let max_decoding = config.grpc_server_max_decoding_message_size as usize;
    let max_encoding = config.grpc_server_max_encoding_message_size as usize;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(ClusterError::ballista("starting the scheduler"))?;
    let service = SchedulerGrpcServer::new(scheduler)
        .max_decoding_message_size(max_decoding)
        .max_encoding_message_size(max_encoding);
    let mut server = Server::builder();
    if let Some(tls) = &tls {
        server = server
            .tls_config(tls.server())
            .map_err(|e| ClusterError::Setup(format!("the scheduler's TLS: {e}")))?;
    }
    server
        .add_service(service)
        .serve(listen)
        .await
        .map_err(|e| ClusterError::Setup(format!("serving the scheduler on {listen}: {e}")))
}
