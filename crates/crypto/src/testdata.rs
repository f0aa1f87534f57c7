//! Locates `shared/testdata/` for the tests: beside the repository checkout,
//! or where `SEALHOUSE_TESTDATA` points. A missing directory fails the test;
//! vectors are never silently skipped.

use std::path::PathBuf;

pub(crate) fn path(relative: &str) -> PathBuf {
    let root = std::env::var_os("SEALHOUSE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../../shared/testdata"));
    root.join(relative)
}

/// The crate's directory: as cargo says when it runs the test (a binary
/// built in another checkout sharing the target directory keeps the path
/// it was compiled at), else as it was compiled.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

pub(crate) fn json(relative: &str) -> serde_json::Value {
    let path = path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("test vectors {} unreadable: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("test vectors {} malformed: {e}", path.display()))
}

pub(crate) fn hex_field(value: &serde_json::Value, field: &str) -> Vec<u8> {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} missing in {value}"));
    hex::decode(text).unwrap_or_else(|e| panic!("field {field} not hex: {e}"))
}
