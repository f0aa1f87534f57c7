//! The `sealhouse-test-s3` binary as the Python tests use it: it prints
//! `endpoint=<url>` once it listens on 127.0.0.1, refuses an unsigned
//! request (SigV4 is required, so a test cannot pass by accident without
//! credentials), and exits when its stdin closes.
//!
//! Being an integration test of this package also makes `cargo test
//! --workspace` build the binary beside `sealhouse`, where the Python
//! tests look for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn prints_its_endpoint_refuses_unsigned_requests_and_stops_with_stdin() {
    let root = std::env::temp_dir().join(format!("sealhouse-test-s3-bin-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("root");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealhouse-test-s3"))
        .args(["--root", root.to_str().expect("utf-8"), "--bucket", "lake"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sealhouse-test-s3");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read endpoint");
    let endpoint = first
        .trim()
        .strip_prefix("endpoint=http://")
        .unwrap_or_else(|| panic!("first line is the endpoint: {first:?}"));
    assert!(
        endpoint.starts_with("127.0.0.1:"),
        "loopback only: {endpoint}"
    );
    assert!(root.join("lake").is_dir(), "the bucket was created");

    let mut http = TcpStream::connect(endpoint).expect("connect");
    http.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        http,
        "GET /lake/anything HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    http.read_to_string(&mut reply).expect("reply");
    let status = reply.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 403"),
        "an unsigned GET is refused: {status:?}"
    );

    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exited = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if exited.is_none() {
        let _ = child.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
    let status = exited.expect("the server exits once its stdin closes");
    assert!(status.success(), "{status}");
}
