//! A Sealhouse cluster of separate processes on loopback for tests and the
//! cluster benchmark: a scheduler and executors of the real binary, their
//! logs in files, killed on drop; TLS files made with `sealhouse cluster
//! certs`; the tables the cluster tests fill and the queries they compare
//! with the embedded warehouse's.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

use std::collections::BTreeMap;
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

/// How a test cluster's executors read.
#[derive(Clone, Copy)]
pub enum ExecutorsAs<'a> {
    /// As the warehouse: each opens the data directory, root key and all.
    Warehouse,
    /// As principals of their own: each gets an identity (`sealhouse
    /// cluster identity create --name executorN`) and calls the KMS HTTP
    /// API at this URL; its data and config directories (and HOME) are an
    /// empty directory of its own, so it holds no key of the warehouse.
    /// An `https://` KMS needs `kms_ca`, the certificate it chains to.
    OwnPrincipals {
        kms: &'a str,
        kms_ca: Option<&'a Path>,
    },
}

/// The executor identity file of executor `i` under `logs`.
pub fn identity_file(logs: &Path, i: usize) -> PathBuf {
    logs.join(format!("executor{i}.identity"))
}

/// The empty home of executor `i` (an own principal) under `logs`.
pub fn executor_home(logs: &Path, i: usize) -> PathBuf {
    logs.join(format!("executor{i}-home"))
}

/// The KMS HTTP API over the data directory `command` points at
/// (`sealhouse kms serve` on a free loopback port), and its URL.
pub fn start_kms(logs: &Path, command: impl Fn() -> Command) -> (Process, String) {
    start_kms_with(logs, &[], command)
}

/// [`start_kms`] with more arguments (`--tls-cert`, `--tls-key`: then its
/// URL is `https://`).
pub fn start_kms_with(
    logs: &Path,
    extra: &[String],
    command: impl Fn() -> Command,
) -> (Process, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["kms", "serve", "--listen", &listen];
    args.extend(extra.iter().map(String::as_str));
    let mut kms = Process::spawn(command(), logs.join("kms.log"), &args);
    kms.wait_listening(port);
    let scheme = if extra.iter().any(|a| a == "--tls-cert") {
        "https"
    } else {
        "http"
    };
    (kms, format!("{scheme}://{listen}"))
}

