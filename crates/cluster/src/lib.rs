//! Sealhouse on an Apache DataFusion Ballista cluster (DESIGN.md,
//! "Scale-out").
//!
//! A coordinator (`sealhouse sql --cluster URL`) plans, authorises and
//! reaches keys as the embedded warehouse does, then submits the physical
//! plan to Ballista's scheduler ([`Cluster`]). Table scans travel as the
//! storage crate's scan descriptors inside [`SnapshotScanExec`] nodes,
//! encoded by [`SealhouseCodec`], which delegates everything else to
//! Ballista's codec; executors ([`run_executor`]) plan each scan's files
//! when they run it, with their own reader.
//!
//! [`SnapshotScanExec`]: sealhouse_storage::SnapshotScanExec

mod certs;
mod codec;
mod coordinator;
mod executor;
mod scheduler;
mod scheduler_url;
pub mod shuffle;
mod tls;

pub use certs::{GeneratedCerts, generate as generate_certs};
pub use codec::SealhouseCodec;
pub use coordinator::Cluster;
pub use executor::{ExecutorOptions, run_executor};
pub use scheduler::{SchedulerOptions, run_scheduler};
pub use scheduler_url::SchedulerUrl;
pub use tls::ClusterTls;

/// What can go wrong running a cluster process.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A setting is unusable.
    #[error("{0}")]
    Setup(String),
    /// Ballista failed at `doing`.
    #[error("{doing}: {message}")]
    Ballista {
        /// What the process was doing.
        doing: &'static str,
        /// Ballista's error.
        message: String,
    },
}

impl ClusterError {
    fn ballista(doing: &'static str) -> impl FnOnce(ballista_core::error::BallistaError) -> Self {
        move |e| Self::Ballista {
            doing,
            message: e.to_string(),
        }
    }
}
