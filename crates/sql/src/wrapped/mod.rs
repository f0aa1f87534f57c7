//! Wrapped keysets: keysets encrypted by a KMS key (the spec's "Use keysets
//! with KMS"), the identity a session acts as, and the role chains through
//! which the warehouse reaches the KMS on its behalf.
//!
//! - the wrapped keyset's bytes: `sealhouse_kms::wrapped_keyset`;
//! - `services.rs`: [`IdentityServices`], the process-wide identity service and
//!   KMS gateway (`sealhouse_kms::KmsGateway`, which keeps the unwrap caches);
//! - `wrapper.rs`: one session's wrap / unwrap through its role chain.

mod services;
mod wrapper;

pub use services::IdentityServices;
pub(crate) use wrapper::{KeysetWrapper, RoleArgs};
