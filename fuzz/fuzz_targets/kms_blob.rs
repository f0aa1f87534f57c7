#![no_main]
//! The KMS ciphertext blob (what Decrypt and ReEncrypt read from any
//! caller): the header parser never panics and accepts only well-formed
//! headers; opening fails with the one opaque error or authenticates; a
//! plaintext sealed and opened is the same bytes, and only under its own
//! encryption context. The checks live in `sealhouse_kms::fuzzing`, where
//! unit tests run them too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealhouse_kms::fuzzing::ciphertext_blob(data));
