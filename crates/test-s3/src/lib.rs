//! A real S3 server on loopback for tests: `s3s-fs` (objects as files under
//! a directory) behind `s3s`'s SigV4 authentication, on its own runtime
//! thread. It honours conditional writes (`If-None-Match: *`, `If-Match`),
//! multipart uploads and range reads, which is what the warehouse's object
//! storage relies on; it is not a mock of `object_store`. (GET bodies are
//! read in 1 MiB blocks rather than s3s-fs's 4 KiB: see `objects.rs`.)
//!
//! A bucket is a directory under the server's root, and an object the file
//! at `<root>/<bucket>/<key>`: tests that play an attacker with write access
//! to the bucket edit those files.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s_fs::FileSystem;
use tokio::net::TcpListener;
use tokio::sync::Notify;

mod objects;

/// The access key id the server accepts.
pub const ACCESS_KEY_ID: &str = "sealhouse-test-s3";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "sealhouse-test-s3-secret";
/// The region clients sign for (s3s accepts any).
pub const REGION: &str = "us-east-1";

/// A running server; stopped when dropped.
pub struct TestS3 {
    root: PathBuf,
    addr: SocketAddr,
    stop: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestS3 {
    /// Starts a server on `127.0.0.1:port` (0: any free port) keeping its
    /// objects under `root` (created if missing), with `buckets` made empty.
    pub fn start(root: &Path, port: u16, buckets: &[&str]) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        for bucket in buckets {
            std::fs::create_dir_all(root.join(bucket))?;
        }
        let files = FileSystem::new(root).map_err(|e| io::Error::other(format!("{e:?}")))?;
        let mut builder = S3ServiceBuilder::new(objects::Objects {
            root: root.to_owned(),
            files,
        });
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        let service = builder.build();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-s3")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", port)))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(Notify::new());
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("test-s3".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let http = ConnBuilder::new(TokioExecutor::new());
                    loop {
                        let socket = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok((socket, _)) => socket,
                                Err(_) => continue,
                            },
                            () = stopped.notified() => break,
                        };
                        // As S3 services do: without it, Nagle's algorithm
                        // holds a response's last small segment until the
                        // client's delayed ACK, 40 ms per request.
                        let _ = socket.set_nodelay(true);
                        let conn = http
                            .serve_connection(TokioIo::new(socket), service.clone())
                            .into_owned();
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(Self {
            root: root.to_owned(),
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The file holding object `key` of `bucket`.
    pub fn object_file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// The environment an S3 client of this server needs, as S3 tools read
    /// it (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`).
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
