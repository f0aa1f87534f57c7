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

use super::args::{ByteColumn, Bytes, Kind, Params, Text, exec};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;

static PARAMS: Params = Params {
    function: "ENHANCED_SYM_REENCRYPT",
    params: &[
        ("keyset", Kind::Bytes),
        ("ciphertext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
};

pub(crate) struct EnhancedSymReencrypt {
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for EnhancedSymReencrypt {
    fn params(&self) -> &'static Params {
        &PARAMS
    }

    fn returns(&self) -> DataType {
        DataType::Binary
    }

    fn volatility(&self) -> Volatility {
        Volatility::Volatile
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let keysets = Bytes::of(&args[0])?;
        let ciphertexts = Bytes::of(&args[1])?;
        let aads = args.get(2).map(Text::of).transpose()?;
        let mut out = ByteColumn::with_capacity(rows, rows * 64);
        let mut plaintext = Vec::new();
        self.cache
            .for_each_run(PARAMS.function, &keysets, rows, |range, cipher| {
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
                    plaintext.zeroize();
                    let opened = session.decrypt_append(ciphertext, aad.as_bytes(), &mut plaintext);
                    let result = opened.map_err(|e| exec(PARAMS.function, e)).and_then(|()| {
                        out.append_with(|buf| {
                            session.encrypt_append(&plaintext, aad.as_bytes(), buf);
                            Ok(())
                        })
                    });
                    plaintext.zeroize();
                    result?;
                }
                Ok(())
            })?;
        Ok(ColumnarValue::Array(out.finish_binary()))
    }
}
