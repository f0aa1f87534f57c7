//! Shared by the crash-safety tests: an INSERT killed (SIGKILL) once it is
//! writing its data file.

#![allow(dead_code, unreachable_pub)]

use std::process::Stdio;
use std::time::{Duration, Instant};

/// Starts a long INSERT into `t` (of `project`, else the default project)
/// and kills it once its staged file has bytes in it.
pub fn kill_an_insert_mid_write(sandbox: &crate::sandbox::Sandbox, project: Option<&str>) {
    let staging = sandbox.data().join("staging");
    let mut args = vec!["sql"];
    if let Some(p) = project {
        args.extend(["--project", p]);
    }
    args.extend([
        "-e",
        "INSERT INTO t SELECT value AS id, CAST(value AS STRING) AS tel FROM range(200000000)",
    ]);
    let mut child = sandbox
        .std_command()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let writing = std::fs::read_dir(&staging)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
            })
            .unwrap_or(false);
        if writing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the insert never started writing"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the insert ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
}
