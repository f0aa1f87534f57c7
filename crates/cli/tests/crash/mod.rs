//! Shared by the crash-safety tests: an INSERT killed (SIGKILL) once it is
//! writing its data file.

#![allow(dead_code, unreachable_pub)]

use std::process::Stdio;
use std::time::{Duration, Instant};

/// Starts a long INSERT into `t` (of `project`, else the default project)
/// and kills it once its staged file has bytes in it.
pub fn kill_an_insert_mid_write(sandbox: &crate::sandbox::Sandbox, project: Option<&str>) {
    kill_an_insert_mid_write_with(sandbox, project, &[]);
}

/// As [`kill_an_insert_mid_write`], with `env` set for the INSERT.
pub fn kill_an_insert_mid_write_with(
    sandbox: &crate::sandbox::Sandbox,
    project: Option<&str>,
    env: &[(&str, String)],
) {
    let staging = sandbox.data().join("staging");
    let mut args = vec!["sql"];
    if let Some(p) = project {
        args.extend(["--project", p]);
    }
    args.extend([
        "-e",
        "INSERT INTO t SELECT value AS id, CAST(value AS STRING) AS tel FROM range(200000000)",
    ]);
    let mut command = sandbox.std_command();
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let writing = staged_bytes(&staging) > 0;
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

/// The bytes of the files under `staging`: each process stages in a
/// directory of its own (`staging/<tag>/`).
pub fn staged_bytes(staging: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => staged_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
