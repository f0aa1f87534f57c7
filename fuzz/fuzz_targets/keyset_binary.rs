#![no_main]
//! Binary keyset parser: anything it accepts re-encodes stably and survives JSON.

use libfuzzer_sys::fuzz_target;
use sealhouse_crypto::Keyset;

fuzz_target!(|data: &[u8]| {
    let Ok(keyset) = Keyset::from_bytes(data) else { return };
    let first = keyset.to_bytes();
    let again = Keyset::from_bytes(first.expose()).expect("to_bytes output parses");
    assert!(again.to_bytes() == first, "decode/encode is not stable");
    let via_json = Keyset::from_json(&keyset.to_json()).expect("to_json output parses");
    assert!(via_json.to_bytes() == first, "JSON round trip changed the keyset");
});
