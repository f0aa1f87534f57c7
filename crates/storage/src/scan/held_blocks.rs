//! The checked blocks a plain file's store holds from one local read to
//! the next (`verified_reader.rs`).
//!
//! A row group's column chunks start in the block the previous row group's
//! end in. Reading and checking that block again made a scan of the storage
//! bench's table (2 MB row groups) read 130.7 MB of its 112 MiB file;
//! holding it, 108.9 MB. The bytes held are the ones checked when they were
//! read, so a file changed since changes nothing handed out.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::integrity::block_tags::BLOCK_LEN;
use crate::scan::local_blocks::Read;

/// How many blocks a store holds: the ends of the ranges of one read (a
/// row group's column chunks, or the first block and the footer's).
const HELD_BLOCKS: usize = 4;

/// A whole block of the file, checked when it was read.
#[derive(Clone)]
struct HeldBlock {
    index: u64,
    bytes: Bytes,
}

/// The blocks one store holds.
#[derive(Default)]
pub(crate) struct HeldBlocks(Mutex<Vec<HeldBlock>>);

/// One read, planned: for each merged range, the offset in the file its
/// bytes will start at and what to read.
pub(crate) struct Planned {
    pub(crate) bases: Vec<u64>,
    pub(crate) reads: Vec<Read>,
    /// The blocks held when it was planned.
    held: Vec<HeldBlock>,
}

impl HeldBlocks {
    fn now(&self) -> Vec<HeldBlock> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The reads of `wanted` (merged whole blocks holding `ranges`): a
    /// merged range whose first block is held starts with the part of it
    /// `ranges` need, and only its blocks after that are read.
    pub(crate) fn plan(&self, ranges: &[Range<u64>], wanted: &[Range<u64>]) -> Planned {
        let mut first_needed: Vec<u64> = wanted.iter().map(|blocks| blocks.end).collect();
        for range in ranges.iter().filter(|r| !r.is_empty()) {
            let i = wanted.partition_point(|blocks| blocks.end <= range.start);
            first_needed[i] = first_needed[i].min(range.start);
        }
        let held = self.now();
        let (bases, reads) = wanted
            .iter()
            .zip(&first_needed)
            .map(|(blocks, &from)| {
                let index = blocks.start / BLOCK_LEN;
                match held.iter().find(|h| h.index == index) {
                    // `from` lies in the first block: the ranges this one
                    // merged start in it.
                    Some(h) => {
                        let block_end = blocks.start + h.bytes.len() as u64;
                        let read = Read {
                            held: h.bytes.slice((from - blocks.start) as usize..),
                            blocks: block_end..blocks.end,
                        };
                        (from, read)
                    }
                    None => {
                        let read = Read {
                            held: Bytes::new(),
                            blocks: blocks.clone(),
                        };
                        (blocks.start, read)
                    }
                }
            })
            .unzip();
        Planned { bases, reads, held }
    }

    /// Holds the last block of each of `wanted`, read as `planned` into
    /// `fetched` (each starting at its base), or the block held before if
    /// that range lay within it.
    pub(crate) fn hold(&self, wanted: &[Range<u64>], planned: &Planned, fetched: &[Bytes]) {
        let mut now: Vec<HeldBlock> = wanted
            .iter()
            .zip(&planned.bases)
            .zip(fetched)
            .filter_map(|((blocks, base), bytes)| {
                let last = (blocks.end - 1) / BLOCK_LEN;
                let last_start = last * BLOCK_LEN;
                if last_start >= *base {
                    let bytes = bytes.slice((last_start - base) as usize..);
                    Some(HeldBlock { index: last, bytes })
                } else {
                    planned.held.iter().find(|h| h.index == last).cloned()
                }
            })
            .collect();
        // The ranges further on are the likelier to be continued.
        let extra = now.len().saturating_sub(HELD_BLOCKS);
        now.drain(..extra);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's bytes of `range`, as a read would return them.
    fn bytes(range: Range<u64>) -> Bytes {
        (range.start..range.end).map(|i| (i % 251) as u8).collect()
    }

    /// Plans the read of `needed` in the merged blocks `wanted` (pairs of
    /// offsets: start, end), "reads" it, and holds what it returned.
    fn read(held: &HeldBlocks, needed: &[(u64, u64)], wanted: &[(u64, u64)]) -> Planned {
        let range = |&(start, end): &(u64, u64)| start..end;
        let ranges: Vec<Range<u64>> = needed.iter().map(range).collect();
        let wanted: Vec<Range<u64>> = wanted.iter().map(range).collect();
        let planned = held.plan(&ranges, &wanted);
        let fetched: Vec<Bytes> = planned
            .reads
            .iter()
            .map(|r| [r.held.clone(), bytes(r.blocks.clone())].concat().into())
            .collect();
        held.hold(&wanted, &planned, &fetched);
        planned
    }

    #[test]
    fn a_read_starting_in_a_held_block_reads_only_the_blocks_after_it() {
        let held = HeldBlocks::default();
        let b = BLOCK_LEN;
        let first = read(&held, &[(10, 3 * b + 5)], &[(0, 4 * b)]);
        assert_eq!(first.bases, [0]);
        assert_eq!(first.reads[0].blocks, 0..4 * b);
        assert!(first.reads[0].held.is_empty());
        // The next row group starts where the first ended, in block 3.
        let next = read(
            &held,
            &[(3 * b + 5, 3 * b + 9), (3 * b + 9, 6 * b)],
            &[(3 * b, 6 * b)],
        );
        assert_eq!(next.bases, [3 * b + 5]);
        assert_eq!(next.reads[0].blocks, 4 * b..6 * b);
        assert_eq!(next.reads[0].held, bytes(3 * b + 5..4 * b));
        // A block not held is read whole.
        let apart = read(&held, &[(8 * b + 1, 8 * b + 2)], &[(8 * b, 9 * b)]);
        assert_eq!(apart.bases, [8 * b]);
        assert_eq!(apart.reads[0].blocks, 8 * b..9 * b);
    }

    #[test]
    fn a_read_within_a_held_block_keeps_it_held() {
        let held = HeldBlocks::default();
        let b = BLOCK_LEN;
        read(&held, &[(0, 2 * b)], &[(0, 2 * b)]);
        let within = read(&held, &[(b + 7, b + 9)], &[(b, 2 * b)]);
        assert!(within.reads[0].blocks.is_empty());
        let again = read(&held, &[(b + 1, 3 * b)], &[(b, 3 * b)]);
        assert_eq!(again.reads[0].blocks, 2 * b..3 * b);
        assert_eq!(again.reads[0].held, bytes(b + 1..2 * b));
    }

    #[test]
    fn at_most_the_furthest_blocks_are_held() {
        let held = HeldBlocks::default();
        let b = BLOCK_LEN;
        let wanted: Vec<(u64, u64)> = (0..6).map(|i| (2 * i * b, (2 * i + 1) * b)).collect();
        read(&held, &wanted, &wanted);
        let indexes: Vec<u64> = held.now().iter().map(|h| h.index).collect();
        assert_eq!(indexes, [4, 6, 8, 10]);
    }
}
