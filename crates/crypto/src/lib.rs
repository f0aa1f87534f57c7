//! Sealhouse's cryptographic core: keysets, the column ciphers built on them,
//! and the types that hold secrets.
//!
//! Everything here is synchronous and does no I/O, so it can be reviewed, fuzzed
//! and benchmarked on its own. The pieces:
//!
//! - [`Keyset`]: a set of keys with one primary, as the original service models
//!   it; mutated through its methods, which keep its invariants (exactly one
//!   enabled primary, unique key ids, key lengths right for their algorithm).
//! - [`codec`]: the binary (protobuf) form, byte-compatible with the original
//!   service, and the JSON form of `KEYSET_TO_JSON` / `KEYSET_FROM_JSON`.
//! - [`KeysetCipher`]: a keyset prepared for `ENHANCED_SYM_ENCRYPT` /
//!   `ENHANCED_SYM_DECRYPT`: parse once, then encrypt and decrypt many values.
//! - [`sym`]: the single-key `SYM_ENCRYPT` / `SYM_DECRYPT` format.
//! - [`primitive`]: AES-GCM-256 and AES-SIV-CMAC, each behind a small type.
//! - [`SecretBytes`]: key material that cannot be printed or cloned by accident
//!   and is zeroed when dropped.
//! - [`printable()`]: the one way every crate quotes a value it was sent in an
//!   error or a log (a name is shown, anything that may be a secret is not).
//!
//! The formats are specified in `docs/formats.md` at the repository root.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
mod cipher;
pub mod codec;
mod derive;
mod error;
mod keyset;
pub mod primitive;
mod printable;
pub mod private_fs;
mod random;
mod secret;
pub mod sym;

#[cfg(test)]
mod testdata;

pub use algorithm::Algorithm;
pub use cipher::{CipherSession, KeysetCipher};
pub use error::{Error, KeysetProblem};
pub use keyset::{Key, KeyId, KeyInfo, KeyOrigin, KeyStatus, Keyset};
pub use printable::printable;
pub use secret::SecretBytes;
