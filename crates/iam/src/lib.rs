//! Sealhouse's identity service: accounts, users with access keys, roles with
//! trust policies, policies and their evaluation, STS sessions, PassRole and
//! role chains across accounts.
//!
//! Pure decision logic over a [`Store`], synchronous, no network: the KMS and
//! the HTTP layer build on it. The pieces:
//!
//! - [`Arn`], [`Principal`], [`ServiceName`]: who and what, in the spec's ARN
//!   syntax; the warehouse and the external engine are service principals
//!   (`odps.aliyuncs.com` and `hologres.aliyuncs.com` accepted as aliases).
//! - [`policy`]: the document grammar, conditions, evaluation (explicit deny
//!   wins, default deny), trust policies, the system policies.
//! - [`Iam`]: administration (`service.rs`), authentication (`authn.rs`),
//!   [`Iam::authorize`] (`authorize.rs`), AssumeRole and PassRole (`sts.rs`),
//!   role chains (`role_chain.rs`).
//! - [`Store`] and [`SqliteStore`]; secrets stored through a [`SecretSealer`].
//! - [`signing`]: request signatures (`ACS3-HMAC-SHA256`): the client's
//!   [`signing::Signer`] and the server's [`signing::Verifier`].
//!
//! The decisions behind these are written down in `docs/iam.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod arn;
mod authn;
mod authorize;
mod clock;
mod denied;
mod error;
pub mod model;
mod names;
pub mod policy;
mod principal;
mod ram_admin;
mod role_chain;
mod secret;
mod service;
pub mod signing;
pub mod store;
mod sts;
#[cfg(test)]
mod testutil;

pub use arn::{Arn, ArnError};
pub use authn::{STS_KEY_PREFIX, SigningCredential};
pub use clock::{Clock, ManualClock, SystemClock};
pub use denied::{AccessDenied, DenyReason};
pub use error::{AuthError, Error};
pub use model::{AccessKeyStatus, AttachTarget, PolicyRef};
pub use names::{AccountId, NameError};
pub use policy::context::RequestContext;
pub use principal::{Principal, ServiceName};
pub use ram_admin::RamAdmin;
pub use role_chain::{ChainStep, MAX_CHAIN_ROLES, RoleChainError};
pub use secret::{NoSealing, SealError, SecretSealer, SecretText};
pub use service::{
    DEFAULT_MAX_SESSION_SECONDS, Iam, LARGEST_MAX_SESSION_SECONDS, MAX_POLICY_DOCUMENT_BYTES,
    NewAccessKey,
};
pub use store::{SqliteStore, Store, StoreError};
pub use sts::{MIN_SESSION_SECONDS, TemporaryCredentials};
