#![no_main]
//! JSON keyset parser: anything it accepts prints the same after a trip through binary.

use libfuzzer_sys::fuzz_target;
use sealhouse_crypto::Keyset;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(keyset) = Keyset::from_json(text) else { return };
    let json = keyset.to_json();
    let back = Keyset::from_bytes(keyset.to_bytes().expose()).expect("to_bytes output parses");
    // Compared with assert!, not assert_eq!, so a failure does not print key material.
    assert!(*back.to_json() == *json, "binary round trip changed the JSON");
});
