//! Keyset constants of queries that run on a cluster (DESIGN.md,
//! "Scale-out"): sealed on the coordinator under a data key of the
//! warehouse's cluster-keyset CMK, opened by the executors with one KMS
//! Decrypt per data key. A plan holds no keyset, wrapped keyset's key or
//! data key in the clear, and nothing in it opens without the KMS.
//!
//! - `format.rs`: the sealed keyset's bytes.
//! - `sealer.rs`: the coordinator's data keys, and sealing.
//! - `unsealer.rs`: opening, where the plan runs.
//! - `plan.rs`: sealing a plan's keyset constants, and refusing what would
//!   carry key material any other way.

pub(crate) mod format;
pub(crate) mod plan;
mod sealer;
mod unsealer;

use sealhouse_kms::api::EncryptionContext;

pub(crate) use format::{SealedKind, is_sealed};
pub use sealer::KeysetSealer;
pub use unsealer::KeysetUnsealer;
pub(crate) use unsealer::Unsealed;
pub(crate) use unsealer::now;

/// How long a sealed keyset opens after its statement was planned (as long
/// as a scan's capability).
pub(crate) const SEAL_LIFETIME_SECS: i64 = 4 * 3600;

/// The encryption context of a data key: what it is for, and until when.
pub(crate) fn context(expires: i64) -> EncryptionContext {
    EncryptionContext::from([
        ("sealhouse:purpose".to_owned(), "cluster-keysets".to_owned()),
        ("sealhouse:expires".to_owned(), expires.to_string()),
    ])
}
