#![no_main]
//! The KMS HTTP API's request parameters: the first byte picks an action,
//! the rest is the JSON body. A body parses into the action's request or is
//! refused with `InvalidParameter` without quoting a plaintext, ciphertext,
//! key material or encryption context; what parses encodes to parameters
//! that read back the same. The checks live in
//! `sealhouse_kms_http::fuzzing`, where unit tests run them too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealhouse_kms_http::fuzzing::request_parameters(data));
