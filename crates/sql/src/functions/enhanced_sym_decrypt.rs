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

use super::args::{ByteColumn, Bytes, Kind, Params, Text, exec};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;

const STRICT: Params = Params {
    function: "ENHANCED_SYM_DECRYPT",
    params: &[
        ("keyset", Kind::Bytes),
        ("ciphertext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
};

static TRY: Params = Params {
    function: "TRY_ENHANCED_SYM_DECRYPT",
    ..STRICT
};

pub(crate) struct EnhancedSymDecrypt {
    pub(crate) cache: Arc<KeysetCache>,
    /// NULL instead of an error when a value does not decrypt.
    pub(crate) null_on_failure: bool,
}

impl SqlFunction for EnhancedSymDecrypt {
    fn params(&self) -> &'static Params {
        if self.null_on_failure { &TRY } else { &STRICT }
    }

    fn returns(&self) -> DataType {
        DataType::Binary
    }

    fn volatility(&self) -> Volatility {
        Volatility::Immutable
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let name = self.params().function;
        let keysets = Bytes::of(&args[0])?;
        let ciphertexts = Bytes::of(&args[1])?;
        let aads = args.get(2).map(Text::of).transpose()?;
        let mut out = ByteColumn::with_capacity(rows, rows * 16);
        self.cache
            .for_each_run(name, &keysets, rows, |range, cipher| {
                let Some(cipher) = cipher else {
                    return range.into_iter().try_for_each(|_| out.append_null());
                };
                let mut session = cipher.session();
                for row in range {
                    let aad = aads.as_ref().map_or(Some(""), |a| a.get(row));
                    let (Some(ciphertext), Some(aad)) = (ciphertexts.get(row), aad) else {
                        out.append_null()?;
                        continue;
                    };
                    let decrypted = out.append_with(|buf| {
                        session
                            .decrypt_append(ciphertext, aad.as_bytes(), buf)
                            .map_err(|e| exec(name, e))
                    });
                    if decrypted.is_err() && self.null_on_failure {
                        out.append_null()?;
                    } else {
                        decrypted?;
                    }
                }
                Ok(())
            })?;
        Ok(ColumnarValue::Array(out.finish_binary()))
    }
}
