#![no_main]
//! Column and SYM ciphertext parsing. Input: [aad length] || aad || ciphertext.
//! Decryption must never panic; encrypt-then-decrypt must give the value back.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealhouse_crypto::{Algorithm, Keyset, KeysetCipher, SecretBytes, sym};

/// The AES-GCM-256 key of the documented keyset (public, from vectors.json), so
/// the documented ENHANCED_SYM_ENCRYPT ciphertext in the seeds decrypts.
const DOCUMENTED_GCM_KEY: [u8; 32] = [
    0x26, 0xa8, 0xfb, 0x11, 0x26, 0xdf, 0x4f, 0x5b, 0x5d, 0xd0, 0x3c, 0x18, 0x0e, 0x69, 0x19, 0x56,
    0x5d, 0x77, 0x16, 0xcb, 0xb2, 0x91, 0x81, 0x5e, 0xfb, 0x5b, 0xbf, 0x30, 0xf8, 0xbe, 0xf9, 0xaf,
];
/// The SYM_ENCRYPT key of the documented example (32 ASCII bytes).
const SYM_KEY: &[u8; 32] = b"b75585cf321cdcad42451690cdb7bfc4";

/// One cipher per key of a fixed keyset, each with that key as primary, so the
/// round trip covers every algorithm. All share the same keys.
fn ciphers() -> &'static [KeysetCipher] {
    static CIPHERS: OnceLock<Vec<KeysetCipher>> = OnceLock::new();
    CIPHERS.get_or_init(|| {
        let mut ks = Keyset::new(Algorithm::AesGcm256, "fuzz").expect("new keyset");
        for (alg, key) in [
            (Algorithm::AesGcm256, &DOCUMENTED_GCM_KEY[..]),
            (Algorithm::AesSivCmac128, &[0x11; 32]),
            (Algorithm::AesSivCmac256, &[0x22; 64]),
        ] {
            ks.add_raw_key(alg, SecretBytes::from_slice(key), "").expect("add key");
        }
        let ids: Vec<_> = ks.keys().iter().map(|k| k.id().clone()).collect();
        ids.iter()
            .map(|id| {
                ks.set_primary(id).expect("set primary");
                KeysetCipher::new(&ks).expect("cipher")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let (aad, body) = rest.split_at(usize::from(n).min(rest.len()));
    let ciphers = ciphers();
    let _ = ciphers[0].decrypt(body, aad);
    let _ = sym::decrypt(SYM_KEY, body, aad);
    for cipher in ciphers {
        let ct = cipher.encrypt(body, aad);
        assert!(ciphers[0].decrypt(&ct, aad).as_deref() == Ok(body), "keyset round trip");
    }
    let ct = sym::encrypt(SYM_KEY, body, aad).expect("sym encrypt");
    assert!(sym::decrypt(SYM_KEY, &ct, aad).as_deref() == Ok(body), "sym round trip");
});
