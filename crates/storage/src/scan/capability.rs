//! Scan capabilities: a coordinator's signature on each table scan it sends
//! to a cluster, which an executor checks before it opens a file or asks
//! for a key.

use std::fmt;
use std::str::FromStr;

use datafusion::error::{DataFusionError, Result};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::ScanDescriptor;
use crate::Catalog;

/// Permission to read a scan's files, signed by a process holding the
/// catalog key (the coordinator that planned it): an executor reads only
/// scans whose capability verifies under the warehouse's
/// [`CapabilityKey`], so a plan forged or edited by whoever can reach the
/// scheduler is refused before any file is opened or any key asked for.
/// The scheduler passes it on unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Capability {
    /// Until when (Unix seconds).
    expires_at: i64,
    /// Hex of the Ed25519 signature of the scan and the expiry.
    signature: String,
}

/// The public key a warehouse's scan capabilities are checked with
/// ([`crate::CatalogKey::capability_key`]): what a cluster's executors
/// are given instead of any key of the catalog. Written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CapabilityKey([u8; 32]);

impl CapabilityKey {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Whether `signature` is this key's signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Display for CapabilityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CapabilityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapabilityKey({self})")
    }
}

impl FromStr for CapabilityKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        bytes.map(Self).ok_or_else(|| {
            "a scan capability key is 64 hex digits (as `sealhouse cluster identity` writes it)"
                .to_owned()
        })
    }
}

/// How long a scan's capability lasts: the longest a query's later stages
/// may start after it was planned.
const LIFETIME_SECS: i64 = 4 * 3600;

/// The bytes a capability covers: the descriptor, the partitions and the
/// sealed block-tag keys.
fn signed_part(
    descriptor: &ScanDescriptor,
    partitions: &[Vec<usize>],
    tag_keys: Option<&str>,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Signed<'a> {
        descriptor: &'a ScanDescriptor,
        partitions: &'a [Vec<usize>],
        tag_keys: Option<&'a str>,
    }
    serde_json::to_vec(&Signed {
        descriptor,
        partitions,
        tag_keys,
    })
    .unwrap_or_else(|e| unreachable!("a snapshot scan always serialises: {e}"))
}

impl Capability {
    /// Signs `descriptor`, `partitions` and `tag_keys` with `catalog`'s key
    /// for [`LIFETIME_SECS`] from now.
    pub(super) fn issue(
        catalog: &Catalog,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
        tag_keys: Option<&str>,
    ) -> Self {
        Self::sign(
            catalog,
            descriptor,
            partitions,
            tag_keys,
            crate::catalog::now() + LIFETIME_SECS,
        )
    }

    /// Signs `descriptor`, `partitions` and `tag_keys` with `catalog`'s key
    /// until `expires_at` (Unix seconds).
    pub(super) fn sign(
        catalog: &Catalog,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
        tag_keys: Option<&str>,
        expires_at: i64,
    ) -> Self {
        let signature = catalog
            .key()
            .scan_capability(&signed_part(descriptor, partitions, tag_keys), expires_at);
        Self {
            expires_at,
            signature: hex::encode(signature),
        }
    }

    /// Refuses a scan unless `capability` was signed under `key` for
    /// exactly this scan and has not expired.
    pub(super) fn check(
        capability: Option<&Self>,
        key: &CapabilityKey,
        descriptor: &ScanDescriptor,
        partitions: &[Vec<usize>],
        tag_keys: Option<&str>,
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
        let message = crate::integrity::capability_message(
            &signed_part(descriptor, partitions, tag_keys),
            capability.expires_at,
        );
        let given = hex::decode(&capability.signature).unwrap_or_default();
        if !key.verifies(&message, &given) {
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
