//! Integrity of what the data directory holds, under a key it does not hold.
//!
//! An attacker who can write the data directory (or a backup of it) but not
//! the keys must never make a read return rows other than the table's own.
//! The data files protect themselves (AES256 by Parquet modular encryption,
//! AESCTR/RC4 by their segment MACs, plain files by the block tags of
//! [`block_tags`]), and the catalog pins each one (its footer or header
//! digest, its tags). What is left is the catalog itself: its file lists,
//! row counts, each file's encryption, and each project's encryption
//! setting. This module MACs them with a [`CatalogKey`] derived from the KMS
//! root key, which lives outside the data directory:
//!
//! ```text
//! table_mac   = HMAC-SHA256(K_table, "sealhouse table v1" || id || project || name || columns
//!                                    || created_at || n || file_1 || ... || file_n)
//!                 file_i = relative path || rows || bytes || encryption || pinned digest || block tags
//!                 (files in path order; every field length-prefixed)
//! project_mac = HMAC-SHA256(K_project, "sealhouse project v1" || name || created_at || properties)
//! seal        = HMAC-SHA256(K_seal, "sealhouse catalog sealed v1")             (files on local disk)
//!             = HMAC-SHA256(K_seal, "sealhouse catalog sealed at v1" || storage URL) (in a bucket)
//! capability  = Ed25519(seed = K_scan, "sealhouse scan capability v2" || scan || expires_at)
//! ```
//!
//! Scan capabilities are signatures, not MACs: a cluster's executors check
//! them with the public half ([`crate::CapabilityKey`]) and hold no key of
//! the catalog.
//!
//! `K_*` are HKDF-SHA256 expansions of the catalog key, one per purpose. The
//! seal in the catalog's `meta` table says "this catalog is MACed, under this
//! key": without it a catalog is a legacy one, sealed only when the caller
//! vouches for it ([`crate::Catalog::open_sealing_legacy`]), because an
//! attacker can always delete rows — including a marker.
//!
//! What this does not stop: restoring the whole data directory from an
//! older backup (catalog and files together) is a restore, and reads the
//! backup's rows; and deleting things (a table, a project) is noticed as
//! their absence, not as other rows.

pub mod block_tags;

use std::fmt;

use ring::signature::{Ed25519KeyPair, KeyPair};
use ring::{hkdf, hmac};
use sealhouse_crypto::SecretBytes;
use subtle::ConstantTimeEq;

use crate::StorageError;

/// Length of a catalog key.
pub const CATALOG_KEY_LEN: usize = 32;

/// The key the catalog's MACs and plain files' block tags are made with.
///
/// Derive it from the KMS root key (`RootKey::catalog_key` in
/// sealhouse-kms), never store it in the data directory. No `Clone`, no
/// printing of its bytes; the ring keys derived from it live as long as the
/// catalog.
pub struct CatalogKey {
    table: hmac::Key,
    project: hmac::Key,
    seal: hmac::Key,
    scan: Ed25519KeyPair,
    file_tags: hkdf::Prk,
}

