//! The ceiling for bench/run.py: `sealhouse_crypto::CipherSession` (what
//! `ENHANCED_SYM_ENCRYPT` / `ENHANCED_SYM_DECRYPT` call per value) in a plain
//! loop on one thread, over the same values the SQL engines see.
//!
//! Usage: `sealhouse-bench-ceiling ROWS11 ROWS1K GCM_KEYSET_HEX SIV_KEYSET_HEX`,
//! then one workload name per line on standard input (`enc11`, `dec11`,
//! `det11`, `enc1k`, `dec1k`); each answers with one JSON line on standard
//! output. Values are generated as the SQL does: 11 B = `13900000000 + i`,
//! 1 KiB = `lpad(i, 1024, 'x')`. Columns of 8192 values are encrypted into a
//! reused buffer (the SQL engine's batch size); every ciphertext is compared
//! with the running maximum (as `max(...)` in SQL), and decryption compares
//! every plaintext with the input and counts the equal ones.

use std::io::{BufRead, Write};
use std::time::Instant;

use sealhouse_crypto::KeysetCipher;

const BATCH: usize = 8192;

/// CPU seconds of this process's main thread (every measured loop runs on
/// it), in nanoseconds from /proc/self/schedstat: finer than the 10 ms ticks
/// of /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/schedstat").expect("/proc/self/schedstat");
    let ns: f64 = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat");
    ns / 1e9
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex keyset"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// All values of one size in one buffer, `len` bytes each.
fn values(rows: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * len);
    for i in 0..rows {
        if len == 11 {
            out.extend_from_slice((13_900_000_000u64 + i as u64).to_string().as_bytes());
        } else {
            let s = i.to_string();
            out.extend(std::iter::repeat_n(b'x', len - s.len()));
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

struct Data {
    len: usize,
    plain: Vec<u8>,
    /// GCM ciphertexts of `plain`, fixed stride, made on first use (untimed).
    sealed: Option<Vec<u8>>,
}

fn encrypt_max(cipher: &KeysetCipher, data: &Data) -> (Vec<u8>, u64) {
    let ct_len = cipher.ciphertext_len(data.len);
    let mut session = cipher.session();
    let mut out = Vec::with_capacity(BATCH * ct_len);
    let mut max: Vec<u8> = Vec::new();
    let mut n = 0u64;
    for chunk in data.plain.chunks(BATCH * data.len) {
        out.clear();
        for v in chunk.chunks(data.len) {
            session.encrypt_append(v, b"", &mut out);
        }
        for c in out.chunks(ct_len) {
            n += 1;
            if c > max.as_slice() {
                max.clear();
                max.extend_from_slice(c);
            }
        }
    }
    (max, n)
}

fn decrypt_count(cipher: &KeysetCipher, data: &Data) -> u64 {
    let ct_len = cipher.ciphertext_len(data.len);
    let sealed = data.sealed.as_ref().expect("sealed");
    let mut session = cipher.session();
    let mut plain = Vec::with_capacity(BATCH * data.len);
    let mut equal = 0u64;
    for (cs, vs) in sealed
        .chunks(BATCH * ct_len)
        .zip(data.plain.chunks(BATCH * data.len))
    {
        plain.clear();
        for c in cs.chunks(ct_len) {
            if session.decrypt_append(c, b"", &mut plain).is_err() {
                // Keep the stride: a failed value counts as not equal.
                plain.extend(std::iter::repeat_n(0u8, data.len));
            }
        }
        equal += plain
            .chunks(data.len)
            .zip(vs.chunks(data.len))
            .filter(|(a, b)| a == b)
            .count() as u64;
    }
    equal
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(
        args.len(),
        5,
        "usage: sealhouse-bench-ceiling ROWS11 ROWS1K GCM_KEYSET_HEX SIV_KEYSET_HEX"
    );
    let rows11: usize = args[1].parse().expect("ROWS11");
    let rows1k: usize = args[2].parse().expect("ROWS1K");
    let gcm = KeysetCipher::from_keyset_bytes(&unhex(&args[3])).expect("GCM keyset");
    let siv = KeysetCipher::from_keyset_bytes(&unhex(&args[4])).expect("SIV keyset");
    let mut d11: Option<Data> = None;
    let mut d1k: Option<Data> = None;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let workload = line.expect("stdin");
        let workload = workload.trim();
        if workload.is_empty() {
            continue;
        }
        let (rows, len, slot) = match workload {
            "enc11" | "dec11" | "det11" => (rows11, 11, &mut d11),
            "enc1k" | "dec1k" => (rows1k, 1024, &mut d1k),
            other => {
                writeln!(stdout, "{{\"error\": \"unknown workload {other}\"}}").expect("stdout");
                stdout.flush().expect("stdout");
                continue;
            }
        };
        let data = slot.get_or_insert_with(|| Data {
            len,
            plain: values(rows, len),
            sealed: None,
        });
        let json = if workload.starts_with("dec") {
            if data.sealed.is_none() {
                let mut s = Vec::with_capacity(rows * gcm.ciphertext_len(len));
                let mut session = gcm.session();
                for v in data.plain.chunks(len) {
                    session.encrypt_append(v, b"", &mut s);
                }
                data.sealed = Some(s);
            }
            let (c0, t0) = (cpu_seconds(), Instant::now());
            let equal = decrypt_count(&gcm, data);
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            format!(
                "{{\"rows\": {rows}, \"cpu\": {cpu}, \"wall\": {wall}, \"equal\": {equal}}}"
            )
        } else {
            let cipher = if workload == "det11" { &siv } else { &gcm };
            let (c0, t0) = (cpu_seconds(), Instant::now());
            let (max, n) = encrypt_max(cipher, data);
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            // Untimed check material: the maximum's plaintext, and for the
            // deterministic keyset whether encrypting it again gives it back.
            let plain = cipher.decrypt(&max, b"").expect("the maximum decrypts");
            let again = if workload == "det11" {
                hex(&cipher.encrypt(&plain, b""))
            } else {
                String::new()
            };
            format!(
                "{{\"rows\": {rows}, \"cpu\": {cpu}, \"wall\": {wall}, \"count\": {n}, \"max_hex\": \"{}\", \"max_plain_hex\": \"{}\", \"reencrypt_hex\": \"{again}\"}}",
                hex(&max),
                hex(&plain)
            )
        };
        writeln!(stdout, "{json}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}
