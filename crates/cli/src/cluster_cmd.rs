//! `sealhouse cluster`: the processes of a Ballista cluster that runs the
//! warehouse's queries (`sealhouse sql --cluster URL` submits them).
//!
//! Cluster traffic (task plans, shuffle data) is not yet encrypted, so every
//! process listens on loopback only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_cluster::{ExecutorOptions, SchedulerUrl, run_executor, run_scheduler};
use sealhouse_storage::encryption::StorageKeys;
use sealhouse_storage::{ReaderKeys, ScanReader};

use crate::data_dir;
use crate::local::{Local, create_private_dir};

#[derive(Args)]
pub(crate) struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Run a scheduler: it splits submitted queries into stages and hands
    /// their tasks to executors. It reads no table file and holds no key.
    Scheduler {
        /// Where coordinators and executors reach it (loopback only).
        #[arg(long, default_value = "127.0.0.1:50050")]
        listen: SocketAddr,
    },
    /// Run an executor: it runs tasks the scheduler hands out, reading the
    /// table files of the data directory.
    Executor {
        /// The scheduler, as http://HOST:PORT.
        #[arg(long, value_name = "URL")]
        scheduler: SchedulerUrl,
        /// Where it serves its tasks' results (loopback only).
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Where it keeps shuffle files while a job runs (made if missing,
        /// readable by this user only).
        #[arg(long, value_name = "DIR")]
        work_dir: PathBuf,
        /// The data directory whose tables it reads (default:
        /// $SEALHOUSE_DATA_DIR, else ~/.local/share/sealhouse).
        #[arg(long, value_name = "PATH")]
        data_dir: Option<PathBuf>,
        /// Tasks it runs at once (default: one per core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
    },
}

pub(crate) fn run(args: ClusterArgs) -> Result<()> {
    // Ballista's own log (the `log` crate) joins Sealhouse's JSON lines.
    crate::logging::init();
    match args.command {
        ClusterCommand::Scheduler { listen } => {
            loopback_only(listen)?;
            let runtime = crate::runtime::build("scheduler")?;
            eprintln!("sealhouse cluster scheduler listening on {listen}");
            runtime.block_on(run_scheduler(listen))?;
            Ok(())
        }
        ClusterCommand::Executor {
            scheduler,
            listen,
            work_dir,
            data_dir,
            concurrent_tasks,
        } => {
            loopback_only(listen)?;
            create_private_dir(&work_dir)?;
            let dir = data_dir::resolve(data_dir)?;
            let local = Local::open(&dir)?;
            let catalog = local.catalog()?;
            let services = local.identity_services()?;
            let keys = StorageKeys::new(Arc::clone(services.gateway()), catalog.file_store());
            let reader = Arc::new(ScanReader::new(catalog, ReaderKeys::Any(Arc::new(keys))));
            let runtime = crate::runtime::build("executor")?;
            eprintln!(
                "sealhouse cluster executor on {listen}, scheduler {scheduler}, work dir {}",
                work_dir.display()
            );
            runtime
                .block_on(run_executor(ExecutorOptions {
                    scheduler,
                    listen,
                    work_dir,
                    reader,
                    concurrent_tasks,
                }))
                .context("the executor stopped")?;
            Ok(())
        }
    }
}

/// Cluster traffic is not encrypted yet: nothing listens beyond loopback.
fn loopback_only(listen: SocketAddr) -> Result<()> {
    if !listen.ip().is_loopback() {
        bail!(
            "{listen} is not a loopback address: cluster traffic is not encrypted yet, so \
             cluster processes listen on 127.0.0.1 or ::1 only"
        );
    }
    Ok(())
}
