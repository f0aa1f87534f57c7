//! `ENHANCED_SYM_DECRYPT(keyset, ciphertext [, aad])` → BINARY, and
//! `TRY_ENHANCED_SYM_DECRYPT(...)`, which gives NULL where the other fails.
//!
//! Finds the key by the ciphertext's key tag (or tries every enabled key for
//! ciphertexts of the original service). The AAD must be the one given to
//! encrypt; empty and absent are the same. A failure is one opaque error
//! (wrong keyset, wrong AAD, modified ciphertext, disabled key all read
//! alike); a value too short to be a ciphertext says so.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{FunctionSpec, Kind, crypto};
use super::keyset_cache::KeysetCache;
use super::keyset_rows::{ResultSize, map_keyset_rows};
use super::udf::SqlFunction;

static STRICT: FunctionSpec = FunctionSpec {
    function: "ENHANCED_SYM_DECRYPT",
    params: &[
        ("keyset", Kind::Keyset),
        ("ciphertext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

static TRY: FunctionSpec = FunctionSpec {
    function: "TRY_ENHANCED_SYM_DECRYPT",
    params: &[
        ("keyset", Kind::Keyset),
        ("ciphertext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

pub(crate) struct EnhancedSymDecrypt {
    pub(crate) cache: Arc<KeysetCache>,
    /// NULL instead of an error when a value does not decrypt.
    pub(crate) null_on_failure: bool,
}

impl SqlFunction for EnhancedSymDecrypt {
    fn spec(&self) -> &'static FunctionSpec {
        if self.null_on_failure { &TRY } else { &STRICT }
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let name = self.spec().function;
        map_keyset_rows(
            &self.cache,
            name,
            args,
            rows,
            ResultSize::DECRYPT,
            |session, ciphertext, aad, out| match session.decrypt_append(ciphertext, aad, out) {
                Ok(()) => Ok(true),
                Err(_) if self.null_on_failure => Ok(false),
                Err(e) => Err(crypto(name, e)),
            },
        )
    }
}
