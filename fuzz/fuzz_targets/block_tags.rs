#![no_main]
//! Plain files' block-tag lists (what the catalog records beside each plain
//! file, `sealhouse_storage::integrity::block_tags`): parsing a list and
//! checking a file against it never panic and pass only the writer's own
//! list; a file tagged and then flipped or cut, or its list damaged, cut or
//! framed as the other version, fails. The checks live in
//! `sealhouse_storage::fuzzing`, where unit tests run them too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealhouse_storage::fuzzing::block_tag_list(data));
