//! The sealed shuffle file: an Arrow IPC stream cut into chunks, each
//! sealed with AES-256-GCM under a key that exists only in the memory of
//! the executor process that wrote it.
//!
//! ```text
//! file     = MAGIC || chunk*            (the last chunk says it is last)
//! chunk    = header (u32 LE: sealed length, top bit set on the last chunk)
//!            || IV (12) || ciphertext || tag (16)
//! key      = HKDF-SHA256(IKM = process secret, salt = none,
//!                        info = "sealhouse/shuffle-key/v1" || 0x00 || job id)
//! AAD      = "sealhouse/shuffle/v1" || 0x00 || file name || 0x00
//!            || chunk index (u64 BE) || last (1 byte: 0 or 1)
//! ```
//!
//! The file name (`job/stage/partition/data-N.arrow`, relative to the work
//! directory) and the chunk index in the AAD make a chunk moved to another
//! place or file fail to open; the `last` byte makes a truncated file fail
//! (a reader needs the chunk marked last, and nothing after it). Chunks are
//! at most [`CHUNK`] plaintext bytes, so a reader holds one chunk at a
//! time whatever the file's size. IVs are random: one process key seals
//! far fewer than the 2^32 messages random 96-bit IVs allow.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use ring::hkdf;
use sealhouse_crypto::SecretBytes;
use sealhouse_crypto::primitive::AesGcm256;

/// The first bytes of every sealed shuffle file. An Arrow IPC stream
/// starts with `0xFFFFFFFF`, so a plaintext file can never pass for one.
pub const MAGIC: &[u8; 8] = b"SHSHUF1\n";

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 256 * 1024;

/// The header bit that marks the last chunk (authenticated: it is in the
/// chunk's AAD).
const LAST_BIT: u32 = 1 << 31;

const AAD_LABEL: &[u8] = b"sealhouse/shuffle/v1";
const KEY_LABEL: &[u8] = b"sealhouse/shuffle-key/v1";

/// The secret an executor process seals its shuffle files under: random
/// when the process starts, never written anywhere, gone when it ends (its
/// files are then unreadable, as they should be).
pub struct ShuffleSecret(SecretBytes);

impl fmt::Debug for ShuffleSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShuffleSecret(..)")
    }
}

impl ShuffleSecret {
    /// A fresh random secret.
    pub fn generate() -> io::Result<Self> {
        SecretBytes::random(32)
            .map(Self)
            .map_err(|e| io::Error::other(format!("no randomness for the shuffle key: {e}")))
    }

    /// The cipher of one job's files.
    pub fn job_cipher(&self, job_id: &str) -> Arc<AesGcm256> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(self.0.expose());
        let info = [KEY_LABEL, &[0u8], job_id.as_bytes()];
        let mut key = [0u8; AesGcm256::KEY_LEN];
        // HKDF fails only for outputs over 255 blocks; this is one.
        prk.expand(&info, JobKeyLen)
            .and_then(|okm| okm.fill(&mut key))
            .expect("a 32-byte HKDF-SHA256 output");
        let key = SecretBytes::new(key.to_vec());
        Arc::new(AesGcm256::new(&key).expect("a 32-byte key"))
    }
}

struct JobKeyLen;

impl hkdf::KeyType for JobKeyLen {
    fn len(&self) -> usize {
        AesGcm256::KEY_LEN
    }
}

