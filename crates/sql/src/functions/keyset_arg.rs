//! Reading a keyset argument for the functions that change or show keysets
//! (as opposed to the ciphers, which go through the keyset cache).

use datafusion::error::Result;
use sealhouse_crypto::{Algorithm, Keyset};

use super::args::{crypto, exec};
use super::keyset_handles::is_reference;

/// Parses keyset bytes, naming the function in the error.
/// A keyset reference from USE_WRAPPED_KEYSET is refused: these functions
/// return the keyset they read, and a wrapped keyset's material must not
/// come out of the warehouse in the clear.
pub(crate) fn parse_keyset(function: &str, bytes: &[u8]) -> Result<Keyset> {
    if is_reference(bytes) {
        return Err(exec(
            function,
            "this is a keyset reference from USE_WRAPPED_KEYSET, whose key material stays inside the warehouse; change a wrapped keyset with ROTATE_WRAPPED_KEYSET or REWRAP_KEYSET",
        ));
    }
    Keyset::from_bytes(bytes).map_err(|e| crypto(function, e))
}

/// Parses an algorithm name, naming the function in the error.
pub(crate) fn parse_algorithm(function: &str, name: &str) -> Result<Algorithm> {
    Algorithm::parse(name).map_err(|e| crypto(function, e))
}
