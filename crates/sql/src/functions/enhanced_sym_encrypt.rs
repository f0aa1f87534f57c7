//! `ENHANCED_SYM_ENCRYPT(keyset, plaintext [, aad])` → BINARY.
//!
//! Encrypts with the keyset's primary key (column ciphertext format in
//! docs/formats.md). NULL in any argument gives NULL. Volatile: AES-GCM draws
//! a fresh IV per row.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{FunctionSpec, Kind};
use super::keyset_cache::KeysetCache;
use super::keyset_rows::{ResultSize, map_keyset_rows};
use super::udf::SqlFunction;

static SPEC: FunctionSpec = FunctionSpec {
    function: "ENHANCED_SYM_ENCRYPT",
    params: &[
        ("keyset", Kind::Keyset),
        ("plaintext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

pub(crate) struct EnhancedSymEncrypt {
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for EnhancedSymEncrypt {
    fn spec(&self) -> &'static FunctionSpec {
        &SPEC
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        map_keyset_rows(
            &self.cache,
            SPEC.function,
            args,
            rows,
            ResultSize::ENCRYPT,
            |session, plaintext, aad, out| {
                session.encrypt_append(plaintext, aad, out);
                Ok(true)
            },
        )
    }
}
