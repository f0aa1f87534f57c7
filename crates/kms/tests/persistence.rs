//! What is on disk: a restart loses nothing, a wrong root key opens nothing,
//! and no file under the data directory holds plaintext key material.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{World, ctx, decrypt, encrypt, new_key};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use sealhouse_kms::api::{
    CreateAliasRequest, CreateKeyRequest, GenerateDataKeyRequest, GetParametersForImportRequest,
    ImportKeyMaterialRequest, KeyRequest, KeyState, ListAliasesRequest, ListAuditEventsRequest,
    ListKeyVersionsRequest, ListKeysRequest, Origin, RotationInterval, ScheduleKeyDeletionRequest,
};
use sealhouse_kms::{Kms, KmsData, KmsService, OpenError, RootKey};

#[test]
fn a_restart_loses_nothing() {
    let mut w = World::new();
    let kms = w.root_a();
    let rotating = kms
        .create_key(&CreateKeyRequest {
            description: "rotates weekly".into(),
            enable_automatic_rotation: true,
            rotation_interval: Some(RotationInterval::days(7).unwrap()),
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_metadata;
    let disabled = new_key(&kms);
    let doomed = new_key(&kms);
    let mut blobs = Vec::new();
    for i in 0..3u8 {
        let enc = encrypt(&kms, &rotating.key_id, &[i; 10], &ctx(&[("i", "x")])).unwrap();
        blobs.push((enc.ciphertext_blob, [i; 10]));
        kms.create_key_version(&KeyRequest::new(&rotating.key_id))
            .unwrap();
    }
    let disabled_blob = encrypt(&kms, &disabled.key_id, b"d", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    kms.disable_key(&KeyRequest::new(&disabled.key_id)).unwrap();
    kms.schedule_key_deletion(&ScheduleKeyDeletionRequest {
        key_id: doomed.key_id.clone(),
        pending_window_in_days: 10,
    })
    .unwrap();
    kms.create_alias(&CreateAliasRequest {
        alias_name: "alias/kept".into(),
        key_id: rotating.key_id.clone(),
    })
    .unwrap();
    let before = kms
        .describe_key(&KeyRequest::new(&rotating.key_id))
        .unwrap()
        .key_metadata;
    let events_before = kms
        .list_audit_events(&ListAuditEventsRequest::default())
        .unwrap()
        .total_count;
    drop(kms);

    w.restart();
    let kms = w.root_a();
    let after = kms
        .describe_key(&KeyRequest::new("alias/kept"))
        .unwrap()
        .key_metadata;
    assert_eq!(after, before);
    assert_eq!(
        kms.list_key_versions(&ListKeyVersionsRequest::new(&rotating.key_id))
            .unwrap()
            .total_count,
        4
    );
    for (blob, plaintext) in &blobs {
        let dec = decrypt(&kms, blob, &ctx(&[("i", "x")])).unwrap();
        assert_eq!(dec.plaintext.expose(), plaintext);
    }
    let d = kms
        .describe_key(&KeyRequest::new(&disabled.key_id))
        .unwrap();
    assert_eq!(d.key_metadata.key_state, KeyState::Disabled);
    kms.enable_key(&KeyRequest::new(&disabled.key_id)).unwrap();
    decrypt(&kms, &disabled_blob, &ctx(&[])).unwrap();
    let doomed_after = kms
        .describe_key(&KeyRequest::new(&doomed.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(doomed_after.key_state, KeyState::PendingDeletion);
    assert!(doomed_after.delete_date.is_some());
    assert_eq!(
        kms.list_keys(&ListKeysRequest::default())
            .unwrap()
            .total_count,
        3
    );
    assert_eq!(
        kms.list_aliases(&ListAliasesRequest::default())
            .unwrap()
            .total_count,
        1
    );
    let events_after = kms
        .list_audit_events(&ListAuditEventsRequest::default())
        .unwrap()
        .total_count;
    assert!(events_after > events_before, "the audit log survived too");
}

#[test]
fn another_root_key_opens_nothing() {
    let w = World::new();
    new_key(&w.root_a());
    let wrong = RootKey::generate().unwrap();
    let err = KmsService::open(
        &w.data_dir(),
        Arc::clone(&w.iam),
        wrong,
        Arc::clone(&w.clock),
    )
    .unwrap_err();
    assert!(matches!(err, OpenError::WrongRootKey { .. }), "{err}");
    assert!(err.to_string().contains("original root key"), "{err}");
}

#[test]
fn no_file_under_the_data_directory_holds_plaintext_key_material() {
    let mut w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for _ in 0..5 {
        let dk = kms
            .generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))
            .unwrap();
        secrets.push(dk.plaintext.expose().to_vec());
    }
    kms.create_key_version(&KeyRequest::new(&key.key_id))
        .unwrap();
    let plaintext = b"a plaintext that must never be stored".to_vec();
    encrypt(&kms, &key.key_id, &plaintext, &ctx(&[])).unwrap();
    secrets.push(plaintext);

    // Known BYOK material.
    let material = *b"imported material, 32 bytes long";
    let external = kms
        .create_key(&CreateKeyRequest {
            origin: Origin::External,
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_metadata;
    let p = kms
        .get_parameters_for_import(&GetParametersForImportRequest::new(&external.key_id))
        .unwrap();
    let public = rsa::PublicKey::from_public_key_der(&p.public_key).unwrap();
    kms.import_key_material(&ImportKeyMaterialRequest {
        key_id: external.key_id.clone(),
        encrypted_key_material: public.oaep_encrypt::<Sha256>(&material).unwrap(),
        import_token: p.import_token.clone(),
        key_material_expire_unix: None,
    })
    .unwrap();
    secrets.push(material.to_vec());
    // An unused set of import parameters (its private key is stored sealed).
    kms.get_parameters_for_import(&GetParametersForImportRequest::new(&external.key_id))
        .unwrap();
    // The identity store's access key secret, sealed by the KMS root key.
    secrets.push(w.root_access_key_a.secret.expose_bytes().to_vec());
    // The root key itself lives outside; it must not be copied in.
    secrets.push(std::fs::read(w.root_key_path()).unwrap());

    // While running (WAL files present), and after a clean close.
    assert_absent(&w.data_dir(), &secrets);
    drop(kms);
    w.restart();
    assert_absent(&w.data_dir(), &secrets);

    // Deleting a key destroys its material; still nothing in the clear.
    w.root_a()
        .schedule_key_deletion(&ScheduleKeyDeletionRequest {
            key_id: key.key_id.clone(),
            pending_window_in_days: 7,
        })
        .unwrap();
    w.advance(time::Duration::days(7));
    assert_eq!(w.kms().tick().unwrap().keys_deleted, 1);
    assert_absent(&w.data_dir(), &secrets);
}

/// Every byte of every file under `dir`, searched for every secret (and for
/// 16-byte windows of it, in case a secret was stored in parts).
fn assert_absent(dir: &Path, secrets: &[Vec<u8>]) {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    assert!(
        files.len() >= 3,
        "kms.db, audit.db, iam.db at least: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for (i, secret) in secrets.iter().enumerate() {
            for window in secret.windows(16.min(secret.len())) {
                assert!(
                    !bytes.windows(window.len()).any(|w| w == window),
                    "secret {i} found in {}",
                    file.display()
                );
            }
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn handles_work_from_many_threads_at_once() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let shared: Arc<dyn Kms> = Arc::new(kms);
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let kms = Arc::clone(&shared);
            let key_id = key.key_id.clone();
            std::thread::spawn(move || {
                for i in 0..10u8 {
                    let plaintext = [t, i];
                    let enc = encrypt(kms.as_ref(), &key_id, &plaintext, &ctx(&[])).unwrap();
                    let dec = decrypt(kms.as_ref(), &enc.ciphertext_blob, &ctx(&[])).unwrap();
                    assert_eq!(dec.plaintext.expose(), plaintext);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let events = shared
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("Decrypt".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(events.total_count, 40);
}
