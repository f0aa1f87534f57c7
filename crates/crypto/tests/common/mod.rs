//! Shared by the integration tests: where `shared/testdata/` is.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

pub fn testdata(relative: &str) -> PathBuf {
    std::env::var_os("SEALHOUSE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        })
        .join(relative)
}

pub fn json(relative: &str) -> serde_json::Value {
    let path = testdata(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} malformed: {e}", path.display()))
}
