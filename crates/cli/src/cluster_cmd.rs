//! `sealhouse cluster`: the processes of a Ballista cluster that runs the
//! warehouse's queries (`sealhouse sql --cluster URL` submits them).
//!
//! Cluster traffic (task plans, shuffle data) goes over TLS when every
//! process is given the cluster's TLS files (`--cluster-ca`,
//! `--cluster-cert`, `--cluster-key`; `sealhouse cluster certs` makes a CA
//! for trials): both ends then present certificates of the cluster CA.
//! Without them, traffic is plaintext and every process listens on
//! loopback only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_cluster::{
    ExecutorOptions, SchedulerOptions, SchedulerUrl, run_executor, run_scheduler,
};

use crate::cluster_tls::ClusterTlsArgs;
use sealhouse_sql::KeysetUnsealer;
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
        /// Where coordinators and executors reach it (loopback only,
        /// unless the cluster uses TLS).
        #[arg(long, default_value = "127.0.0.1:50050")]
        listen: SocketAddr,
        /// Seconds an executor may go without asking for work before it is
        /// taken for lost and its tasks run again on others. A busy
        /// executor asks only when a task slot frees: keep this above the
        /// longest task.
        #[arg(long, value_name = "SECONDS", default_value_t = 180)]
        executor_timeout: u64,
        #[command(flatten)]
        tls: ClusterTlsArgs,
    },
    /// Run an executor: it runs tasks the scheduler hands out, reading the
    /// table files of the data directory.
    Executor {
        /// The scheduler, as http://HOST:PORT (https://HOST:PORT with TLS).
        #[arg(long, value_name = "URL")]
        scheduler: SchedulerUrl,
        /// Where it serves its tasks' results (loopback only, unless the
        /// cluster uses TLS).
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
        #[command(flatten)]
        tls: ClusterTlsArgs,
    },
    /// Make a cluster CA and a certificate and key for each named process,
    /// valid for the given hosts, for trials and tests: ca.pem, NAME.pem
    /// and NAME.key in DIR (readable by this user only). The CA's key is
    /// not kept: to add a process, make a new set for the whole cluster.
    Certs {
        /// Where to write them (made if missing; nothing is overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A process to make a certificate for (repeat it; e.g. scheduler,
        /// executor1, coordinator).
        #[arg(long = "name", value_name = "NAME", required = true)]
        names: Vec<String>,
        /// An address or DNS name the processes listen on (repeat it).
        #[arg(long = "host", value_name = "HOST", default_values = ["127.0.0.1", "localhost"])]
        hosts: Vec<String>,
    },
}

pub(crate) fn run(args: ClusterArgs) -> Result<()> {
    // Ballista's own log (the `log` crate) joins Sealhouse's JSON lines.
    crate::logging::init();
    match args.command {
        ClusterCommand::Scheduler {
            listen,
            executor_timeout,
            tls,
        } => {
            let tls = tls.load()?;
            loopback_only(listen, tls.is_some())?;
            let runtime = crate::runtime::build("scheduler")?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            eprintln!("sealhouse cluster scheduler listening on {scheme}://{listen}");
            runtime.block_on(run_scheduler(SchedulerOptions {
                listen,
                tls,
                executor_timeout: std::time::Duration::from_secs(executor_timeout),
            }))?;
            Ok(())
        }
        ClusterCommand::Certs { out, names, hosts } => {
            let made = sealhouse_cluster::generate_certs(&out, &names, &hosts)?;
            println!("CA certificate: {}", made.ca.display());
            for (name, cert, key) in made.nodes {
                println!("{name}: {} {}", cert.display(), key.display());
            }
            Ok(())
        }
        ClusterCommand::Executor {
            scheduler,
            listen,
            work_dir,
            data_dir,
            concurrent_tasks,
            tls,
        } => {
            let tls = tls.load()?;
            loopback_only(listen, tls.is_some())?;
            create_private_dir(&work_dir)?;
            let dir = data_dir::resolve(data_dir)?;
            let local = Local::open(&dir)?;
            let catalog = local.catalog()?;
            let services = local.identity_services()?;
            let keys = StorageKeys::new(Arc::clone(services.gateway()), catalog.file_store());
            let reader = Arc::new(ScanReader::new(catalog, ReaderKeys::Any(Arc::new(keys))));
            let unsealer =
                Arc::new(KeysetUnsealer::new(services.gateway()).map_err(anyhow::Error::msg)?);
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
                    unsealer,
                    concurrent_tasks,
                    tls,
                }))
                .context("the executor stopped")?;
            Ok(())
        }
    }
}

/// Without TLS, cluster traffic is plaintext and unauthenticated: nothing
/// listens beyond loopback.
fn loopback_only(listen: SocketAddr, tls: bool) -> Result<()> {
    if !tls && !listen.ip().is_loopback() {
        bail!(
            "{listen} is not a loopback address: without TLS, cluster traffic is plaintext, so \
             cluster processes listen on 127.0.0.1 or ::1 only; give every process \
             --cluster-ca, --cluster-cert and --cluster-key to listen elsewhere"
        );
    }
    Ok(())
}
