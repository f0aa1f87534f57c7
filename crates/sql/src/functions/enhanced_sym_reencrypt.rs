//! `ENHANCED_SYM_REENCRYPT(keyset, ciphertext [, aad])` → BINARY.
//!
//! Decrypts with whichever enabled key made the ciphertext and encrypts again
//! under the keyset's current primary key, with the same AAD: after a
//! rotation, old data moves to the new key without the plaintext ever being
//! returned to the caller (it lives only in a buffer that is zeroed after each
//! row). Fails like `ENHANCED_SYM_DECRYPT` when a value does not decrypt.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use zeroize::Zeroize;

use super::args::{FunctionSpec, Kind, crypto};
use super::keyset_cache::KeysetCache;
use super::keyset_rows::{ResultSize, map_keyset_rows};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "ENHANCED_SYM_REENCRYPT",
    params: &[
        ("keyset", Kind::Keyset),
        ("ciphertext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct EnhancedSymReencrypt {
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for EnhancedSymReencrypt {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let mut plaintext = Vec::new();
        map_keyset_rows(
            &self.cache,
            SPEC.function,
            args,
            rows,
            // A ciphertext made again under the primary is at most 12 bytes longer
            // (AES-SIV, 48 bytes over its plaintext, to AES-GCM-256, 60).
            ResultSize::Grows(12),
            |session, ciphertext, aad, out| {
                plaintext.zeroize();
                let opened = session.decrypt_append(ciphertext, aad, &mut plaintext);
                if opened.is_ok() {
                    session.encrypt_append(&plaintext, aad, out);
                }
                plaintext.zeroize();
                opened.map(|()| true).map_err(|e| crypto(SPEC.function, e))
            },
        )
    }
}
