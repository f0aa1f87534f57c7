//! `sealhouse serve` for tests and the load benchmark: the real binary over
//! a fresh data directory, on free loopback ports, stopped on drop; and the
//! identities made through the real CLI.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

pub mod load;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio_postgres::{Client, NoTls};

/// A running `sealhouse serve`.
pub struct Served {
    child: Child,
    /// The PostgreSQL port.
    pub pg_port: u16,
    /// Everything the server printed to stderr so far.
    log: Arc<Mutex<Vec<String>>>,
    data: tempfile::TempDir,
    /// The configuration directory, where the KMS root key lives.
    config: tempfile::TempDir,
}

/// An access key.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// The runtime the clients of a test run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The server's message of an error.
pub fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

/// The SQLSTATE of an error ("" when it has none).
pub fn code(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_sealhouse")
}

/// `name: value` from the CLI's output.
fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .trim()
        .to_owned()
}

impl Served {
    /// Starts the server over a new data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server over a new data directory with `extra` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let config = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(binary())
            .args([
                "serve",
                "--pg-listen",
                "127.0.0.1:0",
                "--kms-listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("SEALHOUSE_DATA_DIR", data.path())
            .env("SEALHOUSE_CONFIG_DIR", config.path())
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_REGION")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
            .env("HOME", data.path())
            .env_remove("SEALHOUSE_ACCESS_KEY_ID")
            .env_remove("SEALHOUSE_SESSION_MEMORY_LIMIT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sealhouse serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("reads the first line");
        let prefix = "sealhouse serve: PostgreSQL on postgres://127.0.0.1:";
        let Some(port) = first.trim().strip_prefix(prefix) else {
            let _ = child.kill();
            panic!("serve did not start: {first:?}");
        };
        let pg_port = port
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        let log = Arc::new(Mutex::new(vec![first]));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Self {
            child,
            pg_port,
            log,
            data,
            config,
        }
    }

    /// Whether the server process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's peak resident memory so far (Linux's VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_field("VmHWM")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status")
    }

    /// A field of the server's `/proc/<pid>/status`, trimmed (`None`
    /// where this kernel does not report it).
    pub fn status_field(&self, name: &str) -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    }

    /// Sends the server SIGTERM, as a service manager stops it.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The server's exit status, if it exits within `limit`.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The configuration directory (where the KMS root key lives).
    pub fn config_dir(&self) -> &Path {
        self.config.path()
    }

    /// What the server printed (for failure messages).
    pub fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Runs the CLI on the same data directory, as `key` (or the local
    /// root); its stdout, or a panic with its stderr.
    pub fn cli(&self, key: Option<&Key>, args: &[&str]) -> String {
        let out = self.cli_command(key, args).output().expect("runs");
        assert!(
            out.status.success(),
            "sealhouse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs the CLI as [`Self::cli`] does, expecting it to fail; its stderr.
    pub fn cli_fails(&self, key: Option<&Key>, args: &[&str]) -> String {
        let out = self.cli_command(key, args).output().expect("runs");
        assert!(!out.status.success(), "sealhouse {args:?} should fail");
        String::from_utf8(out.stderr).expect("utf-8")
    }

    fn cli_command(&self, key: Option<&Key>, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .env("SEALHOUSE_DATA_DIR", self.data.path())
            .env("SEALHOUSE_CONFIG_DIR", self.config.path())
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_REGION")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
            .env("HOME", self.data.path())
            .env_remove("SEALHOUSE_ACCESS_KEY_ID");
        if let Some(key) = key {
            cmd.env("SEALHOUSE_ACCESS_KEY_ID", &key.id)
                .env("SEALHOUSE_ACCESS_KEY_SECRET", &key.secret);
        }
        cmd
    }

    /// A new account; its root's key.
    pub fn account(&self, uid: &str) -> Key {
        let out = self.cli(None, &["iam", "create-account", "--uid", uid]);
        Key {
            id: field(&out, "access_key_id"),
            secret: field(&out, "access_key_secret"),
        }
    }

    /// A RAM user of `root`'s account, and its key.
    pub fn user(&self, root: &Key, name: &str) -> Key {
        self.cli(Some(root), &["iam", "create-user", "--name", name]);
        let out = self.cli(Some(root), &["iam", "create-access-key", "--user", name]);
        Key {
            id: field(&out, "access_key_id"),
            secret: field(&out, "access_key_secret"),
        }
    }

    /// The connection string of `key`.
    pub fn conninfo(&self, key: &Key, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={} password={password} dbname=postgres",
            self.pg_port, key.id
        )
    }

    /// A tokio-postgres client signed in as `key`.
    pub async fn connect(&self, key: &Key) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.conninfo(key, &key.secret), NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\nserver log:\n{}", self.log()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
