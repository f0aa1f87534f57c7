//! The loop the keyset ciphers share: for every row, the keyset (prepared
//! once per distinct value through the cache), the value and the AAD; NULL in
//! any of them gives NULL; the result is a BINARY column written without a
//! copy per row.

use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;
use sealhouse_crypto::CipherSession;

use super::args::{ByteColumn, Bytes, Text};
use super::keyset_cache::KeysetCache;

/// How long results are against their input values, so that a batch's
/// output buffer is allocated once at about its final size instead of grown
/// by doubling and copying (which cost most at 1 KiB values).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ResultSize {
    /// Each result is at most its input plus this many bytes: encryption
    /// adds the key tag and the algorithm's IV or SIV and tag (60 bytes for
    /// AES-GCM-256, 48 for AES-SIV; docs/formats.md).
    Grows(usize),
    /// Each result of a valid input is at least this many bytes shorter than
    /// it: decryption removes 48 (AES-SIV) or 60 (AES-GCM-256) bytes.
    Shrinks(usize),
}

impl ResultSize {
    /// Encryption: at most 64 bytes over the plaintext.
    pub(crate) const ENCRYPT: Self = Self::Grows(64);
    /// Decryption: at least 48 bytes under the ciphertext.
    pub(crate) const DECRYPT: Self = Self::Shrinks(48);

    fn capacity(self, input_bytes: usize, rows: usize) -> usize {
        match self {
            Self::Grows(n) => input_bytes.saturating_add(rows.saturating_mul(n)),
            Self::Shrinks(n) => input_bytes.saturating_sub(rows.saturating_mul(n)),
        }
    }
}

/// Calls `per_value(session, value, aad, out)` for each row of
/// `(keyset, value [, aad])` arguments. `per_value` appends the row's result
/// to `out` and returns `Ok(true)`, or returns `Ok(false)` for NULL.
pub(crate) fn map_keyset_rows(
    cache: &KeysetCache,
    function: &str,
    args: &[ColumnarValue],
    rows: usize,
    size: ResultSize,
    mut per_value: impl FnMut(&mut CipherSession<'_>, &[u8], &[u8], &mut Vec<u8>) -> Result<bool>,
) -> Result<ColumnarValue> {
    let keysets = Bytes::of(&args[0])?;
    let values = Bytes::of(&args[1])?;
    let aads = args.get(2).map(Text::of).transpose()?;
    let mut out = ByteColumn::with_capacity(rows, size.capacity(values.total_len(rows), rows));
    cache.for_each_run(function, &keysets, rows, |range, cipher| {
        let Some(cipher) = cipher else {
            return range.into_iter().try_for_each(|_| out.append_null());
        };
        let mut session = cipher.session();
        for row in range {
            let aad = aads.as_ref().map_or(Some(""), |a| a.get(row));
            match (values.get(row), aad) {
                (Some(value), Some(aad)) => {
                    out.append_or_null(|buf| per_value(&mut session, value, aad.as_bytes(), buf))?
                }
                _ => out.append_null()?,
            }
        }
        Ok(())
    })?;
    Ok(ColumnarValue::Array(out.finish_binary()))
}
