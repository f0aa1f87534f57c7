//! Scan capabilities: a coordinator's signature on each table scan it sends
//! to a cluster, which an executor checks before it opens a file or asks
//! for a key.

use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::ScanDescriptor;
use crate::Catalog;

/// Permission to read a scan's files, signed by a process holding the
/// catalog key (the coordinator that planned it): an executor reads only
/// scans whose capability it verifies, so a plan forged or edited by
/// whoever can reach the scheduler is refused before any file is opened
/// or any key asked for. The scheduler passes it on unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Capability {
    /// Until when (Unix seconds).
    expires_at: i64,
    /// Hex of the catalog key's MAC of the scan and the expiry.
    mac: String,
}

/// How long a scan's capability lasts: the longest a query's later stages
/// may start after it was planned.
const LIFETIME_SECS: i64 = 4 * 3600;

/// The bytes a capability covers: the descriptor and the partitions.
fn signed_part(descriptor: &ScanDescriptor, partitions: &[Vec<usize>]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Signed<'a> {
        descriptor: &'a ScanDescriptor,
        partitions: &'a [Vec<usize>],
    }
    serde_json::to_vec(&Signed {
        descriptor,
        partitions,
    })
    .unwrap_or_else(|e| unreachable!("a snapshot scan always serialises: {e}"))
}

impl Capability {
    /// Signs `descriptor` and `partitions` with `catalog`'s key for
    /// [`LIFETIME_SECS`] from now.
    pub(super) fn issue(
        catalog: &Catalog,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
    ) -> Self {
        Self::sign(
            catalog,
            descriptor,
            partitions,
            crate::catalog::now() + LIFETIME_SECS,
        )
    }

    /// Signs `descriptor` and `partitions` with `catalog`'s key until
    /// `expires_at` (Unix seconds).
    pub(super) fn sign(
        catalog: &Catalog,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
        expires_at: i64,
    ) -> Self {
        let mac = catalog
            .key()
            .scan_capability(&signed_part(descriptor, partitions), expires_at);
        Self {
            expires_at,
            mac: hex::encode(mac),
        }
    }

    /// Refuses a scan a process with `catalog` would read unless
    /// `capability` was signed with this catalog's key for exactly this
    /// scan and has not expired.
    pub(super) fn check(
        capability: Option<&Self>,
        catalog: &Catalog,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
    ) -> Result<()> {
        let table = format!("{}.{}", descriptor.project, descriptor.table);
        let refused = |why: &str| {
            DataFusionError::Execution(format!(
                "the scan of {table} is refused: {why}; only scans planned by a Sealhouse \
                 session of this warehouse are read"
            ))
        };
        let Some(capability) = capability else {
            return Err(refused("it carries no capability"));
        };
        let expected = catalog
            .key()
            .scan_capability(&signed_part(descriptor, partitions), capability.expires_at);
        let given = hex::decode(&capability.mac).unwrap_or_default();
        if !catalog.key().verify(&expected, Some(&given)) {
            return Err(refused(
                "its capability was not signed for it with this warehouse's key",
            ));
        }
        if capability.expires_at <= crate::catalog::now() {
            return Err(refused("its capability has expired"));
        }
        Ok(())
    }
}
