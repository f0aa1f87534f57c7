//! `ENHANCED_SYM_ENCRYPT(keyset, plaintext [, aad])` → BINARY.
//!
//! Encrypts with the keyset's primary key (column ciphertext format in
//! docs/formats.md). NULL in any argument gives NULL. Volatile: AES-GCM draws
//! a fresh IV per row.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};

use super::args::{ByteColumn, Bytes, Kind, Params, Text};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;

static PARAMS: Params = Params {
    function: "ENHANCED_SYM_ENCRYPT",
    params: &[
        ("keyset", Kind::Bytes),
        ("plaintext", Kind::Bytes),
        ("aad", Kind::Text),
    ],
    required: 2,
};

pub(crate) struct EnhancedSymEncrypt {
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for EnhancedSymEncrypt {
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
        let plaintexts = Bytes::of(&args[1])?;
        let aads = args.get(2).map(Text::of).transpose()?;
        let mut out = ByteColumn::with_capacity(rows, rows * 64);
        self.cache
            .for_each_run(PARAMS.function, &keysets, rows, |range, cipher| {
                let Some(cipher) = cipher else {
                    return range.into_iter().try_for_each(|_| out.append_null());
                };
                let mut session = cipher.session();
                for row in range {
                    let aad = aads.as_ref().map_or(Some(""), |a| a.get(row));
                    match (plaintexts.get(row), aad) {
                        (Some(plaintext), Some(aad)) => out.append_with(|buf| {
                            session.encrypt_append(plaintext, aad.as_bytes(), buf);
                            Ok(())
                        })?,
                        _ => out.append_null()?,
                    }
                }
                Ok(())
            })?;
        Ok(ColumnarValue::Array(out.finish_binary()))
    }
}