impl CatalogKey {
    /// The catalog key from its 32 bytes.
    pub fn new(key: &SecretBytes) -> Result<Self, StorageError> {
        if key.len() != CATALOG_KEY_LEN {
            return Err(StorageError::Corrupt(format!(
                "a catalog key is {CATALOG_KEY_LEN} bytes, not {}",
                key.len()
            )));
        }
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealhouse catalog key v1").extract(key.expose());
        let mac_key = |purpose: &[u8]| {
            let info = [purpose];
            let okm = prk
                .expand(&info, hmac::HMAC_SHA256)
                // Invariant: 32 bytes of HKDF-SHA256 output, far below its limit.
                .expect("HKDF-SHA256 expansion of 32 bytes");
            hmac::Key::from(okm)
        };
        let scan = {
            let info: [&[u8]; 1] = [b"scan capability signing key"];
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            prk.expand(&info, hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut seed[..]))
                .expect("HKDF-SHA256 expansion of 32 bytes");
            Ed25519KeyPair::from_seed_unchecked(&seed[..]).map_err(|_| {
                StorageError::Corrupt("the scan-signing key does not derive".to_owned())
            })?
        };
        let info: [&[u8]; 1] = [b"plain file block tags"];
        let file_tags = hkdf::Prk::from(
            prk.expand(&info, hkdf::HKDF_SHA256)
                .expect("HKDF-SHA256 expansion of 32 bytes"),
        );
        Ok(Self {
            table: mac_key(b"table state"),
            project: mac_key(b"project setting"),
            seal: mac_key(b"catalog seal"),
            scan,
            file_tags,
        })
    }

    /// A fresh random key, for tests and throwaway catalogs: a catalog
    /// sealed under it cannot be opened again without it.
    pub fn random() -> Result<Self, StorageError> {
        let bytes = SecretBytes::random(CATALOG_KEY_LEN)
            .map_err(|e| StorageError::Corrupt(format!("no random catalog key: {e}")))?;
        Self::new(&bytes)
    }

    /// The seal of a catalog whose table files are at `storage_url` (`None`:
    /// the local disk, the seal every catalog had before object storage).
    pub(crate) fn seal_at(&self, storage_url: Option<&str>) -> [u8; 32] {
        match storage_url {
            None => sign(&self.seal, &[b"sealhouse catalog sealed v1"]),
            Some(url) => {
                let mut fields = Fields::new(b"sealhouse catalog sealed at v1");
                fields.str(url);
                sign(&self.seal, &[&fields.0])
            }
        }
    }

    pub(crate) fn verify_seal_at(&self, seal: &[u8], storage_url: Option<&str>) -> bool {
        bool::from(self.seal_at(storage_url).as_slice().ct_eq(seal))
    }

    pub(crate) fn table_mac(&self, state: &TableState<'_>) -> [u8; 32] {
        let mut fields = Fields::new(b"sealhouse table v1");
        fields.i64(state.id);
        fields.str(state.project);
        fields.str(state.name);
        fields.str(state.columns);
        fields.i64(state.created_at);
        let mut files: Vec<&FileRecord<'_>> = state.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(b.path));
        fields.u64(files.len() as u64);
        for f in files {
            fields.str(f.path);
            fields.u64(f.rows);
            fields.u64(f.bytes);
            fields.str(f.encryption.unwrap_or(""));
            fields.bytes(f.pinned.map(|d| d.as_slice()).unwrap_or(&[]));
            fields.bytes(f.block_tags.unwrap_or(&[]));
        }
        sign(&self.table, &[&fields.0])
    }

    pub(crate) fn project_mac(&self, name: &str, created_at: i64, properties: &str) -> [u8; 32] {
        let mut fields = Fields::new(b"sealhouse project v1");
        fields.str(name);
        fields.i64(created_at);
        fields.str(properties);
        sign(&self.project, &[&fields.0])
    }

    pub(crate) fn verify(&self, expected: &[u8; 32], stored: Option<&[u8]>) -> bool {
        stored.is_some_and(|s| bool::from(expected.as_slice().ct_eq(s)))
    }

    /// The signature of a scan sent to another process: over what it reads
    /// (`scan`, its encoding) and until when (`expires_at`, Unix seconds).
    /// Only holders of the catalog key make one; anyone with
    /// [`CatalogKey::capability_key`] checks it.
    pub(crate) fn scan_capability(&self, scan: &[u8], expires_at: i64) -> Vec<u8> {
        self.scan
            .sign(&capability_message(scan, expires_at))
            .as_ref()
            .to_vec()
    }

    /// The public key scan capabilities are checked with.
    pub fn capability_key(&self) -> crate::CapabilityKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.scan.public_key().as_ref());
        crate::CapabilityKey::from_bytes(public)
    }

    /// The block-tag key of the file with `file_id`.
    pub(crate) fn file_tag_key(&self, file_id: &str) -> block_tags::BlockTagKey {
        block_tags::BlockTagKey::derive(&self.file_tags, file_id)
    }
}

impl fmt::Debug for CatalogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CatalogKey(redacted)")
    }
}

/// What a table's MAC covers.
pub(crate) struct TableState<'a> {
    pub(crate) id: i64,
    pub(crate) project: &'a str,
    pub(crate) name: &'a str,
    pub(crate) columns: &'a str,
    pub(crate) created_at: i64,
    pub(crate) files: &'a [FileRecord<'a>],
}

/// One file as the catalog records it.
pub(crate) struct FileRecord<'a> {
    pub(crate) path: &'a str,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) encryption: Option<&'a str>,
    pub(crate) pinned: Option<&'a [u8; 32]>,
    pub(crate) block_tags: Option<&'a [u8]>,
}

/// What a scan capability signs.
pub(crate) fn capability_message(scan: &[u8], expires_at: i64) -> Vec<u8> {
    let mut fields = Fields::new(b"sealhouse scan capability v2");
    fields.bytes(scan);
    fields.i64(expires_at);
    fields.0
}

/// An unambiguous encoding: every variable-length field is length-prefixed.
struct Fields(Vec<u8>);

impl Fields {
    fn new(domain: &[u8]) -> Self {
        let mut f = Self(Vec::with_capacity(256));
        f.bytes(domain);
        f
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u64).to_be_bytes());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
}