/// The AAD of chunk `index` of file `name`.
fn chunk_aad(name: &str, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + name.len() + 11);
    aad.extend_from_slice(AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Seals what is written to it into `inner`, chunk by chunk; call
/// [`SealingWriter::finish`] to write the last chunk (a writer dropped
/// without it leaves a file no reader accepts).
pub struct SealingWriter<W: Write> {
    inner: W,
    cipher: Arc<AesGcm256>,
    name: String,
    plain: Vec<u8>,
    sealed: Vec<u8>,
    index: u64,
}

impl<W: Write> SealingWriter<W> {
    /// Starts file `name` (its path under the work directory) in `inner`.
    pub fn new(mut inner: W, cipher: Arc<AesGcm256>, name: String) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        Ok(Self {
            inner,
            cipher,
            name,
            plain: Vec::with_capacity(CHUNK),
            sealed: Vec::with_capacity(CHUNK + AesGcm256::OVERHEAD + 4),
            index: 0,
        })
    }

    fn seal_chunk(&mut self, len: usize, last: bool) -> io::Result<()> {
        let aad = chunk_aad(&self.name, self.index, last);
        self.sealed.clear();
        self.sealed.extend_from_slice(&[0; 4]);
        self.cipher
            .seal_append(&aad, &self.plain[..len], &mut self.sealed);
        // Chunks are far below 2 GiB, so the length leaves the top bit free.
        let header = (self.sealed.len() - 4) as u32 | if last { LAST_BIT } else { 0 };
        self.sealed[..4].copy_from_slice(&header.to_le_bytes());
        self.inner.write_all(&self.sealed)?;
        self.plain.drain(..len);
        self.index += 1;
        Ok(())
    }

    /// Seals what is left as the last chunk and returns `inner`.
    pub fn finish(mut self) -> io::Result<W> {
        let len = self.plain.len();
        self.seal_chunk(len, true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(CHUNK - self.plain.len());
        self.plain.extend_from_slice(&buf[..take]);
        if self.plain.len() == CHUNK {
            self.seal_chunk(CHUNK, false)?;
        }
        Ok(take)
    }

    /// Flushes what is sealed; the open chunk stays open (a chunk sealed
    /// early would be marked neither last nor full, which is fine, but
    /// IPC writers flush often, and small chunks cost space).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a sealed shuffle file chunk by chunk; any change, swap or
/// truncation is an `InvalidData` error, never other bytes.
pub struct OpeningReader<R: Read> {
    inner: R,
    cipher: Arc<AesGcm256>,
    name: String,
    plain: Vec<u8>,
    pos: usize,
    index: u64,
    /// The chunk marked last was opened (and nothing followed it).
    done: bool,
    sealed: Vec<u8>,
}

impl<R: Read> OpeningReader<R> {
    /// Opens file `name` (its path under the work directory) from `inner`.
    pub fn new(mut inner: R, cipher: Arc<AesGcm256>, name: String) -> io::Result<Self> {
        let mut magic = [0u8; MAGIC.len()];
        inner
            .read_exact(&mut magic)
            .map_err(|_| not_sealed(&name))?;
        if &magic != MAGIC {
            return Err(not_sealed(&name));
        }
        Ok(Self {
            inner,
            cipher,
            name,
            plain: Vec::with_capacity(CHUNK),
            pos: 0,
            index: 0,
            done: false,
            sealed: Vec::new(),
        })
    }

    /// Opens the next chunk into `plain`.
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut header = [0u8; 4];
        self.inner
            .read_exact(&mut header)
            .map_err(|_| self.tampered("it ends before its last chunk"))?;
        let header = u32::from_le_bytes(header);
        let last = header & LAST_BIT != 0;
        let len = (header & !LAST_BIT) as usize;
        if !(AesGcm256::OVERHEAD..=CHUNK + AesGcm256::OVERHEAD).contains(&len) {
            return Err(self.tampered("a chunk has an impossible length"));
        }
        self.sealed.resize(len, 0);
        self.inner
            .read_exact(&mut self.sealed)
            .map_err(|_| self.tampered("it ends inside a chunk"))?;
        self.plain.clear();
        self.pos = 0;
        let aad = chunk_aad(&self.name, self.index, last);
        self.cipher
            .open_append(&aad, &self.sealed, &mut self.plain)
            .map_err(|_| self.tampered("a chunk fails authentication"))?;
        self.index += 1;
        if last {
            self.done = true;
            let mut extra = [0u8; 1];
            if self.inner.read(&mut extra)? != 0 {
                return Err(self.tampered("bytes follow its last chunk"));
            }
        }
        Ok(())
    }

    fn tampered(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "shuffle file {} cannot be read: {what} (it was changed, cut short, moved, or \
                 written by an executor process that has since restarted)",
                self.name
            ),
        )
    }
}

