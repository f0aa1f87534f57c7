//! The Sealhouse KMS over signed HTTP: the server and a client that
//! implements [`sealhouse_kms::Kms`].
//!
//! - [`serve`] / [`router`]: an axum server over a [`sealhouse_kms::KmsService`]
//!   that authenticates every request by its ACS3-HMAC-SHA256 signature
//!   (through [`sealhouse_iam::Iam`]: access keys and STS tokens, a ±15 minute
//!   window, replays refused by every process on the data directory, the
//!   signed host checked against the listener) and runs it as the signing
//!   principal; plain HTTP on loopback, or TLS ([`ServeOptions::tls`]).
//! - [`KmsClient`]: the blocking client (http or https), signing with one
//!   set of credentials; wrap it in [`sealhouse_kms::CachingKms`] like the
//!   embedded handle.
//! - [`RoleSessionKms`]: the KMS as a role session assumed through a
//!   client, renewed before it expires.
//! - [`sts`]: `AssumeRole` on the same endpoint, for principals that reach
//!   the KMS only over HTTP.
//! - [`wire`]: the RPC-style wire format (`x-acs-action`, `x-acs-version`
//!   [`wire::API_VERSION`], JSON bodies with the API's PascalCase names,
//!   errors as [`wire::ErrorBody`]).
//!
//! `docs/kms.md` ("HTTP API") describes the API.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod dispatch;
#[doc(hidden)]
pub mod fuzzing;
mod role_session;
mod server;
pub mod sts;
pub mod wire;

pub use client::{ClientError, DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, KmsClient};
pub use role_session::RoleSessionKms;
pub use server::{MAX_BODY_BYTES, ServeOptions, endpoint_hosts, router, serve, serve_until};
