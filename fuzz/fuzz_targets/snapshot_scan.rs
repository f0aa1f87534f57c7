#![no_main]
//! Snapshot scan nodes (`sealhouse_storage::SnapshotScanExec`), the table
//! scans of plans sent to a cluster's executors: nothing may panic, a node
//! that decodes encodes back to the same bytes' meaning, and every file of
//! its descriptor is in exactly one partition.

use libfuzzer_sys::fuzz_target;
use sealhouse_storage::SnapshotScanExec;

fuzz_target!(|data: &[u8]| {
    let Ok(node) = SnapshotScanExec::from_bytes(data, None) else {
        return;
    };
    let again = SnapshotScanExec::from_bytes(&node.to_bytes(), None).expect("re-decodes");
    assert!(again.descriptor() == node.descriptor());
    assert_eq!(again.to_bytes(), node.to_bytes());
    node.descriptor().check().expect("a decoded scan's descriptor checks");
});
