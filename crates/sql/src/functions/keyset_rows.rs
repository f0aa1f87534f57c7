//! The loop the keyset ciphers share: for every row, the keyset (prepared
//! once per distinct value through the cache), the value and the AAD; NULL in
//! any of them gives NULL; the result is a BINARY column written without a
//! copy per row.

use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;
use sealhouse_crypto::CipherSession;

use super::args::{ByteColumn, Bytes, Text};
use super::keyset_cache::KeysetCache;

/// Calls `per_value(session, value, aad, out)` for each row of
/// `(keyset, value [, aad])` arguments. `per_value` appends the row's result
/// to `out` and returns `Ok(true)`, or returns `Ok(false)` for NULL.
pub(crate) fn map_keyset_rows(
    cache: &KeysetCache,
    function: &str,
    args: &[ColumnarValue],
    rows: usize,
    bytes_per_row: usize,
    mut per_value: impl FnMut(&mut CipherSession<'_>, &[u8], &[u8], &mut Vec<u8>) -> Result<bool>,
) -> Result<ColumnarValue> {
    let keysets = Bytes::of(&args[0])?;
    let values = Bytes::of(&args[1])?;
    let aads = args.get(2).map(Text::of).transpose()?;
    let mut out = ByteColumn::with_capacity(rows, rows * bytes_per_row);
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
