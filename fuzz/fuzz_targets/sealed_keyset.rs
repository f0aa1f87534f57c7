#![no_main]
//! Sealed keysets (`sealhouse_sql`'s cluster keyset seals), the keyset
//! constants an executor finds in a plan: parsing never panics, random
//! bytes never open, and a sealed keyset opens to itself but never with a
//! byte flipped or cut short. The checks live in `sealhouse_sql::fuzzing`,
//! where unit tests run them too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealhouse_sql::fuzzing::sealed_keyset(data));
