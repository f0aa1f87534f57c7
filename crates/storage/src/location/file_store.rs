//! [`FileStore`]: a location's table files as an object store, and the few
//! things the catalog does with them besides reading (moving a staged file
//! in, deleting, listing). Scans read through [`FileStore::object_store`];
//! the local disk and a bucket differ only here.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use super::StorageLocation;
use super::s3::{self, IoRuntime, S3Settings};
use crate::StorageError;

/// Files up to this size go up in one conditional PUT (`If-None-Match: *`);
/// larger ones as a multipart upload of [`PART_SIZE`] parts.
const SINGLE_PUT_MAX: u64 = 64 << 20;
const PART_SIZE: usize = 16 << 20;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;
/// Deletions in flight at once.
const DELETES_IN_FLIGHT: usize = 8;
/// How long opening waits for the bucket to answer before giving up.
const OPEN_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// A location's table files.
pub struct FileStore {
    location: StorageLocation,
    store: Arc<dyn ObjectStore>,
    /// What DataFusion knows the store as (`file:///`, `s3://<bucket>`).
    url: ObjectStoreUrl,
    /// Where keys start in the store: the data directory's path, or the
    /// bucket's prefix.
    base: ObjectPath,
    /// The runtime S3 requests run on (`None`: the local disk).
    io: Option<Arc<IoRuntime>>,
    /// `store` itself when it is the local disk.
    local: Option<Arc<LocalFileSystem>>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("location", &self.location.url())
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// The files of `location`. For a bucket, a client set up from
    /// `settings`, and one listing to check that the bucket answers: wrong
    /// credentials, a missing bucket or an unreachable endpoint fail here,
    /// naming the URL.
    pub fn open(location: &StorageLocation, settings: &S3Settings) -> Result<Self, StorageError> {
        match location {
            StorageLocation::Local(root) => {
                let local = Arc::new(LocalFileSystem::new());
                Ok(Self {
                    location: location.clone(),
                    store: Arc::clone(&local) as Arc<dyn ObjectStore>,
                    url: ObjectStoreUrl::local_filesystem(),
                    base: ObjectPath::from(root.to_string_lossy().trim_start_matches('/')),
                    io: None,
                    local: Some(local),
                })
            }
            StorageLocation::S3 { bucket, prefix } => {
                let url = location.url();
                let (store, io) = s3::client(bucket, &url, settings)?;
                let files = Self {
                    location: location.clone(),
                    store,
                    url: ObjectStoreUrl::parse(format!("s3://{bucket}")).map_err(|e| {
                        StorageError::ObjectStore {
                            url: url.clone(),
                            what: format!("is not a URL DataFusion takes: {e}"),
                        }
                    })?,
                    base: ObjectPath::from(prefix.as_str()),
                    io: Some(io),
                    local: None,
                };
                files.check_reachable()?;
                Ok(files)
            }
        }
    }