fn sign(key: &hmac::Key, parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(key);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CatalogKey {
        CatalogKey::new(&SecretBytes::from_slice(&[byte; 32])).expect("key")
    }

    fn state<'a>(files: &'a [FileRecord<'a>]) -> TableState<'a> {
        TableState {
            id: 7,
            project: "p",
            name: "t",
            columns: "[]",
            created_at: 1,
            files,
        }
    }

    fn file(path: &str, rows: u64) -> FileRecord<'_> {
        FileRecord {
            path,
            rows,
            bytes: 100,
            encryption: None,
            pinned: None,
            block_tags: None,
        }
    }

    #[test]
    fn table_mac_covers_every_field_and_not_file_order() {
        let k = key(1);
        let base = [file("a", 1), file("b", 2)];
        let mac = k.table_mac(&state(&base));
        let reordered = [file("b", 2), file("a", 1)];
        assert_eq!(mac, k.table_mac(&state(&reordered)));
        let changed: Vec<Vec<FileRecord<'_>>> = vec![
            vec![file("a", 1)],
            vec![file("a", 1), file("b", 3)],
            vec![file("a", 1), file("b", 2), file("c", 0)],
            vec![file("a", 1), file("c", 2)],
        ];
        for files in &changed {
            assert_ne!(mac, k.table_mac(&state(files)));
        }
        let mut enc = [file("a", 1), file("b", 2)];
        enc[0].encryption = Some("AES256");
        assert_ne!(mac, k.table_mac(&state(&enc)));
        let digest = [9u8; 32];
        let mut pinned = [file("a", 1), file("b", 2)];
        pinned[1].pinned = Some(&digest);
        assert_ne!(mac, k.table_mac(&state(&pinned)));
        let mut other = state(&base);
        other.id = 8;
        assert_ne!(mac, k.table_mac(&other));
        assert_ne!(mac, key(2).table_mac(&state(&base)));
    }

    #[test]
    fn fields_are_length_prefixed() {
        // "ab" + "c" must differ from "a" + "bc".
        let k = key(1);
        assert_ne!(k.project_mac("ab", 0, "c"), k.project_mac("a", 0, "bc"));
    }

    #[test]
    fn seal_is_per_key() {
        assert!(key(1).verify_seal_at(&key(1).seal_at(None), None));
        assert!(!key(2).verify_seal_at(&key(1).seal_at(None), None));
        assert!(!key(1).verify_seal_at(&[0; 31], None));
        // A seal is bound to the storage URL: not valid for another, nor
        // for the local disk.
        let at = key(1).seal_at(Some("s3://bucket/a"));
        assert!(key(1).verify_seal_at(&at, Some("s3://bucket/a")));
        assert!(!key(1).verify_seal_at(&at, Some("s3://bucket/b")));
        assert!(!key(1).verify_seal_at(&at, None));
        assert!(!key(1).verify_seal_at(&key(1).seal_at(None), Some("s3://bucket/a")));
    }

    /// The block tags of a 300,000-byte file (two blocks) under catalog key
    /// 32 × 0x11, file id 000102…0f, data `(7·i) mod 251`, in both versions
    /// of the tag list: computed independently in Python (hmac/hashlib for
    /// HKDF, the blake3 package for version 1, pyca/cryptography's AESGCM
    /// for version 2's GMAC) from docs/formats.md, "Plain data files: block
    /// tags".
    #[test]
    fn block_tags_are_pinned() {
        use std::io::Write;
        let k = key(0x11);
        let data: Vec<u8> = (0..300_000).map(|i| (i * 7 % 251) as u8).collect();
        let id = "000102030405060708090a0b0c0d0e0f";
        let hex = |tags: Vec<u8>| -> String { tags.iter().map(|b| format!("{b:02x}")).collect() };
        let mut w = block_tags::BlockTagWriter::new(Vec::new(), k.file_tag_key(id));
        w.write_all(&data).expect("write");
        assert_eq!(
            hex(w.finish().expect("finish").1),
            "021a65c3caa2f4d9cfba9490d006b5cc54dce5b7d0821ae885c83fb10849ca94b7"
        );
        let mut w = block_tags::BlockTagWriter::version_1(Vec::new(), k.file_tag_key(id));
        w.write_all(&data).expect("write");
        assert_eq!(
            hex(w.finish().expect("finish").1),
            "506ee3c5a86e13bf6ad2b87af10cb4fff27b2219d216325ac371a6bbe025bb70"
        );
    }

    #[test]
    fn wrong_length_and_debug() {
        assert!(CatalogKey::new(&SecretBytes::from_slice(&[1; 16])).is_err());
        let shown = format!("{:?}", key(0xAB));
        assert_eq!(shown, "CatalogKey(redacted)");
    }
}
