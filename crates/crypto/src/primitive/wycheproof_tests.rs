//! Project Wycheproof and RFC 5297 vectors, driven from `shared/testdata/`.

use serde_json::Value;

use super::{AesGcm256, AesSiv};
use crate::testdata::{hex_field, json};
use crate::{Algorithm, Error, SecretBytes};

/// Flips each bit of `sealed` in turn (all bits of short messages, a spread of
/// them for long ones) and checks that `open` refuses every variant.
fn assert_every_flip_rejected(sealed: &[u8], mut open: impl FnMut(&[u8]) -> Result<(), Error>) {
    let bits = sealed.len() * 8;
    let step = if bits <= 1024 { 1 } else { bits / 512 };
    let mut flipped = sealed.to_vec();
    for bit in (0..bits).step_by(step) {
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            open(&flipped),
            Err(Error::DecryptionFailed),
            "flip of bit {bit} accepted"
        );
        flipped[bit / 8] ^= 1 << (bit % 8);
    }
}

fn tests_of(group: &Value) -> &Vec<Value> {
    group["tests"].as_array().expect("tests array")
}

#[test]
fn wycheproof_aes_gcm_256_with_96_bit_ivs() {
    let file = json("wycheproof/aes_gcm_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in file["testGroups"].as_array().expect("groups") {
        if group["keySize"] != 256 || group["ivSize"] != 96 || group["tagSize"] != 128 {
            continue; // Other key and IV sizes do not apply to AES-GCM-256 with 96-bit IVs.
        }
        for t in tests_of(group) {
            let id = &t["tcId"];
            let gcm = AesGcm256::new(&SecretBytes::new(hex_field(t, "key"))).expect("256-bit key");
            let iv: [u8; 12] = hex_field(t, "iv").try_into().expect("96-bit iv");
            let (aad, msg) = (hex_field(t, "aad"), hex_field(t, "msg"));
            let mut sealed = iv.to_vec();
            sealed.extend(hex_field(t, "ct"));
            sealed.extend(hex_field(t, "tag"));
            let mut opened = Vec::new();
            let result = gcm.open_append(&aad, &sealed, &mut opened);
            match t["result"].as_str() {
                Some("valid") => {
                    valid += 1;
                    assert_eq!(result, Ok(()), "tcId {id}");
                    assert_eq!(opened, msg, "tcId {id}");
                    let mut resealed = Vec::new();
                    gcm.seal_append_with_iv(iv, &aad, &msg, &mut resealed);
                    assert_eq!(resealed, sealed, "tcId {id}");
                    assert_every_flip_rejected(&sealed, |c| {
                        gcm.open_append(&aad, c, &mut Vec::new())
                    });
                }
                Some("invalid") => {
                    invalid += 1;
                    assert_eq!(result, Err(Error::DecryptionFailed), "tcId {id}");
                    assert!(opened.is_empty(), "tcId {id} left plaintext behind");
                }
                other => panic!("tcId {id}: unexpected result {other:?}"),
            }
        }
    }
    // Pinned so that a changed file or filter cannot quietly run fewer vectors.
    assert_eq!(
        (valid, invalid),
        (39, 27),
        "AES-GCM-256/96-bit-IV vectors run"
    );
}

#[test]
fn wycheproof_aes_siv_cmac_32_and_64_byte_keys() {
    let file = json("wycheproof/aes_siv_cmac_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in file["testGroups"].as_array().expect("groups") {
        let algorithm = match group["keySize"].as_u64() {
            Some(256) => Algorithm::AesSivCmac128,
            Some(512) => Algorithm::AesSivCmac256,
            _ => continue, // 48-byte keys (AES-192 halves) are not an algorithm of ours.
        };
        for t in tests_of(group) {
            let id = &t["tcId"];
            let mut siv =
                AesSiv::new(algorithm, &SecretBytes::new(hex_field(t, "key"))).expect("key");
            let (aad, msg, ct) = (hex_field(t, "aad"), hex_field(t, "msg"), hex_field(t, "ct"));
            let headers: [&[u8]; 1] = [&aad];
            let mut opened = Vec::new();
            let result = siv.open_append(&headers, &ct, &mut opened);
            match t["result"].as_str() {
                Some("valid") => {
                    valid += 1;
                    assert_eq!(result, Ok(()), "tcId {id}");
                    assert_eq!(opened, msg, "tcId {id}");
                    let mut sealed = Vec::new();
                    siv.seal_append(&headers, &msg, &mut sealed);
                    assert_eq!(sealed, ct, "tcId {id}");
                    assert_every_flip_rejected(&ct, |c| {
                        siv.open_append(&headers, c, &mut Vec::new())
                    });
                }
                Some("invalid") => {
                    invalid += 1;
                    assert_eq!(result, Err(Error::DecryptionFailed), "tcId {id}");
                    assert!(opened.is_empty(), "tcId {id} left plaintext behind");
                }
                other => panic!("tcId {id}: unexpected result {other:?}"),
            }
        }
    }
    assert_eq!(
        (valid, invalid),
        (79, 216),
        "AES-SIV-CMAC 32/64-byte-key vectors run"
    );
}

#[test]
fn rfc5297_appendix_a() {
    let file = json("wycheproof/rfc5297_aes_siv_test.json");
    let tests = file["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 2);
    for t in tests {
        let name = t["name"].as_str().expect("name");
        let mut components: Vec<Vec<u8>> = t["ad"]
            .as_array()
            .expect("ad")
            .iter()
            .map(|ad| hex::decode(ad.as_str().expect("hex")).expect("hex"))
            .collect();
        if t["nonce"].is_string() {
            components.push(hex_field(t, "nonce")); // The nonce is S2V's last component.
        }
        let headers: Vec<&[u8]> = components.iter().map(Vec::as_slice).collect();
        let mut siv = AesSiv::new(
            Algorithm::AesSivCmac128,
            &SecretBytes::new(hex_field(t, "key")),
        )
        .expect("key");
        let mut sealed = Vec::new();
        siv.seal_append(&headers, &hex_field(t, "plaintext"), &mut sealed);
        assert_eq!(sealed, hex_field(t, "output"), "{name}");
        assert_eq!(&sealed[..16], hex_field(t, "siv").as_slice(), "{name}");
        let mut opened = Vec::new();
        siv.open_append(&headers, &sealed, &mut opened)
            .expect("opens");
        assert_eq!(opened, hex_field(t, "plaintext"), "{name}");
    }
}
