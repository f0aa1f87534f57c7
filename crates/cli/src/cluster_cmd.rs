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
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sealhouse_cluster::{
    ExecutorOptions, SchedulerOptions, SchedulerUrl, run_executor, run_scheduler,
};

use crate::cluster_identity::ExecutorIdentity;
use crate::cluster_tls::ClusterTlsArgs;
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::signing::Credentials;
use sealhouse_kms::{CachingKms, KmsData};
use sealhouse_kms_http::{KmsClient, RoleSessionKms};
use sealhouse_sql::KeysetUnsealer;
use sealhouse_storage::encryption::{OtherAccounts, StorageKeys};
use sealhouse_storage::{FileStore, PlanOpener, ReaderKeys, S3Settings, ScanReader};

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
    /// table files their scans name. With --identity and --kms it is a
    /// principal of its own and holds no key of the warehouse; without,
    /// it opens the data directory (and its root key) as the warehouse does.
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
        /// $SEALHOUSE_DATA_DIR, else ~/.local/share/sealhouse), when it has
        /// no --identity.
        #[arg(long, value_name = "PATH", conflicts_with = "identity")]
        data_dir: Option<PathBuf>,
        /// Its own identity (`sealhouse cluster identity create`): it reads
        /// as that principal, through the KMS HTTP API at --kms.
        #[arg(long, value_name = "FILE", requires = "kms")]
        identity: Option<PathBuf>,
        /// The KMS HTTP API (`sealhouse kms serve`) it calls as its
        /// identity: http://HOST:PORT, or https://HOST:PORT with --kms-ca.
        #[arg(long, value_name = "URL", requires = "identity")]
        kms: Option<String>,
        /// The certificate (PEM) an https KMS's certificate must chain to.
        #[arg(long, value_name = "PEM", requires = "kms")]
        kms_ca: Option<PathBuf>,
        /// Tasks it runs at once (default: one per core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
        #[command(flatten)]
        tls: ClusterTlsArgs,
    },
    /// Executor identities: principals of the warehouse service account
    /// allowed to Decrypt with its keys and nothing else.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
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

#[derive(Subcommand)]
enum IdentityCommand {
    /// Make executor NAME's principal (a user of the service account, with
    /// the SealhouseClusterExecutor policy) and a new access key for it,
    /// and write them with the warehouse's capability key and table
    /// location to FILE (readable by this user only; never overwritten).
    Create {
        /// The executor's name (letters, digits, '-', '_').
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Where to write the identity.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The data directory (default: $SEALHOUSE_DATA_DIR, else
        /// ~/.local/share/sealhouse).
        #[arg(long, value_name = "PATH")]
        data_dir: Option<PathBuf>,
    },
    /// Take Decrypt away from executor NAME: its reads of encrypted
    /// projects fail once its key cache expires.
    Revoke {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, value_name = "PATH")]
        data_dir: Option<PathBuf>,
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
        ClusterCommand::Identity { command } => identity_command(command),
        ClusterCommand::Executor {
            scheduler,
            listen,
            work_dir,
            data_dir,
            identity,
            kms,
            kms_ca,
            concurrent_tasks,
            tls,
        } => {
            let tls = tls.load()?;
            loopback_only(listen, tls.is_some())?;
            create_private_dir(&work_dir)?;
            let (reader, unsealer) = match (identity, kms) {
                (Some(identity), Some(kms)) => own_principal(&identity, &kms, kms_ca.as_deref())?,
                _ => {
                    let dir = data_dir::resolve(data_dir)?;
                    let local = Local::open(&dir)?;
                    let catalog = local.catalog()?;
                    let services = local.identity_services()?;
                    let keys =
                        StorageKeys::new(Arc::clone(services.gateway()), catalog.file_store());
                    let reader =
                        Arc::new(ScanReader::new(catalog, ReaderKeys::Any(Arc::new(keys))));
                    let unsealer = Arc::new(
                        KeysetUnsealer::new(services.gateway()).map_err(anyhow::Error::msg)?,
                    );
                    (reader, unsealer)
                }
            };
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

/// An executor reading as its own principal: the identity's access key
/// signs its calls to the KMS at `kms` (answers cached for the KMS cache
/// TTL); the identity names the table files and the capability key.
fn own_principal(
    identity: &Path,
    kms: &str,
    kms_ca: Option<&Path>,
) -> Result<(Arc<ScanReader>, Arc<KeysetUnsealer>)> {
    let identity = ExecutorIdentity::load(identity)?;
    let credentials = {
        let key_id = identity.access_key_id.clone();
        let secret = SecretBytes::from_slice(identity.access_key_secret.as_bytes());
        move || Credentials::new(key_id.clone(), secret.duplicate())
    };
    let mut client = KmsClient::new(kms, credentials())?;
    if let Some(ca) = kms_ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        client = client.with_root_certificates(&pem)?;
    }
    let ttl = crate::cache_ttl::cache_ttl()?;
    let via = client.with_credentials(credentials());
    let kms: Arc<dyn KmsData> = Arc::new(CachingKms::new(client, ttl));
    let files = FileStore::open(&identity.tables, &S3Settings::from_env())
        .with_context(|| format!("opening the table files at {}", identity.tables))?;
    let account = identity.account()?;
    // Another account's (BYOK) keys: as a session of its executor role.
    let session = identity.session_name();
    let others: OtherAccounts = Arc::new(move |account| {
        let role = format!(
            "acs:ram::{account}:role/{}",
            crate::cluster_identity::BYOK_ROLE.to_lowercase()
        );
        let role_kms = RoleSessionKms::new(via.with_credentials(credentials()), &role, &session)
            .with_hint(
                "that account's administrator makes the role, trusting the warehouse service \
                 account (acs:ram::0000000000000000:root) and allowed kms:Decrypt with the key \
                 (docs/cluster.md, \"BYOK projects\"); or read the project without --cluster",
            );
        Arc::new(CachingKms::new(role_kms, ttl)) as Arc<dyn KmsData>
    });
    let keys = Arc::new(
        StorageKeys::as_principal(Arc::clone(&kms), account, &files)
            .reaching_other_accounts(others),
    );
    let unsealer = Arc::new(KeysetUnsealer::as_principal(kms));
    let reader = ScanReader::without_catalog(
        files,
        identity.capability_key()?,
        Arc::clone(&unsealer) as Arc<dyn PlanOpener>,
        ReaderKeys::Any(keys),
    );
    eprintln!(
        "sealhouse cluster executor acting as {}",
        identity.principal
    );
    Ok((Arc::new(reader), unsealer))
}

fn identity_command(command: IdentityCommand) -> Result<()> {
    match command {
        IdentityCommand::Create {
            name,
            out,
            data_dir,
        } => {
            let local = Local::open(&data_dir::resolve(data_dir)?)?;
            let catalog = local.catalog()?;
            let identity = crate::cluster_identity::create(
                &local.iam,
                &name,
                catalog.capability_key(),
                catalog.file_store().location().clone(),
                &out,
            )?;
            println!("{}", identity.principal);
            println!("written to {}", out.display());
            Ok(())
        }
        IdentityCommand::Revoke { name, data_dir } => {
            let local = Local::open(&data_dir::resolve(data_dir)?)?;
            crate::cluster_identity::revoke(&local.iam, &name)?;
            println!("executor {name} may no longer Decrypt");
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
