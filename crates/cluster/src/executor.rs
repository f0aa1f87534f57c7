//! `sealhouse cluster executor`: Ballista's executor with Sealhouse's codec.
//! It asks the scheduler for tasks, and reads the table files of the scans
//! it is given with its own [`ScanReader`]. What its stages write is sealed
//! ([`crate::shuffle`]), and it never spills.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::utils::default_config_producer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use sealhouse_sql::KeysetUnsealer;
use sealhouse_storage::ScanReader;

use crate::codec::SealhouseCodec;
use crate::shuffle::{self, SealedShuffleEngine, ShuffleSecret};
use crate::{ClusterError, ClusterTls, SchedulerUrl};

/// What an executor needs.
#[derive(Debug)]
pub struct ExecutorOptions {
    /// Its scheduler.
    pub scheduler: SchedulerUrl,
    /// Where it serves its tasks' results to other executors and the
    /// coordinator (Arrow Flight).
    pub listen: SocketAddr,
    /// Where it keeps shuffle files while a job runs.
    pub work_dir: PathBuf,
    /// How it reads table files.
    pub reader: Arc<ScanReader>,
    /// How its functions open the keysets a coordinator sealed.
    pub unsealer: Arc<KeysetUnsealer>,
    /// Tasks it runs at once (0: one per core).
    pub concurrent_tasks: usize,
    /// The cluster's TLS (required when the scheduler is `https://`).
    pub tls: Option<Arc<ClusterTls>>,
}

/// Runs an executor until the process ends.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    let work_dir = options.work_dir.to_str().ok_or_else(|| {
        ClusterError::Setup(format!(
            "the work directory {} is not valid UTF-8; choose another",
            options.work_dir.display()
        ))
    })?;
    options.scheduler.check_tls(options.tls.is_some())?;
    // Files a dead executor left here are sealed under a secret that died
    // with it: nothing can read them, so they go.
    let reclaimed = shuffle::reclaim(&options.work_dir).map_err(|e| {
        ClusterError::Setup(format!(
            "clearing the work directory {}: {e}",
            options.work_dir.display()
        ))
    })?;
    if reclaimed > 0 {
        tracing::info!(
            target: "sealhouse::cluster",
            jobs = reclaimed,
            "removed shuffle files a previous executor left in the work directory"
        );
    }
    let secret =
        Arc::new(ShuffleSecret::generate().map_err(|e| ClusterError::Setup(e.to_string()))?);
    let defaults = ExecutorProcessConfig::default();
    let max_message = defaults.grpc_max_encoding_message_size as usize;
    let tls = options.tls.clone();
    // The settings every task starts from: sealed shuffles, and with TLS,
    // shuffle fetches over TLS with this executor's certificate.
    let task_config = {
        let tls = tls.clone();
        move || {
            let config = crate::coordinator::sealed_shuffle(default_config_producer());
            match &tls {
                Some(tls) => crate::coordinator::over_tls(config, tls),
                None => config,
            }
        }
    };
    let config = ExecutorProcessConfig {
        bind_host: options.listen.ip().to_string(),
        external_host: Some(options.listen.ip().to_string()),
        port: options.listen.port(),
        scheduler_host: options.scheduler.host().to_owned(),
        scheduler_port: options.scheduler.port(),
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        concurrent_tasks: options.concurrent_tasks,
        work_dir: Some(work_dir.to_owned()),
        print_thread_info: false,
        override_physical_codec: Some(Arc::new(SealhouseCodec::new(
            Some(options.reader),
            Some(options.unsealer),
        ))),
        override_execution_engine: Some(Arc::new(SealedShuffleEngine::new(Arc::clone(&secret)))),
        override_arrow_flight_service: Some(Arc::new(shuffle::serve(
            secret,
            max_message,
            tls.clone(),
        ))),
        override_config_producer: Some(Arc::new(task_config)),
        // The connection to the scheduler.
        override_create_grpc_client_endpoint: tls.as_ref().map(|t| t.endpoint_override()),
        // No disk manager: nothing a task computes is spilled to disk.
        override_runtime_producer: Some(Arc::new(|_| {
            RuntimeEnvBuilder::new()
                .with_disk_manager_builder(
                    DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
                )
                .build_arc()
        })),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ClusterError::ballista("running the executor"))
}
