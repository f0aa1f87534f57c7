//! Keysets parsed once per distinct value, not once per row.
//!
//! A query like the spec's `ENHANCED_SYM_ENCRYPT(k.ks, t.tel) ... JOIN k`
//! passes the keyset as a column whose every row holds the same bytes. The
//! functions walk such a column in runs of equal bytes, and each distinct
//! keyset is parsed and its ciphers set up once per session (the cache lives
//! as long as the functions registered in it).

use std::sync::{Arc, Mutex};

use sealhouse_crypto::{KeysetCipher, SecretBytes};

use datafusion::arrow::array::{Array, BinaryArray, BinaryViewArray};
use datafusion::error::{DataFusionError, Result};

use super::args::{Bytes, crypto, exec};
use super::keyset_handles::{KeysetHandles, Referenced, Resolved, STALE};
use crate::sealed_keysets::{KeysetUnsealer, SealedKind, Unsealed, is_sealed};

/// How many distinct keysets stay prepared.
const CAPACITY: usize = 16;

/// Prepared keysets, most recently used first.
/// Keyset references (USE_WRAPPED_KEYSET) resolve through `handles`, never
/// through the cache, so they stop working when their statement ends.
/// Sealed keysets (a plan's keyset constants on a cluster) open through
/// `unsealer`, which keeps them until they expire.
#[derive(Default)]
pub(crate) struct KeysetCache {
    entries: Mutex<Vec<(SecretBytes, Arc<KeysetCipher>)>>,
    pub(crate) handles: KeysetHandles,
    unsealer: Option<Arc<KeysetUnsealer>>,
}

/// What keyset bytes given to a function stand for.
pub(crate) enum Lookup {
    /// A keyset itself (or bytes to parse as one).
    Bytes,
    /// A keyset the query named, sealed for this process: it may be shown.
    Keyset(Referenced),
    /// A wrapped keyset's (a live reference, or one sealed for this
    /// process): used, never shown.
    Wrapped(Referenced),
}

/// The error for a sealed keyset where nothing can open one.
const NO_UNSEALER: &str = "this is a sealed keyset, which only the processes of a Sealhouse cluster open; pass the keyset itself";

/// The error for a sealed keyset that is not a constant of the plan.
const SEALED_DATA: &str = "a sealed keyset is opened only as a constant of the plan the coordinator sealed it in, never from a table's rows; pass the keyset itself";

/// Why keyset bytes gave no cipher.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CipherError {
    #[error(transparent)]
    Keyset(#[from] sealhouse_crypto::Error),
    #[error("{STALE}")]
    StaleReference,
    #[error("{0}")]
    Sealed(String),
}

impl CipherError {
    /// The error of `function` that met it.
    pub(crate) fn raise(self, function: &str) -> DataFusionError {
        match self {
            Self::Keyset(e) => crypto(function, e),
            Self::StaleReference => exec(function, STALE),
            Self::Sealed(why) => exec(function, why),
        }
    }
}

impl KeysetCache {
    /// A cache opening sealed keysets with `unsealer` (none: they are
    /// refused).
    pub(crate) fn new(unsealer: Option<Arc<KeysetUnsealer>>) -> Self {
        Self {
            unsealer,
            ..Self::default()
        }
    }

    /// What `bytes` stand for: a keyset, a reference, a sealed keyset.
    /// `constant`: whether they are a constant of the plan (a sealed keyset
    /// counts only as one: in a table's rows it could be anyone's).
    pub(crate) fn lookup(&self, bytes: &[u8], constant: bool) -> Result<Lookup, CipherError> {
        if is_sealed(bytes) {
            let opened = self.open_sealed(bytes, constant)?;
            let (Some(cipher), kind @ (SealedKind::Keyset | SealedKind::Reference)) =
                (opened.cipher, opened.kind)
            else {
                return Err(CipherError::Sealed(
                    "this sealed value is not a keyset".to_owned(),
                ));
            };
            let referenced = Referenced {
                keyset: opened.keyset,
                cipher,
            };
            return Ok(match kind {
                SealedKind::Reference => Lookup::Wrapped(referenced),
                _ => Lookup::Keyset(referenced),
            });
        }
        match self.handles.resolve(bytes) {
            Resolved::Live(referenced) => Ok(Lookup::Wrapped(referenced)),
            Resolved::Stale => Err(CipherError::StaleReference),
            Resolved::NotAReference => Ok(Lookup::Bytes),
        }
    }

