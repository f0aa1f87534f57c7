//! Plain files' block-tag keys where a scan is read: derived from the
//! catalog key by the warehouse's own processes, or given with the plan by
//! the coordinator that planned it, sealed with a [`PlanSealer`] and
//! opened with a [`PlanOpener`] (a cluster's executors, which hold no key
//! of the catalog).
//!
//! The given keys are each file's own tag key (an HKDF expansion of the
//! catalog key for that file id), never the catalog key: a plan's keys
//! check that plan's files and nothing else.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::error::{DataFusionError, Result};
use sealhouse_crypto::SecretBytes;
use zeroize::Zeroizing;

use super::ScanDescriptor;

use crate::integrity::block_tags::{BlockTagError, BlockTagKey, BlockVerifier};
use crate::{Catalog, DataFile};

/// Seals secrets a plan carries to the processes that run it. The SQL
/// layer implements it with the warehouse's cluster-keyset data keys:
/// nothing sealed opens without a KMS Decrypt.
pub trait PlanSealer: Send + Sync {
    /// `secret` sealed for the executors of a plan made now.
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, String>;
}

/// Opens what a [`PlanSealer`] sealed, where the plan runs.
pub trait PlanOpener: Send + Sync {
    /// What `sealed` holds, if it is authentic and has not expired.
    fn open(&self, sealed: &[u8]) -> Result<SecretBytes, String>;
}

/// Where a scan gets plain files' block-tag keys.
#[derive(Clone, Copy)]
pub enum BlockTagKeys<'a> {
    /// Derived from the catalog's key.
    Catalog(&'a Catalog),
    /// Given with the plan.
    Given(&'a GivenTagKeys),
}

impl fmt::Debug for BlockTagKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Catalog(_) => "BlockTagKeys::Catalog",
            Self::Given(_) => "BlockTagKeys::Given",
        })
    }
}

impl BlockTagKeys<'_> {
    /// The checker of a committed plain file's bytes, if it has tags. A
    /// tagged file whose key was not given is an error, never read
    /// unchecked.
    pub fn verifier(&self, file: &DataFile) -> Result<Option<BlockVerifier>, String> {
        let (Some(tags), Some(id)) = (&file.block_tags, file.file_id()) else {
            return Ok(None);
        };
        let key = match self {
            Self::Catalog(catalog) => catalog.key().file_tag_key(id),
            Self::Given(given) => given.key(id).ok_or_else(|| {
                "its block-tag key is not among those its plan carries".to_owned()
            })?,
        };
        BlockVerifier::new(key, std::sync::Arc::clone(tags), file.bytes)
            .map(Some)
            .map_err(|e: BlockTagError| e.to_string())
    }
}

/// Block-tag keys a plan carries, by file id. No printing, no `Clone`;
/// zeroed on drop.
pub struct GivenTagKeys(HashMap<String, Zeroizing<[u8; 32]>>);

impl fmt::Debug for GivenTagKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GivenTagKeys({} files)", self.0.len())
    }
}

impl GivenTagKeys {
    /// The keys of `files`' tagged files, derived from `catalog`'s key, as
    /// bytes to seal: for each, `u16 BE id length | id | key (32)`.
    pub(crate) fn encode(catalog: &Catalog, files: &[DataFile]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        for file in files.iter().filter(|f| f.block_tags.is_some()) {
            let Some(id) = file.file_id() else { continue };
            let Ok(len) = u16::try_from(id.len()) else {
                continue;
            };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(catalog.key().file_tag_key(id).expose());
        }
        out
    }

