//! Persistence of the identity records: a trait, so that decision logic is
//! independent of the database, and its SQLite implementation.
//!
//! Every method is one transaction: it happens entirely or not at all. The
//! store enforces uniqueness (names are unique per account regardless of
//! case); the service checks everything else (names well-formed, documents
//! valid, referenced records existing) before calling it.

pub mod sqlite;

use time::OffsetDateTime;

use crate::model::{
    AccessKeyRecord, AccessKeyStatus, Account, AttachTarget, CustomPolicy, PolicyRef, Role,
    StsSessionRecord, User,
};
use crate::names::AccountId;

pub use sqlite::SqliteStore;

/// A store operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same key exists.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// What kind of record.
        kind: &'static str,
        /// Its key.
        name: String,
    },
    /// The record to change does not exist.
    #[error("{kind} {name} does not exist")]
    NotFound {
        /// What kind of record.
        kind: &'static str,
        /// Its key.
        name: String,
    },
    /// The database failed (I/O, lock, full disk, ...). Nothing was changed.
    #[error("the identity database failed: {0}")]
    Backend(String),
    /// A stored record does not decode: the database was damaged or written
    /// by an incompatible version.
    #[error("the identity database holds a damaged record: {0}")]
    Corrupt(String),
}

/// Where identity records live.
pub trait Store: Send + Sync {
    /// Creates an account together with its root's first access key.
    fn insert_account(
        &self,
        account: &Account,
        root_key: &AccessKeyRecord,
    ) -> Result<(), StoreError>;
    /// An account by id.
    fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError>;

    /// Creates a user.
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by account and name (any case).
    fn user(&self, account: &AccountId, name: &str) -> Result<Option<User>, StoreError>;

    /// Adds an access key.
    fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), StoreError>;
    /// An access key by id.
    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError>;
    /// Makes an access key active or inactive.
    fn set_access_key_status(&self, id: &str, status: AccessKeyStatus) -> Result<(), StoreError>;

    /// Creates a role.
    fn insert_role(&self, role: &Role) -> Result<(), StoreError>;
    /// A role by account and name (any case).
    fn role(&self, account: &AccountId, name: &str) -> Result<Option<Role>, StoreError>;
    /// Replaces a role's trust policy.
    fn set_role_trust_policy(
        &self,
        account: &AccountId,
        name: &str,
        trust_policy: &str,
    ) -> Result<(), StoreError>;

    /// Creates a custom policy.
    fn insert_policy(&self, policy: &CustomPolicy) -> Result<(), StoreError>;
    /// A custom policy by account and exact name.
    fn policy(&self, account: &AccountId, name: &str) -> Result<Option<CustomPolicy>, StoreError>;

    /// Attaches a policy; `AlreadyExists` if it is attached.
    fn attach(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), StoreError>;
    /// Detaches a policy; `NotFound` if it is not attached.
    fn detach(&self, target: &AttachTarget, policy: &PolicyRef) -> Result<(), StoreError>;
    /// The policies attached to a target, in the order they were attached.
    fn attached(&self, target: &AttachTarget) -> Result<Vec<PolicyRef>, StoreError>;

    /// Records temporary credentials.
    fn insert_sts_session(&self, session: &StsSessionRecord) -> Result<(), StoreError>;
    /// Temporary credentials by access key id (expired ones too).
    fn sts_session(&self, access_key_id: &str) -> Result<Option<StsSessionRecord>, StoreError>;
    /// Deletes credentials that expired before `now`; returns how many.
    fn delete_expired_sts_sessions(&self, now: OffsetDateTime) -> Result<usize, StoreError>;

    /// Records a signed request's nonce digest until `expires_at` (Unix
    /// seconds); `false` if it is held and unexpired at `now` (a replay).
    /// Every process on the store sees the same nonces.
    fn record_nonce(
        &self,
        digest: &[u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
}
