//! Keysets parsed once per distinct value, not once per row.
//!
//! A query like the spec's `ENHANCED_SYM_ENCRYPT(k.ks, t.tel) ... JOIN k`
//! passes the keyset as a column whose every row holds the same bytes. The
//! functions walk such a column in runs of equal bytes, and each distinct
//! keyset is parsed and its ciphers set up once per session (the cache lives
//! as long as the functions registered in it).

use std::sync::{Arc, Mutex};

use sealhouse_crypto::{KeysetCipher, SecretBytes};

use datafusion::error::Result;

use super::args::{Bytes, exec};

/// How many distinct keysets stay prepared.
const CAPACITY: usize = 16;

/// Prepared keysets, most recently used first.
#[derive(Default)]
pub(crate) struct KeysetCache {
    entries: Mutex<Vec<(SecretBytes, Arc<KeysetCipher>)>>,
}

impl KeysetCache {
    /// The prepared keyset for `bytes`, parsing it on first sight.
    pub(crate) fn cipher(
        &self,
        bytes: &[u8],
    ) -> Result<Arc<KeysetCipher>, sealhouse_crypto::Error> {
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
        let mut start = 0;
        while start < rows {
            let current = keysets.get(start);
            let mut end = rows;
            if let Bytes::Array(_) = keysets {
                end = start + 1;
                while end < rows && keysets.get(end) == current {
                    end += 1;
                }
            }
            match current {
                Some(bytes) => {
                    let cipher = self.cipher(bytes).map_err(|e| exec(function, e))?;
                    f(start..end, Some(&cipher))?;
                }
                None => f(start..end, None)?,
            }
            start = end;
        }
        Ok(())
    }
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
        let first = cache.cipher(a.expose()).expect("parse");
        let again = cache.cipher(a.expose()).expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
        for i in 0..CAPACITY {
            let other = Keyset::new(Algorithm::AesGcm256, &i.to_string())
                .expect("new")
                .to_bytes();
            cache.cipher(other.expose()).expect("parse");
        }
        assert!(
            !Arc::ptr_eq(&first, &cache.cipher(a.expose()).expect("reparsed")),
            "evicted after CAPACITY others"
        );
        assert!(cache.cipher(b"junk").is_err());
    }
}