    /// The keys in `bytes` ([`GivenTagKeys::encode`]'s).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        let malformed = || "the plan's block-tag keys are malformed".to_owned();
        let mut keys = HashMap::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(malformed)?;
            let len = usize::from(u16::from_be_bytes(*len));
            if tail.len() < len + 32 {
                return Err(malformed());
            }
            let (id, tail) = tail.split_at(len);
            let (key, tail) = tail.split_at(32);
            let id = std::str::from_utf8(id).map_err(|_| malformed())?;
            let mut k = Zeroizing::new([0u8; 32]);
            k.copy_from_slice(key);
            keys.insert(id.to_owned(), k);
            rest = tail;
        }
        Ok(Self(keys))
    }

    /// The tag keys of `descriptor`'s tagged files, derived from
    /// `catalog`'s key and sealed with `sealer`, in base64 for the plan;
    /// `None` when no file has tags.
    pub(crate) fn seal(
        catalog: &Catalog,
        sealer: &dyn PlanSealer,
        descriptor: &ScanDescriptor,
    ) -> Result<Option<String>> {
        if !descriptor.files.iter().any(|f| f.block_tags.is_some()) {
            return Ok(None);
        }
        let files = descriptor
            .data_files()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let sealed = sealer.seal(&Self::encode(catalog, &files)).map_err(|e| {
            DataFusionError::Execution(format!(
                "cannot seal the block-tag keys of {}.{} for the cluster: {e}",
                descriptor.project, descriptor.table
            ))
        })?;
        Ok(Some(STANDARD.encode(sealed)))
    }

    /// The keys [`GivenTagKeys::seal`] sealed into the plan of a scan of
    /// `descriptor`'s table, opened with `opener`.
    pub(crate) fn open(
        sealed: &str,
        opener: &dyn PlanOpener,
        descriptor: &ScanDescriptor,
    ) -> Result<Self> {
        let table = format!("{}.{}", descriptor.project, descriptor.table);
        let sealed = STANDARD.decode(sealed).map_err(|_| {
            DataFusionError::Execution(format!("the block-tag keys of {table} are not base64"))
        })?;
        let opened = opener.open(&sealed).map_err(|e| {
            DataFusionError::Execution(format!("cannot open the block-tag keys of {table}: {e}"))
        })?;
        Self::decode(opened.expose()).map_err(DataFusionError::Execution)
    }

    fn key(&self, file_id: &str) -> Option<BlockTagKey> {
        self.0.get(file_id).map(|k| BlockTagKey::from_bytes(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_keys_are_each_files_own_and_check_as_the_catalogs_do() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog =
            Catalog::open(dir.path(), crate::CatalogKey::random().expect("key")).expect("opens");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let file = |id: &str, tagged: bool| DataFile {
            key: format!("tables/1/{id}.parquet"),
            rows: 1,
            bytes: data.len() as u64,
            encryption: None,
            pinned_sha256: None,
            block_tags: tagged.then(|| {
                let mut w = crate::integrity::block_tags::BlockTagWriter::new(
                    Vec::new(),
                    catalog.key().file_tag_key(id),
                );
                w.write_all(&data).expect("write");
                let (_, tags) = w.finish().expect("finish");
                std::sync::Arc::from(tags)
            }),
        };
        let files = [file("aa", true), file("bb", false), file("cc", true)];
        let encoded = GivenTagKeys::encode(&catalog, &files);
        // Two keys, never the catalog key itself.
        assert_eq!(encoded.len(), 2 * (2 + 2 + 32));
        let given = GivenTagKeys::decode(&encoded).expect("decodes");
        assert_eq!(format!("{given:?}"), "GivenTagKeys(2 files)");
        for f in &files {
            let by_catalog = BlockTagKeys::Catalog(&catalog)
                .verifier(f)
                .expect("catalog");
            let by_plan = BlockTagKeys::Given(&given).verifier(f).expect("given");
            assert_eq!(by_catalog.is_some(), by_plan.is_some());
            if let Some(v) = by_plan {
                v.verify(0, &data[..v.len().min(256 * 1024) as usize])
                    .expect("the given key checks the file");
            }
        }
        // A file the plan carries no key for is refused.
        let other = file("dd", true);
        let e = BlockTagKeys::Given(&given)
            .verifier(&other)
            .expect_err("no key");
        assert!(e.contains("not among those its plan carries"), "{e}");
        // Cut or padded encodings do not decode.
        for bad in [&encoded[..encoded.len() - 1], &encoded[..1]] {
            assert!(GivenTagKeys::decode(bad).is_err());
        }
    }
}
