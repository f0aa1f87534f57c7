//! The two serialized forms of a keyset.
//!
//! - Binary ([`Keyset::from_bytes`], [`Keyset::to_bytes`]): protobuf,
//!   byte-compatible with the original service, the form keysets take in
//!   BINARY columns.
//! - JSON ([`Keyset::from_json`], [`Keyset::to_json`]): `KEYSET_TO_JSON` /
//!   `KEYSET_FROM_JSON`, with the original's field names, enum spellings and
//!   layout.
//!
//! Both decode into the same checks ([`Keyset`]'s invariants), so a keyset
//! that passes one passes the other, and decode then encode gives back the
//! input bytes for every keyset the original service writes.
//!
//! [`Keyset`]: crate::Keyset
//! [`Keyset::from_bytes`]: crate::Keyset::from_bytes
//! [`Keyset::to_bytes`]: crate::Keyset::to_bytes
//! [`Keyset::from_json`]: crate::Keyset::from_json
//! [`Keyset::to_json`]: crate::Keyset::to_json

mod binary;
mod json;
mod json_print;
