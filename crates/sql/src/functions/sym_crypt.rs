//! `SYM_ENCRYPT(value, key [, mode [, aad]])` and
//! `SYM_DECRYPT(ciphertext, key [, mode [, aad]])` → BINARY.
//!
//! AES-256-GCM under one raw 32-byte key (`IV || ciphertext || tag`). `mode`
//! may only be 'AES-GCM-256', as in the original service. The cipher is set
//! up once per distinct key, not per row.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::sym::SymCipher;

use super::args::{ByteColumn, Bytes, FunctionSpec, Kind, Text, crypto, exec};
use super::keyset_cache::KeysetCache;
use super::udf::SqlFunction;
use crate::sealed_keysets::is_sealed;

const MODE: &str = "AES-GCM-256";

static ENCRYPT: FunctionSpec = FunctionSpec {
    function: "SYM_ENCRYPT",
    params: &[
        ("value", Kind::Bytes),
        ("key", Kind::Bytes),
        ("mode", Kind::Text),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Volatile,
};

static DECRYPT: FunctionSpec = FunctionSpec {
    function: "SYM_DECRYPT",
    params: &[
        ("ciphertext", Kind::Bytes),
        ("key", Kind::Bytes),
        ("mode", Kind::Text),
        ("aad", Kind::Text),
    ],
    required: 2,
    returns: DataType::Binary,
    volatility: Volatility::Immutable,
};

pub(crate) struct SymCrypt {
    pub(crate) encrypt: bool,
    /// Opens a key sealed for a cluster's executors.
    pub(crate) cache: Arc<KeysetCache>,
}

impl SqlFunction for SymCrypt {
    fn spec(&self) -> &'static FunctionSpec {
        if self.encrypt { &ENCRYPT } else { &DECRYPT }
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let name = self.spec().function;
        let values = Bytes::of(&args[0])?;
        let keys = Bytes::of(&args[1])?;
        // A constant key sealed by the coordinator (on a cluster's
        // executors): opened once for the batch.
        let sealed_key = match &keys {
            Bytes::Scalar(Some(key)) => self.cache.raw_key(key, true),
            Bytes::Scalar(None) => Ok(None),
            // A seal among a column's values is refused (the cache says why).
            Bytes::Array(_) | Bytes::View(_) => {
                match (0..rows)
                    .filter_map(|row| keys.get(row))
                    .find(|key| is_sealed(key))
                {
                    Some(sealed) => self.cache.raw_key(sealed, false),
                    None => Ok(None),
                }
            }
        }
        .map_err(|e| e.raise(name))?;
        let modes = args.get(2).map(Text::of).transpose()?;
        let aads = args.get(3).map(Text::of).transpose()?;
        let mut out = ByteColumn::with_capacity(rows, rows * 48);
        let mut current: Option<(&[u8], SymCipher)> = None;
        for row in 0..rows {
            let mode = modes.as_ref().map_or(Some(MODE), |m| m.get(row));
            let aad = aads.as_ref().map_or(Some(""), |a| a.get(row));
            let key = match &sealed_key {
                Some(opened) => keys.get(row).map(|_| opened.expose()),
                None => keys.get(row),
            };
            let (Some(value), Some(key), Some(mode), Some(aad)) = (values.get(row), key, mode, aad)
            else {
                out.append_null()?;
                continue;
            };
            if !mode.trim().eq_ignore_ascii_case(MODE) {
                return Err(exec(
                    name,
                    format!(
                        "mode '{}' is not supported; the only mode is '{MODE}'",
                        mode.chars().take(40).collect::<String>()
                    ),
                ));
            }
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                current = Some((key, SymCipher::new(key).map_err(|e| crypto(name, e))?));
            }
            let Some((_, cipher)) = current.as_ref() else {
                unreachable!("set just above")
            };
            out.append_with(|buf| {
                let result = if self.encrypt {
                    Ok(cipher.encrypt(value, aad.as_bytes()))
                } else {
                    cipher
                        .decrypt(value, aad.as_bytes())
                        .map_err(|e| crypto(name, e))
                };
                buf.extend_from_slice(&result?);
                Ok(())
            })?;
        }
        Ok(ColumnarValue::Array(out.finish_binary()))
    }
}