    /// The raw key sealed in `bytes` (a constant of the plan), or `None`
    /// when `bytes` are not sealed: the key itself.
    pub(crate) fn raw_key(
        &self,
        bytes: &[u8],
        constant: bool,
    ) -> Result<Option<Arc<SecretBytes>>, CipherError> {
        if !is_sealed(bytes) {
            return Ok(None);
        }
        let opened = self.open_sealed(bytes, constant)?;
        match opened.kind {
            SealedKind::RawKey => Ok(Some(opened.keyset)),
            SealedKind::Keyset | SealedKind::Reference | SealedKind::TagKeys => Err(
                CipherError::Sealed("this sealed value is not a raw key".to_owned()),
            ),
        }
    }

    /// Sealed `bytes` opened, if they are a constant of the plan and this
    /// process opens seals.
    fn open_sealed(&self, bytes: &[u8], constant: bool) -> Result<Unsealed, CipherError> {
        if !constant {
            return Err(CipherError::Sealed(SEALED_DATA.to_owned()));
        }
        let unsealer = self
            .unsealer
            .as_ref()
            .ok_or_else(|| CipherError::Sealed(NO_UNSEALER.to_owned()))?;
        unsealer.open(bytes).map_err(CipherError::Sealed)
    }

    /// The prepared keyset for `bytes` (a keyset, a keyset reference or a
    /// sealed keyset), parsing a keyset on first sight.
    pub(crate) fn cipher(
        &self,
        bytes: &[u8],
        constant: bool,
    ) -> Result<Arc<KeysetCipher>, CipherError> {
        match self.lookup(bytes, constant)? {
            Lookup::Keyset(found) | Lookup::Wrapped(found) => return Ok(found.cipher),
            Lookup::Bytes => {}
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = entries.iter().position(|(k, _)| k.expose() == bytes) {
            let entry = entries.remove(i);
            let cipher = Arc::clone(&entry.1);
            entries.insert(0, entry);
            return Ok(cipher);
        }
        let cipher = Arc::new(KeysetCipher::from_keyset_bytes(bytes)?);
        entries.insert(0, (SecretBytes::from_slice(bytes), Arc::clone(&cipher)));
        entries.truncate(CAPACITY);
        Ok(cipher)
    }

    /// Calls `f` for each run of consecutive rows whose keyset bytes are
    /// equal, with the run's rows and its keyset (`None` for NULL keysets).
    /// A keyset that does not parse fails the call, naming `function`.
    pub(crate) fn for_each_run(
        &self,
        function: &str,
        keysets: &Bytes<'_>,
        rows: usize,
        mut f: impl FnMut(std::ops::Range<usize>, Option<&KeysetCipher>) -> Result<()>,
    ) -> Result<()> {
        let same_everywhere = rows > 0
            && match keysets {
                Bytes::Array(array) => all_rows_equal(array),
                Bytes::View(array) => all_views_equal(array),
                Bytes::Scalar(_) => false,
            };
        if same_everywhere && let Some(first) = keysets.get(0) {
            // The join-without-ON case: one comparison over the whole buffer
            // instead of one call per row.
            let cipher = self.cipher(first, false).map_err(|e| e.raise(function))?;
            return f(0..rows, Some(&cipher));
        }
        let mut start = 0;
        while start < rows {
            let current = keysets.get(start);
            let mut end = rows;
            if !keysets.is_constant() {
                end = start + 1;
                while end < rows && keysets.get(end) == current {
                    end += 1;
                }
            }
            match current {
                Some(bytes) => {
                    let constant = keysets.is_constant();
                    let cipher = self
                        .cipher(bytes, constant)
                        .map_err(|e| e.raise(function))?;
                    f(start..end, Some(&cipher))?;
                }
                None => f(start..end, None)?,
            }
            start = end;
        }
        Ok(())
    }
}

/// Whether every row of `array` holds the same non-NULL bytes. Values of one
/// length `l` laid end to end are all equal exactly when the buffer equals
/// itself shifted by `l`.
fn all_rows_equal(array: &BinaryArray) -> bool {
    if array.null_count() > 0 || array.is_empty() {
        return false;
    }
    let offsets = array.value_offsets();
    let len = offsets[1] - offsets[0];
    if len == 0 || offsets.windows(2).any(|w| w[1] - w[0] != len) {
        return false;
    }
    let start = offsets[0] as usize;
    let end = offsets[offsets.len() - 1] as usize;
    let bytes = &array.value_data()[start..end];
    let len = len as usize;
    bytes[len..] == bytes[..bytes.len() - len]
}

/// Whether every row of `array` holds the same non-NULL, non-empty bytes:
/// views that are all alike (a repeated short value, or one value every row
/// points at), else each value against the first.
fn all_views_equal(array: &BinaryViewArray) -> bool {
    if array.null_count() > 0 || array.is_empty() || array.value(0).is_empty() {
        return false;
    }
    let views = array.views();
    let first = views[0];
    if views.iter().all(|&v| v == first) {
        return true;
    }
    // Same length and prefix (the view's low 64 bits) before any bytes.
    let head = first as u64;
    views.iter().all(|&v| v as u64 == head)
        && (1..array.len()).all(|i| array.value(i) == array.value(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealhouse_crypto::{Algorithm, Keyset};

    #[test]
    fn parses_each_distinct_keyset_once_and_keeps_the_most_recent() {
        let cache = KeysetCache::default();
        let a = Keyset::new(Algorithm::AesGcm256, "a")
            .expect("new")
            .to_bytes();
        let first = cache.cipher(a.expose(), true).expect("parse");
        let again = cache.cipher(a.expose(), true).expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
        for i in 0..CAPACITY {
            let other = Keyset::new(Algorithm::AesGcm256, &i.to_string())
                .expect("new")
                .to_bytes();
            cache.cipher(other.expose(), true).expect("parse");
        }
        assert!(
            !Arc::ptr_eq(&first, &cache.cipher(a.expose(), true).expect("reparsed")),
            "evicted after CAPACITY others"
        );
        assert!(cache.cipher(b"junk", true).is_err());
    }

    #[test]
    fn all_rows_equal_needs_equal_bytes_in_every_row() {
        let same = BinaryArray::from_iter_values([b"abc"; 5]);
        assert!(all_rows_equal(&same));
        assert!(all_rows_equal(&same.slice(1, 3)));
        let last_differs = BinaryArray::from_iter_values([b"abc", b"abc", b"abd"]);
        assert!(!all_rows_equal(&last_differs));
        // Same bytes, different split: "ab"+"cab" is not "abc" twice.
        let resplit = BinaryArray::from_iter_values([&b"abc"[..], b"ab", b"cab"]);
        assert!(!all_rows_equal(&resplit));
        let periodic = BinaryArray::from_iter_values([b"ab", b"ba"]);
        assert!(!all_rows_equal(&periodic));
        let with_null = BinaryArray::from(vec![Some(&b"abc"[..]), None]);
        assert!(!all_rows_equal(&with_null));
        assert!(!all_rows_equal(&BinaryArray::from_iter_values([b""; 3])));
    }

    #[test]
    fn all_views_equal_needs_equal_bytes_in_every_row() {
        let long = [7u8; 40];
        let mut other = long;
        other[39] = 8;
        // Short values live in the view itself; long ones in a buffer,
        // copied once per row by a builder.
        for value in [&b"abc"[..], &long[..]] {
            let same = BinaryViewArray::from_iter_values([value; 5]);
            assert!(all_views_equal(&same));
            assert!(all_views_equal(&same.slice(1, 3)));
        }
        // Equal length and prefix, a different last byte.
        let last_differs = BinaryViewArray::from_iter_values([&long[..], &long[..], &other[..]]);
        assert!(!all_views_equal(&last_differs));
        let short_differs = BinaryViewArray::from_iter_values([b"abc", b"abd"]);
        assert!(!all_views_equal(&short_differs));
        let with_null = BinaryViewArray::from(vec![Some(&b"abc"[..]), None]);
        assert!(!all_views_equal(&with_null));
        assert!(!all_views_equal(&BinaryViewArray::from_iter_values(
            [b""; 3]
        )));
    }
}
