//! The cryptographic operations through the public API: encryption context,
//! tampering, size limits, data keys, ReEncrypt, aliases.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, ctx, decrypt, encrypt, expect_code, new_key};
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::api::{
    CreateAliasRequest, DataKeySpec, DeleteAliasRequest, EncryptRequest, GenerateDataKeyRequest,
    KeyRequest, ListAliasesRequest, ReEncryptRequest,
};
use sealhouse_kms::{ErrorCode, Kms, KmsData};

#[test]
fn encryption_context_must_match_exactly() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let context = ctx(&[("table", "mf_test_data"), ("project", "p1")]);
    let blob = encrypt(&kms, &key.key_id, b"keyset bytes", &context)
        .unwrap()
        .ciphertext_blob;
    // The same pairs in another order are the same context.
    let reordered = ctx(&[("project", "p1"), ("table", "mf_test_data")]);
    assert_eq!(
        decrypt(&kms, &blob, &reordered).unwrap().plaintext.expose(),
        b"keyset bytes"
    );
    let wrong = [
        ctx(&[]),
        ctx(&[("table", "mf_test_data")]),
        ctx(&[("table", "other"), ("project", "p1")]),
        ctx(&[("table", "mf_test_data"), ("project", "p1"), ("x", "")]),
        ctx(&[("Table", "mf_test_data"), ("project", "p1")]),
    ];
    let mut messages = Vec::new();
    for w_ctx in &wrong {
        let e = expect_code(decrypt(&kms, &blob, w_ctx), ErrorCode::InvalidCiphertext);
        messages.push(e.message().to_owned());
    }
    // A blob without context decrypts with an empty one.
    let plain = encrypt(&kms, &key.key_id, b"p", &ctx(&[])).unwrap();
    decrypt(&kms, &plain.ciphertext_blob, &ctx(&[])).unwrap();
    expect_code(
        decrypt(&kms, &plain.ciphertext_blob, &ctx(&[("a", "b")])),
        ErrorCode::InvalidCiphertext,
    );
    // Tampering gives exactly the same error as a wrong context.
    let mut tampered = blob.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let e = expect_code(
        decrypt(&kms, &tampered, &context),
        ErrorCode::InvalidCiphertext,
    );
    assert!(messages.iter().all(|m| m == e.message()));
}

#[test]
fn every_tampered_byte_is_refused_with_one_opaque_error() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let blob = encrypt(&kms, &key.key_id, b"0123456789", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x20;
        let e = expect_code(decrypt(&kms, &bad, &ctx(&[])), ErrorCode::InvalidCiphertext);
        seen.insert(e.message().to_owned());
    }
    for len in [0, 1, 5, blob.len() - 1] {
        let e = expect_code(
            decrypt(&kms, &blob[..len], &ctx(&[])),
            ErrorCode::InvalidCiphertext,
        );
        seen.insert(e.message().to_owned());
    }
    assert_eq!(seen.len(), 1, "one message for every failure: {seen:?}");
    assert!(
        !seen.iter().next().unwrap().contains(&key.key_id),
        "says nothing about the key"
    );
}

#[test]
fn plaintext_size_limits_are_the_clouds() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let big = vec![7u8; 6144];
    let enc = encrypt(&kms, &key.key_id, &big, &ctx(&[])).unwrap();
    assert_eq!(
        decrypt(&kms, &enc.ciphertext_blob, &ctx(&[]))
            .unwrap()
            .plaintext
            .expose(),
        &big[..]
    );
    let e = expect_code(
        encrypt(&kms, &key.key_id, &[7u8; 6145], &ctx(&[])),
        ErrorCode::InvalidParameter,
    );
    assert!(e.message().contains("GenerateDataKey"), "{e}");
    expect_code(
        encrypt(&kms, &key.key_id, b"", &ctx(&[])),
        ErrorCode::InvalidParameter,
    );
}

#[test]
fn data_keys_have_the_length_asked_and_decrypt_to_the_plaintext() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let context = ctx(&[("file", "part-0001.parquet")]);
    let cases = [
        (None, None, 32),
        (Some(DataKeySpec::Aes256), None, 32),
        (Some(DataKeySpec::Aes128), None, 16),
        (None, Some(1), 1),
        (Some(DataKeySpec::Aes128), Some(1024), 1024),
    ];
    for (spec, bytes, len) in cases {
        let request = GenerateDataKeyRequest {
            key_id: key.key_id.clone(),
            key_spec: spec,
            number_of_bytes: bytes,
            encryption_context: context.clone(),
        };
        let dk = kms.generate_data_key(&request).unwrap();
        assert_eq!(dk.plaintext.len(), len);
        assert_eq!(dk.key_version_id, key.primary_key_version.clone().unwrap());
        let back = decrypt(&kms, &dk.ciphertext_blob, &context).unwrap();
        assert_eq!(back.plaintext, dk.plaintext);
        let only_blob = kms.generate_data_key_without_plaintext(&request).unwrap();
        let back = decrypt(&kms, &only_blob.ciphertext_blob, &context).unwrap();
        assert_eq!(back.plaintext.len(), len);
    }
    let a = kms
        .generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))
        .unwrap();
    let b = kms
        .generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))
        .unwrap();
    assert_ne!(a.plaintext, b.plaintext);
    for bad in [0, 1025] {
        expect_code(
            kms.generate_data_key(&GenerateDataKeyRequest {
                number_of_bytes: Some(bad),
                ..GenerateDataKeyRequest::new(&key.key_id)
            }),
            ErrorCode::InvalidParameter,
        );
    }
}

