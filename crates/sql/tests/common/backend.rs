//! The two places a warehouse's table files can be: the local disk (the
//! data directory) and a bucket of a real S3 server on loopback (s3s-fs).
//! A test that must hold on both is written once over a [`Backend`] and
//! listed in [`on_both_backends!`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealhouse_storage::{Catalog, S3Settings, StorageLocation, StorageOptions};
use sealhouse_test_s3::TestS3;

/// The bucket, and the prefix the warehouse's files go under.
pub const BUCKET: &str = "warehouse";
pub const PREFIX: &str = "sealhouse/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// Where a test's table files go; the S3 server lives as long as it.
pub struct TableFiles {
    pub backend: Backend,
    server: Option<(TestS3, tempfile::TempDir)>,
}

impl TableFiles {
    pub fn new(backend: Backend) -> Self {
        let server = (backend == Backend::S3).then(|| {
            let root = tempfile::tempdir().expect("s3 root");
            let server = TestS3::start(root.path(), 0, &[BUCKET]).expect("test S3 server");
            (server, root)
        });
        Self { backend, server }
    }

    /// How a catalog is opened onto these files.
    pub fn options(&self) -> StorageOptions {
        match &self.server {
            None => StorageOptions::default(),
            Some((server, _)) => StorageOptions {
                location: Some(StorageLocation::S3 {
                    bucket: BUCKET.into(),
                    prefix: PREFIX.into(),
                }),
                s3: server
                    .client_env()
                    .into_iter()
                    .fold(S3Settings::default(), |s, (name, value)| {
                        s.with(name, value)
                    }),
            },
        }
    }

    /// The catalog of the data directory `data_dir`, its files here.
    pub fn open(&self, data_dir: &Path) -> Arc<Catalog> {
        Catalog::open_with_storage(data_dir, super::catalog_key(), &self.options())
            .expect("catalog")
    }

    /// The local file holding the table file `key` of the data directory
    /// `data_dir` (for an S3 bucket, the server's file of the object): what
    /// an attacker with write access to the disk or the bucket edits.
    pub fn path_of(&self, data_dir: &Path, key: &str) -> PathBuf {
        match &self.server {
            None => data_dir.join(key),
            Some((server, _)) => server.object_file(BUCKET, &format!("{PREFIX}/{key}")),
        }
    }

    /// Every stored table file, with its bytes.
    pub fn stored(&self, data_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    out.push((path.clone(), std::fs::read(&path).expect("read")));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path_of(data_dir, "tables"), &mut out);
        out
    }
}

/// `mod name { #[test] fn local_disk(); #[test] fn s3(); }` for each test
/// function `name(Backend)` listed.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn local_disk() {
                    super::$name($crate::common::Backend::Local)
                }
                #[test]
                fn s3() {
                    super::$name($crate::common::Backend::S3)
                }
            }
        )*
    };
}