fn not_sealed(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("shuffle file {name} is not a sealed shuffle file"),
    )
}

impl<R: Read> Read for OpeningReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = buf.len().min(self.plain.len() - self.pos);
        buf[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seal(secret: &ShuffleSecret, job: &str, name: &str, data: &[u8]) -> Vec<u8> {
        let mut w = SealingWriter::new(Vec::new(), secret.job_cipher(job), name.into()).unwrap();
        // Uneven writes, as an IPC writer makes them.
        for piece in data.chunks(7_777) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(secret: &ShuffleSecret, job: &str, name: &str, file: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = OpeningReader::new(file, secret.job_cipher(job), name.into())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_across_chunk_boundaries() {
        let secret = ShuffleSecret::generate().unwrap();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let plain = data(len);
            let file = seal(&secret, "job1", "job1/1/0/data-0.arrow", &plain);
            assert_eq!(&file[..8], MAGIC);
            assert_eq!(
                open(&secret, "job1", "job1/1/0/data-0.arrow", &file).unwrap(),
                plain
            );
        }
    }

    #[test]
    fn holds_no_plaintext() {
        let secret = ShuffleSecret::generate().unwrap();
        let marker = b"marker-plaintext-4711";
        let plain: Vec<u8> = marker.repeat(50_000);
        let file = seal(&secret, "j", "j/1/0/data.arrow", &plain);
        assert!(!file.windows(marker.len()).any(|w| w == marker));
    }

    /// Every way to change a file gives an error, never other bytes.
    #[test]
    fn refuses_tampering() {
        let secret = ShuffleSecret::generate().unwrap();
        let name = "j/2/1/data-3.arrow";
        let plain = data(2 * CHUNK + 100);
        let file = seal(&secret, "j", name, &plain);
        let refused = |bytes: &[u8], job: &str, name: &str| {
            let e = open(&secret, job, name, bytes).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        };
        // Each chunk and the magic, flipped.
        for at in [0, 9, 20, CHUNK, CHUNK + 40, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 1;
            refused(&bad, "j", name);
        }
        // Cut short at a chunk boundary (the last chunk gone) and inside one.
        let chunk = 4 + CHUNK + AesGcm256::OVERHEAD;
        refused(&file[..8], "j", name);
        refused(&file[..8 + chunk], "j", name);
        refused(&file[..8 + 2 * chunk], "j", name);
        refused(&file[..file.len() - 1], "j", name);
        // Appended bytes, or the last chunk twice.
        let mut longer = file.clone();
        longer.push(0);
        refused(&longer, "j", name);
        let mut twice = file.clone();
        twice.extend_from_slice(&file[8 + 2 * chunk..]);
        refused(&twice, "j", name);
        // Chunks reordered.
        let mut swapped = file[..8].to_vec();
        swapped.extend_from_slice(&file[8 + chunk..8 + 2 * chunk]);
        swapped.extend_from_slice(&file[8..8 + chunk]);
        swapped.extend_from_slice(&file[8 + 2 * chunk..]);
        refused(&swapped, "j", name);
        // Another file's place, another job, another process.
        refused(&file, "j", "j/2/0/data-3.arrow");
        refused(&file, "k", name);
        let other = ShuffleSecret::generate().unwrap();
        assert!(open(&other, "j", name, &file).is_err());
        // A plaintext IPC stream in its place.
        refused(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], "j", name);
    }

    #[test]
    fn debug_shows_no_secret() {
        let secret = ShuffleSecret::generate().unwrap();
        assert_eq!(format!("{secret:?}"), "ShuffleSecret(..)");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_bytes_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..3000), job in "[a-zA-Z0-9]{1,8}") {
            let secret = ShuffleSecret::generate().unwrap();
            let name = format!("{job}/1/0/data.arrow");
            let file = seal(&secret, &job, &name, &plain);
            prop_assert_eq!(open(&secret, &job, &name, &file).unwrap(), plain);
        }
    }
}
