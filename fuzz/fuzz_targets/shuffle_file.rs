#![no_main]
//! Sealed shuffle files (`sealhouse_cluster::shuffle::sealed_file`), the
//! stage outputs an executor's Flight service opens as it serves them.
//! Nothing may panic, and a changed file must never open to other bytes.
//!
//! Input: one mode byte, then the rest.
//!
//! - even mode: the rest is a file, opened under the process's secret:
//!   it fails (random bytes never authenticate), without panicking.
//! - odd mode: the rest is a plaintext, sealed and opened again whole;
//!   then the byte at a position the mode picks is flipped, and separately
//!   the file is cut there: neither may open.

use std::io::{Read, Write};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealhouse_cluster::shuffle::sealed_file::{OpeningReader, SealingWriter, ShuffleSecret};

static SECRET: LazyLock<ShuffleSecret> =
    LazyLock::new(|| ShuffleSecret::generate().expect("randomness"));
const NAME: &str = "job/2/1/data-0.arrow";

fn open(file: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut reader = OpeningReader::new(file, SECRET.job_cipher("job"), NAME.into())?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        assert!(open(rest).is_err(), "random bytes opened");
        return;
    }
    let mut writer =
        SealingWriter::new(Vec::new(), SECRET.job_cipher("job"), NAME.into()).expect("starts");
    writer.write_all(rest).expect("writes to a Vec");
    let file = writer.finish().expect("seals");
    assert_eq!(open(&file).expect("opens"), rest);
    let at = (usize::from(mode) * 7919 + rest.len()) % file.len();
    let mut flipped = file.clone();
    flipped[at] ^= 0x01 << (mode % 8);
    assert!(open(&flipped).is_err(), "a flipped byte opened");
    assert!(open(&file[..at]).is_err(), "a cut file opened");
});
