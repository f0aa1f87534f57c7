//! A Sealhouse cluster of separate processes on loopback for tests and the
//! cluster benchmark: a scheduler and executors of the real binary, their
//! logs in files, killed on drop; TLS files made with `sealhouse cluster
//! certs`.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::Sandbox;

/// A cluster process, killed when dropped; its standard error in a file.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Runs `cmd` (the binary, pointed at a data directory) with `args`;
    /// it logs at info unless `cmd` sets `SEALHOUSE_LOG`.
    pub fn spawn(mut cmd: Command, log: PathBuf, args: &[&str]) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        if !cmd.get_envs().any(|(name, _)| name == "SEALHOUSE_LOG") {
            cmd.env("SEALHOUSE_LOG", "info");
        }
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawns");
        Self { child, log }
    }

    pub fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("reads the log");
        text
    }

    /// Waits until something listens on `port`, failing if the process ends.
    pub fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.child.try_wait().expect("polls") {
                panic!("the process ended ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on {port}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The TLS arguments of process `name` whose certificates `sealhouse
/// cluster certs` wrote in `dir`.
pub fn tls_args(dir: &Path, name: &str) -> Vec<String> {
    let path = |file: String| dir.join(file).to_str().expect("utf-8").to_owned();
    vec![
        "--cluster-ca".into(),
        path("ca.pem".into()),
        "--cluster-cert".into(),
        path(format!("{name}.pem")),
        "--cluster-key".into(),
        path(format!("{name}.key")),
    ]
}

/// A scheduler on `scheduler_port` and `executors` executors (two tasks at
/// once each), their logs and work directories in `logs`, the binary
/// pointed at a data directory by `command`; the scheduler first. With
/// `tls`, the certificates of `scheduler` and `executorN` in that
/// directory.
pub fn start_cluster(
    logs: &Path,
    scheduler_port: u16,
    executors: usize,
    tls: Option<&Path>,
    scheduler_options: &[&str],
    command: impl Fn() -> Command,
) -> Vec<Process> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{scheduler_port}");
    let listen = format!("127.0.0.1:{scheduler_port}");
    let with_tls = |mut args: Vec<String>, name: &str| {
        if let Some(dir) = tls {
            args.extend(tls_args(dir, name));
        }
        args
    };
    let mut args: Vec<String> = ["cluster", "scheduler", "--listen", &listen]
        .map(String::from)
        .to_vec();
    args.extend(scheduler_options.iter().map(|o| o.to_string()));
    let args = with_tls(args, "scheduler");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut scheduler = Process::spawn(command(), logs.join("scheduler.log"), &args);
    scheduler.wait_listening(scheduler_port);
    let mut processes = vec![scheduler];
    for i in 0..executors {
        let port = free_port();
        let work = logs.join(format!("work{i}"));
        let args = with_tls(
            [
                "cluster",
                "executor",
                "--scheduler",
                &url,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--work-dir",
                work.to_str().expect("utf-8"),
                "--concurrent-tasks",
                "2",
            ]
            .map(String::from)
            .to_vec(),
            &format!("executor{i}"),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut executor = Process::spawn(command(), logs.join(format!("executor{i}.log")), &args);
        executor.wait_listening(port);
        processes.push(executor);
    }
    processes
}

/// Runs `sealhouse cluster certs` for `names` into `dir`.
pub fn make_certs(sandbox: &Sandbox, dir: &Path, names: &[&str]) {
    let mut cmd = sandbox.std_command();
    cmd.args(["cluster", "certs", "--out", dir.to_str().expect("utf-8")]);
    for name in names {
        cmd.args(["--name", name]);
    }
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates project `name` with storage encryption `algorithm`.
pub fn create_project(sandbox: &Sandbox, name: &str, algorithm: &str) {
    let out = sandbox
        .std_command()
        .args(["project", "create", name, "--encryption", algorithm])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "creating {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
