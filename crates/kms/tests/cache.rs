//! The caching layer: Decrypt results served for the TTL, with the spec's
//! delayed revocation; no caching at TTL 0; errors never cached; bounded.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::{World, ctx, decrypt, encrypt, expect_code, new_key};
use sealhouse_kms::api::{KeyRequest, ListAuditEventsRequest};
use sealhouse_kms::{CachingKms, DEFAULT_CACHE_TTL, ErrorCode, Kms, KmsData};
use time::Duration;

fn decrypt_events(kms: &dyn Kms) -> u64 {
    kms.list_audit_events(&ListAuditEventsRequest {
        action: Some("Decrypt".into()),
        ..Default::default()
    })
    .unwrap()
    .total_count
}

#[test]
fn a_disabled_key_keeps_working_from_the_cache_until_the_ttl_passes() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let blob = encrypt(&root, &key.key_id, b"wrapped keyset", &ctx(&[("t", "1")]))
        .unwrap()
        .ciphertext_blob;
    let cached = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL).with_clock(Arc::clone(&w.clock));
    assert_eq!(cached.ttl(), StdDuration::from_secs(86_400));

    let first = decrypt(&cached, &blob, &ctx(&[("t", "1")])).unwrap();
    let second = decrypt(&cached, &blob, &ctx(&[("t", "1")])).unwrap();
    assert_eq!(first.plaintext, second.plaintext);
    assert_eq!(
        second.request_id, first.request_id,
        "a hit answers with the call that filled it"
    );
    assert_eq!(decrypt_events(&root), 1, "the hit made no KMS call");
    assert_eq!(cached.len(), 1);

    // The spec's documented behaviour: KMS changes take up to the TTL to show.
    root.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    w.advance(Duration::hours(23));
    let still = decrypt(&cached, &blob, &ctx(&[("t", "1")])).unwrap();
    assert_eq!(still.plaintext.expose(), b"wrapped keyset");
    w.advance(Duration::hours(1));
    expect_code(
        decrypt(&cached, &blob, &ctx(&[("t", "1")])),
        ErrorCode::Disabled,
    );
    assert!(cached.is_empty(), "the expired entry was dropped");
}

#[test]
fn a_zero_ttl_caches_nothing_so_revocation_is_immediate() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let blob = encrypt(&root, &key.key_id, b"x", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    let uncached = CachingKms::new(w.root_a(), StdDuration::ZERO);
    decrypt(&uncached, &blob, &ctx(&[])).unwrap();
    decrypt(&uncached, &blob, &ctx(&[])).unwrap();
    assert_eq!(decrypt_events(&root), 2);
    assert!(uncached.is_empty());
    root.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    expect_code(decrypt(&uncached, &blob, &ctx(&[])), ErrorCode::Disabled);
}

#[test]
fn errors_are_never_cached_and_the_context_is_part_of_the_key() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let blob = encrypt(&root, &key.key_id, b"x", &ctx(&[("a", "1")]))
        .unwrap()
        .ciphertext_blob;
    let cached = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL).with_clock(Arc::clone(&w.clock));
    expect_code(
        decrypt(&cached, &blob, &ctx(&[("a", "2")])),
        ErrorCode::InvalidCiphertext,
    );
    assert!(cached.is_empty());
    decrypt(&cached, &blob, &ctx(&[("a", "1")])).unwrap();
    // A cached success under one context does not answer another.
    expect_code(
        decrypt(&cached, &blob, &ctx(&[("a", "2")])),
        ErrorCode::InvalidCiphertext,
    );
    expect_code(
        decrypt(&cached, &blob, &ctx(&[])),
        ErrorCode::InvalidCiphertext,
    );
    assert_eq!(cached.len(), 1);
    // Other operations go straight through (administration is not a
    // CachingKms's: the key is disabled through the KMS itself).
    root.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    expect_code(
        encrypt(&cached, &key.key_id, b"y", &ctx(&[])),
        ErrorCode::Disabled,
    );
}

#[test]
fn the_cache_is_bounded_and_can_be_cleared() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let cached = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL)
        .with_clock(Arc::clone(&w.clock))
        .with_max_entries(3);
    let blobs: Vec<Vec<u8>> = (0..5u8)
        .map(|i| {
            encrypt(&root, &key.key_id, &[i], &ctx(&[]))
                .unwrap()
                .ciphertext_blob
        })
        .collect();
    for blob in &blobs {
        decrypt(&cached, blob, &ctx(&[])).unwrap();
    }
    assert_eq!(cached.len(), 3);
    // The newest stay: decrypting them again makes no KMS call.
    let before = decrypt_events(&root);
    for blob in &blobs[2..] {
        decrypt(&cached, blob, &ctx(&[])).unwrap();
    }
    assert_eq!(decrypt_events(&root), before);
    // The oldest went.
    decrypt(&cached, &blobs[0], &ctx(&[])).unwrap();
    assert_eq!(decrypt_events(&root), before + 1);
    cached.clear();
    assert!(cached.is_empty());
    let debug = format!("{cached:?}");
    assert!(debug.contains("max_entries: 3"), "{debug}");
}

#[test]
fn a_remembering_cache_decrypts_its_own_ciphertexts_without_a_call_for_the_ttl() {
    use sealhouse_kms::api::GenerateDataKeyRequest;
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let plain = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL).with_clock(Arc::clone(&w.clock));
    let blob = encrypt(&plain, &key.key_id, b"kek", &ctx(&[("f", "1")]))
        .unwrap()
        .ciphertext_blob;
    decrypt(&plain, &blob, &ctx(&[("f", "1")])).unwrap();
    assert_eq!(decrypt_events(&root), 1, "without remembering, one call");

    let remembering = CachingKms::new(w.root_a(), DEFAULT_CACHE_TTL)
        .with_clock(Arc::clone(&w.clock))
        .remembering_encryptions();
    let wrapped = encrypt(&remembering, &key.key_id, b"kek", &ctx(&[("f", "2")])).unwrap();
    let data_key = remembering
        .generate_data_key(&GenerateDataKeyRequest {
            key_id: key.key_id.clone(),
            key_spec: None,
            number_of_bytes: Some(32),
            encryption_context: ctx(&[]),
        })
        .unwrap();
    let got = decrypt(&remembering, &wrapped.ciphertext_blob, &ctx(&[("f", "2")])).unwrap();
    assert_eq!(got.plaintext.expose(), b"kek");
    assert_eq!(got.key_version_id, wrapped.key_version_id);
    let got = decrypt(&remembering, &data_key.ciphertext_blob, &ctx(&[])).unwrap();
    assert_eq!(got.plaintext.expose(), data_key.plaintext.expose());
    assert_eq!(decrypt_events(&root), 1, "both answered from the cache");
    // Under another context it is not the same ciphertext: the KMS refuses.
    expect_code(
        decrypt(&remembering, &wrapped.ciphertext_blob, &ctx(&[("f", "3")])),
        ErrorCode::InvalidCiphertext,
    );
    // Remembered like any answer: a disabled key shows once the TTL passed.
    root.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    w.advance(Duration::hours(24));
    expect_code(
        decrypt(&remembering, &wrapped.ciphertext_blob, &ctx(&[("f", "2")])),
        ErrorCode::Disabled,
    );
}