#[test]
fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let w = World::new();
    let kms = w.root_a();
    let from = new_key(&kms);
    let to = new_key(&kms);
    let blob = encrypt(&kms, &from.key_id, b"wrapped keyset", &ctx(&[("a", "1")]))
        .unwrap()
        .ciphertext_blob;
    let moved = kms
        .re_encrypt(&ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: ctx(&[("a", "1")]),
            destination_key_id: to.key_id.clone(),
            destination_encryption_context: ctx(&[("b", "2")]),
        })
        .unwrap();
    assert_eq!(moved.key_id, to.key_id);
    assert_eq!(moved.source_key_id, from.key_id);
    assert_eq!(
        moved.source_key_version_id,
        from.primary_key_version.unwrap()
    );
    let back = decrypt(&kms, &moved.ciphertext_blob, &ctx(&[("b", "2")])).unwrap();
    assert_eq!(back.key_id, to.key_id);
    assert_eq!(back.plaintext.expose(), b"wrapped keyset");
    expect_code(
        kms.re_encrypt(&ReEncryptRequest {
            ciphertext_blob: blob,
            source_encryption_context: ctx(&[]),
            destination_key_id: to.key_id.clone(),
            destination_encryption_context: ctx(&[]),
        }),
        ErrorCode::InvalidCiphertext,
    );
    // A disabled destination refuses.
    let blob = encrypt(&kms, &from.key_id, b"x", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    kms.disable_key(&KeyRequest::new(&to.key_id)).unwrap();
    expect_code(
        kms.re_encrypt(&ReEncryptRequest {
            ciphertext_blob: blob,
            source_encryption_context: ctx(&[]),
            destination_key_id: to.key_id.clone(),
            destination_encryption_context: ctx(&[]),
        }),
        ErrorCode::Disabled,
    );
}

#[test]
fn aliases_name_keys_wherever_a_key_id_is_taken() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let other = new_key(&kms);
    kms.create_alias(&CreateAliasRequest {
        alias_name: "alias/warehouse".into(),
        key_id: key.arn.clone(),
    })
    .unwrap();
    let e = expect_code(
        kms.create_alias(&CreateAliasRequest {
            alias_name: "alias/warehouse".into(),
            key_id: other.key_id.clone(),
        }),
        ErrorCode::AliasAlreadyExists,
    );
    assert!(e.message().contains("alias/warehouse"), "{e}");
    for bad in [
        "warehouse",
        "alias/",
        "alias/acs-reserved",
        "alias/with space",
    ] {
        expect_code(
            kms.create_alias(&CreateAliasRequest {
                alias_name: bad.into(),
                key_id: key.key_id.clone(),
            }),
            ErrorCode::InvalidParameter,
        );
    }
    let alias_arn = format!("acs:kms:cn-hangzhou:{}:alias/warehouse", common::A);
    for name in ["alias/warehouse", alias_arn.as_str()] {
        let enc = kms
            .encrypt(&EncryptRequest {
                key_id: name.into(),
                plaintext: SecretBytes::from_slice(b"via alias"),
                encryption_context: ctx(&[]),
            })
            .unwrap();
        assert_eq!(enc.key_id, key.key_id);
        let meta = kms.describe_key(&KeyRequest::new(name)).unwrap();
        assert_eq!(meta.key_metadata.key_id, key.key_id);
    }
    let listed = kms.list_aliases(&ListAliasesRequest::default()).unwrap();
    assert_eq!(listed.total_count, 1);
    assert_eq!(listed.aliases[0].alias_arn, alias_arn);
    assert_eq!(listed.aliases[0].key_id, key.key_id);

    kms.delete_alias(&DeleteAliasRequest {
        alias_name: "alias/warehouse".into(),
    })
    .unwrap();
    let e = expect_code(
        encrypt(&kms, "alias/warehouse", b"x", &ctx(&[])),
        ErrorCode::AliasNotFound,
    );
    assert_eq!(e.code().as_str(), "Forbidden.AliasNotFound");
    expect_code(
        kms.delete_alias(&DeleteAliasRequest {
            alias_name: "alias/warehouse".into(),
        }),
        ErrorCode::AliasNotFound,
    );
    // Another account's alias of the same name is another alias.
    let b = w.root_b();
    expect_code(
        encrypt(&b, "alias/warehouse", b"x", &ctx(&[])),
        ErrorCode::AliasNotFound,
    );
}
