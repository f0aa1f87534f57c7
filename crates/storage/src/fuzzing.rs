//! What the fuzz targets in `fuzz/` run against this crate (cargo-fuzz
//! builds outside the workspace and sees only public items). Each function
//! takes arbitrary bytes, drives one parser and asserts what must hold; the
//! unit tests below run the same checks on fixed inputs, so the checks
//! themselves are built and exercised by every `cargo test`. Not an API.

use std::io::Write;
use std::sync::Arc;

use crate::integrity::block_tags::{BLOCK_LEN, BlockTagKey, BlockTagWriter, BlockVerifier};

/// The fixed tag key (any key will do: the list's parser and the check are
/// what is under test, and no input can know a random key either).
fn key() -> BlockTagKey {
    BlockTagKey::from_bytes(&[0x5e; 32])
}

/// The tag list written for `file`: version 2 (GMAC), or version 1 (keyed
/// BLAKE3, as files were written before).
fn written(file: &[u8], version_1: bool) -> Vec<u8> {
    let mut writer = if version_1 {
        BlockTagWriter::version_1(Vec::new(), key())
    } else {
        BlockTagWriter::new(Vec::new(), key())
    };
    writer.write_all(file).expect("writing to a Vec");
    writer.finish().expect("writing to a Vec").1
}

/// Whether `list` checks `file` as a whole (a refused list checks nothing).
fn passes(list: &[u8], file: &[u8]) -> bool {
    BlockVerifier::new(key(), Arc::from(list), file.len() as u64)
        .is_ok_and(|v| v.verify(0, file).is_ok())
}

/// Plain files' block-tag lists (`integrity::block_tags`; what the catalog
/// records beside each plain file). First byte: a mode.
///
/// - even: the next byte says where the rest splits into a tag list and a
///   file. Parsing the list and checking the file never panic, and the
///   file passes only if the list is exactly what the writer makes for it
///   (in either version).
/// - odd: the rest is a file, tagged as version 2, or as version 1 when the
///   mode's second bit is set. Its list checks it whole and block by block;
///   with one byte flipped where the input picks, or cut short there, the
///   file fails; the list with a byte flipped, cut by one, or under the
///   other version's framing fails too.
pub fn block_tag_list(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Some((&at, rest)) = rest.split_first() else {
            return;
        };
        let (list, file) = rest.split_at(usize::from(at).min(rest.len()));
        if passes(list, file) {
            assert!(list == written(file, false) || list == written(file, true));
        }
        if let Ok(v) = BlockVerifier::new(key(), Arc::from(list), file.len() as u64) {
            let blocks = v
                .blocks_for(&(0..file.len() as u64))
                .expect("the whole file is in range");
            assert!(blocks == (0..file.len() as u64));
        }
        return;
    }
    let version_1 = mode & 2 != 0;
    let list = written(rest, version_1);
    assert!(passes(&list, rest), "a file fails its own tags");
    let v = BlockVerifier::new(key(), Arc::from(list.as_slice()), rest.len() as u64)
        .expect("its own list fits");
    for start in (0..rest.len()).step_by(BLOCK_LEN as usize) {
        let end = (start + BLOCK_LEN as usize).min(rest.len());
        assert!(v.verify(start as u64, &rest[start..end]).is_ok());
    }
    if rest.is_empty() {
        return;
    }
    let seed = rest.iter().fold(0usize, |h, &b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let at = seed % rest.len();
    let mut flipped = rest.to_vec();
    flipped[at] ^= rest[0] | 1;
    assert!(!passes(&list, &flipped), "a flipped byte passed");
    assert!(!passes(&list, &rest[..at]), "a cut file passed");
    let mut bad_list = list.clone();
    let i = seed % bad_list.len();
    bad_list[i] ^= 1;
    assert!(!passes(&bad_list, rest), "a damaged list passed");
    assert!(!passes(&list[..list.len() - 1], rest), "a cut list passed");
    let other = if version_1 {
        [&[0x02], list.as_slice()].concat()
    } else {
        list[1..].to_vec()
    };
    assert!(
        !passes(&other, rest),
        "a list passed under the other version"
    );
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The committed seeds of `fuzz/seeds/block_tags/`, each a case here.
    #[test]
    fn the_seeds_hold() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/block_tags");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/block_tags") {
            block_tag_list(&std::fs::read(entry.expect("entry").path()).expect("seed"));
            seen += 1;
        }
        assert!(seen >= 3, "{seen} seeds in {}", dir.display());
    }

    /// A real list and its file in the even mode take the passing branch.
    #[test]
    fn a_real_list_passes_in_the_parsing_mode() {
        for version_1 in [false, true] {
            let file = b"plain parquet bytes".to_vec();
            let list = written(&file, version_1);
            let mut data = vec![0, u8::try_from(list.len()).expect("short")];
            data.extend_from_slice(&list);
            data.extend_from_slice(&file);
            assert!(passes(&list, &file));
            block_tag_list(&data);
        }
    }

    /// Files over a block and a half, in both versions.
    #[test]
    fn files_over_several_blocks_hold() {
        let file: Vec<u8> = (0..BLOCK_LEN as usize * 3 / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        for mode in [1u8, 3] {
            block_tag_list(&[&[mode], file.as_slice()].concat());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_hold(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            block_tag_list(&data);
        }
    }
}
