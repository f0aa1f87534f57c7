//! `sealhouse-test-s3 --root DIR [--port N] [--bucket NAME ...]`: the test S3
//! server as a process (for the Python tests). Prints `endpoint=<url>` once
//! it listens, then serves until stdin closes or it is killed.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Parser;
use sealhouse_test_s3::TestS3;

/// A loopback S3 server over a directory, for tests.
#[derive(Debug, Parser)]
struct Args {
    /// Directory holding the buckets.
    #[arg(long)]
    root: PathBuf,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Buckets to create.
    #[arg(long = "bucket")]
    buckets: Vec<String>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let buckets: Vec<&str> = args.buckets.iter().map(String::as_str).collect();
    let server = TestS3::start(&args.root, args.port, &buckets)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "endpoint={}", server.endpoint())?;
    out.flush()?;
    drop(out);
    // Serve until the parent closes our stdin (or kills us).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    Ok(())
}
