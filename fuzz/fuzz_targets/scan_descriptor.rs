#![no_main]
//! Scan descriptors (`sealhouse_storage::ScanDescriptor`), which travel
//! between processes: nothing may panic, a descriptor that parses
//! serialises back to one equal to it, and one that passes `check` names
//! only files under its root (`check` also turns the predicate into an
//! expression over the table's columns; nesting is bounded by the JSON
//! parser's depth limit).

use libfuzzer_sys::fuzz_target;
use sealhouse_storage::ScanDescriptor;

fuzz_target!(|data: &[u8]| {
    let Ok(descriptor) = ScanDescriptor::from_bytes(data) else {
        return;
    };
    let again = ScanDescriptor::from_bytes(&descriptor.to_bytes()).expect("re-parses");
    assert!(again == descriptor);
    if descriptor.check().is_ok() {
        for file in &descriptor.files {
            let path = std::path::Path::new(&file.path);
            assert!(path.is_relative());
            assert!(
                path.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
            );
        }
    }
});
