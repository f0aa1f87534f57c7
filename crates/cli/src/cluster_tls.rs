//! `--cluster-ca`, `--cluster-cert` and `--cluster-key`: the TLS files of a
//! cluster process (scheduler, executor, or a coordinator: `sql` and
//! `serve` with `--cluster`). With them, cluster traffic goes over TLS and
//! both ends present certificates of the cluster CA.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use sealhouse_cluster::{Cluster, ClusterTls, SchedulerUrl};

#[derive(Args, Clone, Debug, Default)]
pub(crate) struct ClusterTlsArgs {
    /// The cluster CA's certificate (PEM; `sealhouse cluster certs` makes
    /// one for trials): cluster traffic goes over TLS, and only processes
    /// with a certificate of this CA take part.
    #[arg(
        long,
        env = "SEALHOUSE_CLUSTER_CA",
        value_name = "PEM",
        requires_all = ["cluster_cert", "cluster_key"]
    )]
    cluster_ca: Option<PathBuf>,
    /// This process's certificate of the cluster CA (PEM).
    #[arg(
        long,
        env = "SEALHOUSE_CLUSTER_CERT",
        value_name = "PEM",
        requires_all = ["cluster_ca", "cluster_key"]
    )]
    cluster_cert: Option<PathBuf>,
    /// The private key of --cluster-cert (PEM).
    #[arg(
        long,
        env = "SEALHOUSE_CLUSTER_KEY",
        value_name = "PEM",
        requires_all = ["cluster_ca", "cluster_cert"]
    )]
    cluster_key: Option<PathBuf>,
}

impl ClusterTlsArgs {
    /// The TLS material, if it was given.
    pub(crate) fn load(&self) -> Result<Option<Arc<ClusterTls>>> {
        match (&self.cluster_ca, &self.cluster_cert, &self.cluster_key) {
            (Some(ca), Some(cert), Some(key)) => {
                Ok(Some(Arc::new(ClusterTls::load(ca, cert, key)?)))
            }
            _ => Ok(None),
        }
    }
}

/// The cluster a coordinator submits to, if `--cluster` was given.
pub(crate) fn cluster(
    url: Option<&SchedulerUrl>,
    tls: &ClusterTlsArgs,
) -> Result<Option<Arc<Cluster>>> {
    let Some(url) = url else {
        return Ok(None);
    };
    Ok(Some(Cluster::new(url.clone(), tls.load()?)?))
}
