#![no_main]
//! The wrapped keyset parser (`sealhouse_kms::wrapped_keyset::decode`), which
//! reads whatever a SQL caller passes as `wrapped_keyset`. It must never
//! panic; what it accepts must re-encode to the same bytes.

use libfuzzer_sys::fuzz_target;
use sealhouse_kms::wrapped_keyset::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(wrapped) = decode(data) {
        assert!(encode(&wrapped.key_id, &wrapped.blob) == data);
    }
});