/// A scheduler on `scheduler_port` and `executors` executors (two tasks at
/// once each, reading as `readers` says), their logs and work directories
/// in `logs`, the binary pointed at a data directory by `command`; the
/// scheduler first. With `tls`, the certificates of `scheduler` and
/// `executorN` in that directory.
pub fn start_cluster(
    logs: &Path,
    scheduler_port: u16,
    executors: usize,
    readers: ExecutorsAs<'_>,
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
        let mut args: Vec<String> = [
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
        .to_vec();
        let mut cmd = command();
        if let ExecutorsAs::OwnPrincipals { kms, kms_ca } = readers {
            let identity = identity_file(logs, i);
            if !identity.exists() {
                let out = command()
                    .args(["cluster", "identity", "create", "--name"])
                    .arg(format!("executor{i}"))
                    .arg("--out")
                    .arg(&identity)
                    .output()
                    .expect("runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let home = executor_home(logs, i);
            std::fs::create_dir_all(&home).expect("home");
            cmd.env("HOME", &home)
                .env("SEALHOUSE_DATA_DIR", home.join("data"))
                .env("SEALHOUSE_CONFIG_DIR", home.join("config"));
            args.extend([
                "--identity".to_owned(),
                identity.to_str().expect("utf-8").to_owned(),
                "--kms".to_owned(),
                kms.to_owned(),
            ]);
            if let Some(ca) = kms_ca {
                args.extend([
                    "--kms-ca".to_owned(),
                    ca.to_str().expect("utf-8").to_owned(),
                ]);
            }
        }
        let args = with_tls(args, &format!("executor{i}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut executor = Process::spawn(cmd, logs.join(format!("executor{i}.log")), &args);
        executor.wait_listening(port);
        processes.push(executor);
    }
    processes
}

/// A KMS HTTP API ([`start_kms`]) and a cluster whose executors are its
/// principals ([`start_cluster`]), over the data directory `command`
/// points at: the cluster's processes (the scheduler first), and the KMS's.
pub fn start_principal_cluster(
    logs: &Path,
    scheduler_port: u16,
    executors: usize,
    tls: Option<&Path>,
    scheduler_options: &[&str],
    command: impl Fn() -> Command,
) -> (Vec<Process>, Process) {
    let (kms, url) = start_kms(logs, &command);
    let cluster = start_cluster(
        logs,
        scheduler_port,
        executors,
        ExecutorsAs::OwnPrincipals {
            kms: &url,
            kms_ca: None,
        },
        tls,
        scheduler_options,
        command,
    );
    (cluster, kms)
}

/// The KMS calls the audit log of the data directory `data` holds, oldest
/// first: (principal, action, key ARN, outcome).
pub fn audit_events(data: &Path) -> Vec<(String, String, String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("kms").join("audit.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("opens the audit log");
    let mut statement = db
        .prepare(
            "SELECT principal, action, coalesce(key_arn, ''), outcome FROM events ORDER BY seq",
        )
        .expect("prepares");
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("queries")
        .map(|r| r.expect("a row"))
        .collect()
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

/// Runs the binary in the sandbox, expecting success; its standard output.
pub fn run(sandbox: &Sandbox, args: &[&str]) -> String {
    let out = sandbox.std_command().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "sealhouse {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
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

/// Runs `script` with `sealhouse sql` (on the cluster when `cluster` is
/// given); its CSV output, or its error.
pub fn sql(
    sandbox: &Sandbox,
    cluster: Option<&str>,
    project: &str,
    script: &str,
) -> Result<String, String> {
    let mut cmd = sandbox.std_command();
    cmd.args(["sql", "--format", "csv", "--project", project, "-e", script]);
    if let Some(url) = cluster {
        cmd.args(["--cluster", url]);
    }
    let out = cmd.output().expect("runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("utf-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

pub fn ok(sandbox: &Sandbox, project: &str, script: &str) -> String {
    sql(sandbox, None, project, script).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// The table's data files on disk.
pub fn files_of(data: &Path, table_id: &str) -> usize {
    std::fs::read_dir(data.join("tables").join(table_id))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
                .count()
        })
        .unwrap_or(0)
}

/// Fills `project.events` with 14 files: seven single INSERTs of a few
/// rows and seven of 20,000 rows (two size tiers of the automatic merge,
/// each below its eight-file trigger), and `project.regions` with one.
pub fn fill(sandbox: &Sandbox, project: &str) {
    ok(
        sandbox,
        project,
        "CREATE TABLE events (id BIGINT, region STRING, amount BIGINT); \
         CREATE TABLE regions (region STRING, name STRING); \
         INSERT INTO regions VALUES ('r0', 'north'), ('r1', 'south'), ('r2', 'east'), ('r3', 'west'); \
         CREATE TABLE notes AS SELECT value + 1000000 AS id, lpad(CAST(value AS STRING), 200, 'n') AS note \
         FROM range(2000);",
    );
    let mut script = String::new();
    for k in 0..7 {
        script.push_str(&format!(
            "INSERT INTO events VALUES ({a}, 'r{r}', {a}), ({b}, NULL, -{b}), ({c}, 'r9', 7), \
             ({d}, '{MARKER}-{project}-{k}', 1);",
            a = 1_000_000 + k,
            b = 2_000_000 + k,
            c = 3_000_000 + k,
            d = 4_000_000 + k,
            r = k % 4,
        ));
        script.push_str(&format!(
            "INSERT INTO events SELECT value, concat('r', CAST(value % 5 AS STRING)), \
             CAST(random() * 1000000000 AS BIGINT) FROM range({start}, {end});",
            start = k * 20_000,
            end = (k + 1) * 20_000,
        ));
    }
    ok(sandbox, project, &script);
}

/// Begins a value inserted into every table: no cluster log may hold one.
pub const MARKER: &str = "inserted-plaintext";

/// The queries compared: full scans, aggregates, joins (within a project
/// and across two), pushed-down conditions, a Sealhouse function that
/// executors run, COUNT(*), and text wide enough to be read as views
/// (`notes`: executors must plan the same types as the coordinator).
pub fn queries(other: &str) -> Vec<String> {
    vec![
        "SELECT id, region, amount FROM events ORDER BY id".into(),
        "SELECT region, count(*), sum(amount), min(id), max(id) FROM events GROUP BY region ORDER BY region".into(),
        "SELECT r.name, count(*), sum(e.amount) FROM events e JOIN regions r ON e.region = r.region GROUP BY r.name ORDER BY r.name".into(),
        "SELECT count(*), sum(amount) FROM events WHERE id % 3 = 0 AND id > 100 AND region <> 'r2'".into(),
        "SELECT count(*) FROM events".into(),
        "SELECT hex(region), count(*) FROM events GROUP BY hex(region) ORDER BY 1".into(),
        "SELECT id, amount FROM events WHERE region = 'r9' ORDER BY amount DESC, id LIMIT 5".into(),
        format!("SELECT count(*), sum(a.amount - b.amount) FROM events a JOIN {other}.events b ON a.id = b.id"),
        "SELECT arrow_typeof(n.note), n.note, e.amount FROM events e JOIN notes n ON e.id = n.id \
         WHERE n.note > 'nnn' ORDER BY e.amount".into(),
    ]
}

/// How many times each executor's log says it read each file, by table.
pub fn files_read(executors: &[Process]) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut read: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for executor in executors {
        for line in executor
            .log()
            .lines()
            .filter(|l| l.contains("reading a scan partition"))
        {
            let event: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
            let fields = &event["fields"];
            let table = fields["table"].as_str().expect("table").to_owned();
            for file in fields["files"].as_str().expect("files").split(',') {
                *read
                    .entry(table.clone())
                    .or_default()
                    .entry(file.to_owned())
                    .or_default() += 1;
            }
        }
    }
    read
}

/// Every file (not directory) under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Forwards TCP connections to a port and keeps every byte that passes,
/// both ways: what a coordinator and the scheduler say to each other.
pub struct WireTap {
    pub port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl WireTap {
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("an address").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().filter_map(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clones"),
                        server.try_clone().expect("clones"),
                    ),
                    (server, client),
                ] {
                    let kept = std::sync::Arc::clone(&kept);
                    std::thread::spawn(move || {
                        use std::io::Write;
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            kept.lock().expect("lock").extend_from_slice(&buf[..n]);
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Self { port, seen }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.seen.lock().expect("lock").clone()
    }
}
