//! Reading a keyset argument for the functions that change or show keysets
//! (as opposed to the ciphers, which go through the keyset cache).

use datafusion::error::Result;
use sealhouse_crypto::{Algorithm, Keyset};

use super::args::exec;

/// Parses keyset bytes, naming the function in the error.
pub(crate) fn parse_keyset(function: &str, bytes: &[u8]) -> Result<Keyset> {
    Keyset::from_bytes(bytes).map_err(|e| exec(function, e))
}

/// Parses an algorithm name, naming the function in the error.
pub(crate) fn parse_algorithm(function: &str, name: &str) -> Result<Algorithm> {
    Algorithm::parse(name).map_err(|e| exec(function, e))
}