    /// Lists one key under the prefix, in bounded time.
    fn check_reachable(&self) -> Result<(), StorageError> {
        let store = Arc::clone(&self.store);
        let base = self.base.clone();
        let answer = self.run(async move {
            let first = async move { store.list(Some(&base)).next().await.transpose() };
            tokio::time::timeout(OPEN_CHECK_TIMEOUT, first).await
        })?;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.failed(format!(
                "does not answer as a bucket should: {}",
                explain(&e)
            ))),
            Err(_) => Err(self.failed(format!(
                "did not answer within {} s; check AWS_ENDPOINT_URL and that the store is running",
                OPEN_CHECK_TIMEOUT.as_secs()
            ))),
        }
    }

    fn failed(&self, what: String) -> StorageError {
        StorageError::ObjectStore {
            url: self.location.url(),
            what,
        }
    }

    /// Runs object-store work to completion from a synchronous caller.
    fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, StorageError> {
        match &self.io {
            Some(io) => io
                .run(work)
                .ok_or_else(|| self.failed("an I/O task ended without an answer".into())),
            // The local file system's store works without a runtime.
            None => Ok(futures::executor::block_on(work)),
        }
    }

    /// Where the files are.
    pub fn location(&self) -> &StorageLocation {
        &self.location
    }

    /// The store the files are read through.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The same store as the local file system, when the files are on the
    /// local disk (`None` for a bucket).
    pub(crate) fn local_files(&self) -> Option<Arc<LocalFileSystem>> {
        self.local.clone()
    }

    /// The URL DataFusion finds [`Self::object_store`] under, once
    /// [`Self::register`]ed.
    pub fn url(&self) -> &ObjectStoreUrl {
        &self.url
    }

    /// Makes the store known to `runtime` under [`Self::url`].
    pub fn register(&self, runtime: &RuntimeEnv) {
        if self.io.is_some() {
            runtime.register_object_store(self.url.as_ref(), Arc::clone(&self.store));
        }
    }

    /// The object path of `key` (`tables/<id>/<file>.parquet`).
    pub fn object_path(&self, key: &str) -> ObjectPath {
        key.split('/')
            .filter(|part| !part.is_empty())
            .fold(self.base.clone(), |path, part| path.join(part))
    }

    /// The key of an object path under this location (`None`: elsewhere).
    fn key_of(&self, path: &ObjectPath) -> Option<String> {
        let parts: Vec<_> = path.prefix_match(&self.base)?.collect();
        Some(
            parts
                .iter()
                .map(|p| p.as_ref())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// The file of `key` on the local disk (`None` on object storage).
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.location.local_root().map(|root| root.join(key))
    }

    /// How another engine names the file of `key`: `s3://bucket/prefix/key`,
    /// or its absolute local path.
    pub fn external_url(&self, key: &str) -> String {
        match &self.location {
            StorageLocation::Local(root) => root.join(key).display().to_string(),
            StorageLocation::S3 { bucket, .. } => {
                format!("s3://{bucket}/{}", self.object_path(key))
            }
        }
    }

    /// Puts the finished file at `staged` (local) under `key`: on the local
    /// disk flushed, moved in and its directory flushed; on a bucket
    /// uploaded, as a new object only. Returns its size. Nothing names the
    /// file until the catalog commits it.
    pub(crate) async fn put_staged(&self, staged: &Path, key: &str) -> Result<u64, StorageError> {
        match &self.location {
            StorageLocation::Local(root) => {
                let target = root.join(key);
                let dir = target.parent().unwrap_or(root);
                std::fs::create_dir_all(dir)
                    .map_err(StorageError::io("cannot create table directory", dir))?;
                std::fs::File::open(staged)
                    .and_then(|f| f.sync_all())
                    .map_err(StorageError::io("cannot flush staged file", staged))?;
                std::fs::rename(staged, &target)
                    .map_err(StorageError::io("cannot move staged file", staged))?;
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(StorageError::io("cannot flush directory", dir))?;
                Ok(std::fs::metadata(&target)
                    .map_err(StorageError::io("cannot stat", &target))?
                    .len())
            }
            StorageLocation::S3 { .. } => {
                let size = std::fs::metadata(staged)
                    .map_err(StorageError::io("cannot stat staged file", staged))?
                    .len();
                let path = self.object_path(key);
                let uploaded = if size <= SINGLE_PUT_MAX {
                    let bytes = std::fs::read(staged)
                        .map_err(StorageError::io("cannot read staged file", staged))?;
                    let create = PutOptions {
                        mode: PutMode::Create,
                        ..PutOptions::default()
                    };
                    self.store
                        .put_opts(&path, PutPayload::from(Bytes::from(bytes)), create)
                        .await
                        .map(|_| ())
                } else {
                    self.put_multipart(staged, &path).await
                };
                uploaded
                    .map_err(|e| self.failed(format!("cannot upload {path}: {}", explain(&e))))?;
                Ok(size)
            }
        }
    }

    /// A multipart upload of the file at `staged`. (Its key is a fresh
    /// random id, so it cannot replace an object anyone relies on; S3 has
    /// no create-only multipart completion object_store exposes.)
    async fn put_multipart(&self, staged: &Path, path: &ObjectPath) -> object_store::Result<()> {
        let upload = self.store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut file = std::fs::File::open(staged).map_err(|e| generic(path, e))?;
        let mut chunk = vec![0u8; PART_SIZE];
        loop {
            let n = read_full(&mut file, &mut chunk).map_err(|e| generic(path, e))?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            writer.write(&chunk[..n]);
        }
        writer.finish().await.map(|_| ())
    }

    /// Deletes the files of `keys`; a file already gone is fine. Returns
    /// the keys whose deletion failed (left for a later attempt).
    pub(crate) fn delete(&self, keys: &[String]) -> Vec<String> {
        match &self.location {
            StorageLocation::Local(root) => keys
                .iter()
                .filter(|key| match std::fs::remove_file(root.join(key)) {
                    Ok(()) => false,
                    Err(e) => e.kind() != std::io::ErrorKind::NotFound,
                })
                .cloned()
                .collect(),
            StorageLocation::S3 { .. } => {
                let store = Arc::clone(&self.store);
                let work: Vec<(String, ObjectPath)> = keys
                    .iter()
                    .map(|k| (k.clone(), self.object_path(k)))
                    .collect();
                let failed = self.run(async move {
                    futures::stream::iter(work)
                        .map(|(key, path)| {
                            let store = Arc::clone(&store);
                            async move {
                                match store.delete(&path).await {
                                    Ok(()) | Err(object_store::Error::NotFound { .. }) => None,
                                    Err(_) => Some(key),
                                }
                            }
                        })
                        .buffer_unordered(DELETES_IN_FLIGHT)
                        .filter_map(|failed| async move { failed })
                        .collect::<Vec<String>>()
                        .await
                });
                failed.unwrap_or_else(|_| keys.to_vec())
            }
        }
    }

    /// Every file under `tables/`, with its key and when it was last
    /// written.
    pub(crate) fn list_table_files(&self) -> Result<Vec<(String, SystemTime)>, StorageError> {
        let store = Arc::clone(&self.store);
        let under = self.object_path("tables");
        let listed =
            self.run(async move { store.list(Some(&under)).try_collect::<Vec<_>>().await })?;
        let listed = match listed {
            Ok(listed) => listed,
            // A data directory without tables has no tables/ directory.
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.failed(format!("cannot list table files: {}", explain(&e)))),
        };
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                let key = self.key_of(&meta.location)?;
                Some((key, SystemTime::from(meta.last_modified)))
            })
            .collect())
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn generic(path: &ObjectPath, e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "sealhouse",
        source: format!("{path}: {e}").into(),
    }
}

/// What an object-store error means for the user, with what to do. (S3's
/// refusals often reach object_store as generic errors carrying the HTTP
/// status and the S3 error code, so those are looked at too.)
pub(crate) fn explain(e: &object_store::Error) -> String {
    let text = e.to_string();
    let says = |codes: &[&str]| codes.iter().any(|c| text.contains(c));
    match e {
        object_store::Error::NotFound { .. } => {
            format!("not found ({text}); check the bucket's name and that it exists")
        }
        object_store::Error::Unauthenticated { .. }
        | object_store::Error::PermissionDenied { .. } => refused(&text),
        object_store::Error::AlreadyExists { .. } => {
            format!("an object already exists there ({text}); nothing was replaced")
        }
        _ if says(&[
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AccessDenied",
            "403 Forbidden",
        ]) =>
        {
            refused(&text)
        }
        _ if says(&["NoSuchBucket"]) => {
            format!("no such bucket ({text}); check the bucket's name and that it exists")
        }
        _ => text,
    }
}

fn refused(text: &str) -> String {
    format!("access refused ({text}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
}
