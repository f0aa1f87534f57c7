//! Key lifecycle end to end, in the style of Vault's transit backend tests:
//! versions and rotation, disable and enable, scheduled deletion and its
//! cancellation, destruction after the window, automatic rotation.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, ctx, decrypt, encrypt, expect_code, new_key};
use sealhouse_kms::api::{
    CreateKeyRequest, DescribeKeyRequest, EnableKeyRequest, GenerateDataKeyRequest, KeyRequest,
    KeyState, ListKeyVersionsRequest, ListKeysRequest, RotationInterval,
    ScheduleKeyDeletionRequest, UpdateRotationPolicyRequest,
};
use sealhouse_kms::{ErrorCode, Kms, KmsData};
use time::Duration;

#[test]
fn encrypt_under_versions_1_to_4_then_decrypt_every_old_ciphertext() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let first_version = key.primary_key_version.clone().unwrap();
    let mut blobs = Vec::new();
    for round in 1..=4u8 {
        let plaintext = [round; 40];
        let context = ctx(&[("round", &round.to_string())]);
        let enc = encrypt(&kms, &key.key_id, &plaintext, &context).unwrap();
        blobs.push((enc.ciphertext_blob, enc.key_version_id, plaintext, context));
        if round < 4 {
            w.advance(Duration::days(1));
            let v = kms
                .create_key_version(&KeyRequest::new(&key.key_id))
                .unwrap();
            assert_eq!(v.key_version.key_id, key.key_id);
        }
    }
    let versions: Vec<&String> = blobs.iter().map(|b| &b.1).collect();
    assert_eq!(versions[0], &first_version);
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(
                versions[i], versions[j],
                "each rotation makes a new version"
            );
        }
    }
    // Every old ciphertext decrypts, with the version that made it.
    for (blob, version, plaintext, context) in &blobs {
        let dec = decrypt(&kms, blob, context).unwrap();
        assert_eq!(dec.plaintext.expose(), plaintext);
        assert_eq!(&dec.key_version_id, version);
        assert_eq!(dec.key_id, key.key_id);
    }
    let listed = kms
        .list_key_versions(&ListKeyVersionsRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(listed.total_count, 4);
    let listed_ids: Vec<&String> = listed
        .key_versions
        .iter()
        .map(|v| &v.key_version_id)
        .collect();
    assert_eq!(listed_ids, versions, "oldest first");
    let meta = kms
        .describe_key(&DescribeKeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(meta.primary_key_version.as_ref(), Some(versions[3]));
    assert_eq!(
        meta.last_rotation_date.unwrap(),
        listed.key_versions[3].creation_date
    );
}

#[test]
fn disabled_key_is_rejected_and_works_again_once_enabled() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let blob = encrypt(&kms, &key.key_id, b"secret", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    kms.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    kms.disable_key(&KeyRequest::new(&key.key_id)).unwrap(); // idempotent

    let e = expect_code(
        encrypt(&kms, &key.key_id, b"x", &ctx(&[])),
        ErrorCode::Disabled,
    );
    assert_eq!(e.code().as_str(), "Rejected.Disabled");
    assert!(e.message().contains(&key.arn), "{e}");
    assert!(e.message().contains("EnableKey"), "{e}");
    expect_code(decrypt(&kms, &blob, &ctx(&[])), ErrorCode::Disabled);
    expect_code(
        kms.generate_data_key(&GenerateDataKeyRequest::new(&key.key_id)),
        ErrorCode::Disabled,
    );
    expect_code(
        kms.create_key_version(&KeyRequest::new(&key.key_id)),
        ErrorCode::Disabled,
    );
    // Metadata stays readable.
    let meta = kms.describe_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(meta.key_metadata.key_state, KeyState::Disabled);

    kms.enable_key(&EnableKeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(
        decrypt(&kms, &blob, &ctx(&[])).unwrap().plaintext.expose(),
        b"secret"
    );
    encrypt(&kms, &key.key_id, b"x", &ctx(&[])).unwrap();
}

#[test]
fn pending_deletion_refuses_use_and_can_be_cancelled() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    let blob = encrypt(&kms, &key.key_id, b"keep me", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    for bad in [0, 6, 31] {
        expect_code(
            kms.schedule_key_deletion(&ScheduleKeyDeletionRequest {
                key_id: key.key_id.clone(),
                pending_window_in_days: bad,
            }),
            ErrorCode::InvalidParameter,
        );
    }
    let scheduled = kms
        .schedule_key_deletion(&ScheduleKeyDeletionRequest {
            key_id: key.key_id.clone(),
            pending_window_in_days: 7,
        })
        .unwrap();
    assert_eq!(
        scheduled.delete_date,
        w.clock_now() + Duration::days(7),
        "DeleteDate is now plus the window"
    );
    let meta = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(meta.key_state, KeyState::PendingDeletion);
    assert_eq!(meta.delete_date, Some(scheduled.delete_date));

    let e = expect_code(decrypt(&kms, &blob, &ctx(&[])), ErrorCode::PendingDeletion);
    assert_eq!(e.code().as_str(), "Rejected.PendingDeletion");
    assert!(e.message().contains("CancelKeyDeletion"), "{e}");
    assert!(
        e.message().contains("2025-01-08T00:00:00Z"),
        "names DeleteDate: {e}"
    );
    expect_code(
        encrypt(&kms, &key.key_id, b"x", &ctx(&[])),
        ErrorCode::PendingDeletion,
    );
    let e = expect_code(
        kms.enable_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::StateModifiedFailed,
    );
    assert!(e.message().contains("PendingDeletion"), "{e}");
    expect_code(
        kms.schedule_key_deletion(&ScheduleKeyDeletionRequest {
            key_id: key.key_id.clone(),
            pending_window_in_days: 7,
        }),
        ErrorCode::StateModifiedFailed,
    );

    w.advance(Duration::days(6));
    let cancelled = kms
        .cancel_key_deletion(&KeyRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(cancelled.key_state, KeyState::Enabled);
    w.advance(Duration::days(30));
    assert_eq!(
        decrypt(&kms, &blob, &ctx(&[])).unwrap().plaintext.expose(),
        b"keep me"
    );
    expect_code(
        kms.cancel_key_deletion(&KeyRequest::new(&key.key_id)),
        ErrorCode::StateModifiedFailed,
    );
}

#[test]
fn deletion_after_the_window_destroys_the_material_for_good() {
    let w = World::new();
    let kms = w.root_a();
    let key = new_key(&kms);
    kms.create_key_version(&KeyRequest::new(&key.key_id))
        .unwrap();
    let blob = encrypt(&kms, &key.key_id, b"gone soon", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    kms.schedule_key_deletion(&ScheduleKeyDeletionRequest {
        key_id: key.key_id.clone(),
        pending_window_in_days: 7,
    })
    .unwrap();
    w.advance(Duration::days(7) - Duration::seconds(1));
    expect_code(decrypt(&kms, &blob, &ctx(&[])), ErrorCode::PendingDeletion);
    w.advance(Duration::seconds(1));

    // Checked lazily on use: the key is deleted, its ciphertexts are dead.
    let e = expect_code(decrypt(&kms, &blob, &ctx(&[])), ErrorCode::KeyNotFound);
    assert!(e.message().contains("deleted"), "{e}");
    assert!(e.message().contains(&key.arn), "{e}");
    expect_code(
        kms.describe_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::KeyNotFound,
    );
    expect_code(
        kms.cancel_key_deletion(&KeyRequest::new(&key.key_id)),
        ErrorCode::KeyNotFound,
    );
    let listed = kms.list_keys(&ListKeysRequest::default()).unwrap();
    assert!(listed.keys.iter().all(|k| k.key_id != key.key_id));

    // No version row, and so no sealed material, is left.
    let conn = rusqlite::Connection::open(w.data_dir().join("kms.db")).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM key_versions WHERE key_id = ?1",
            [&key.key_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn tick_deletes_keys_nobody_uses() {
    let w = World::new();
    let kms = w.root_a();
    let doomed = new_key(&kms);
    let kept = new_key(&kms);
    kms.schedule_key_deletion(&ScheduleKeyDeletionRequest {
        key_id: doomed.key_id.clone(),
        pending_window_in_days: 30,
    })
    .unwrap();
    assert_eq!(w.kms().tick().unwrap().keys_deleted, 0);
    w.advance(Duration::days(30));
    let report = w.kms().tick().unwrap();
    assert_eq!(report.keys_deleted, 1);
    assert_eq!(w.kms().tick().unwrap().keys_deleted, 0, "done once");
    let listed = kms.list_keys(&ListKeysRequest::default()).unwrap();
    let ids: Vec<&str> = listed.keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, [kept.key_id.as_str()]);
}

#[test]
fn automatic_rotation_makes_a_new_primary_when_the_interval_passes() {
    let w = World::new();
    let kms = w.root_a();
    let key = kms
        .create_key(&CreateKeyRequest {
            enable_automatic_rotation: true,
            rotation_interval: Some(RotationInterval::days(7).unwrap()),
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_metadata;
    let created = key.creation_date;
    assert_eq!(key.next_rotation_date, Some(created + Duration::days(7)));
    assert_eq!(key.rotation_interval.unwrap().to_string(), "604800s");
    let v1 = encrypt(&kms, &key.key_id, b"a", &ctx(&[])).unwrap();

    w.advance(Duration::days(7));
    // Lazily, on use:
    let v2 = encrypt(&kms, &key.key_id, b"b", &ctx(&[])).unwrap();
    assert_ne!(v1.key_version_id, v2.key_version_id);
    let meta = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(meta.last_rotation_date, Some(created + Duration::days(7)));
    assert_eq!(meta.next_rotation_date, Some(created + Duration::days(14)));

    // By tick, for keys nobody touches.
    w.advance(Duration::days(7));
    assert_eq!(w.kms().tick().unwrap().keys_rotated, 1);
    let versions = kms
        .list_key_versions(&ListKeyVersionsRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(versions.total_count, 3);
    assert_eq!(
        decrypt(&kms, &v1.ciphertext_blob, &ctx(&[]))
            .unwrap()
            .plaintext
            .expose(),
        b"a"
    );

    // Turned off: no more versions.
    kms.update_rotation_policy(&UpdateRotationPolicyRequest {
        key_id: key.key_id.clone(),
        enable_automatic_rotation: false,
        rotation_interval: None,
    })
    .unwrap();
    w.advance(Duration::days(30));
    assert_eq!(w.kms().tick().unwrap().keys_rotated, 0);
    expect_code(
        kms.update_rotation_policy(&UpdateRotationPolicyRequest {
            key_id: key.key_id.clone(),
            enable_automatic_rotation: true,
            rotation_interval: None,
        }),
        ErrorCode::InvalidParameter,
    );
}

#[test]
fn an_unknown_key_is_not_found_and_a_malformed_id_is_invalid() {
    let w = World::new();
    let kms = w.root_a();
    let e = expect_code(
        encrypt(&kms, "key-doesnotexist0000000", b"x", &ctx(&[])),
        ErrorCode::KeyNotFound,
    );
    assert_eq!(e.code().as_str(), "Forbidden.KeyNotFound");
    assert!(e.message().contains("key-doesnotexist0000000"), "{e}");
    expect_code(
        encrypt(&kms, "not a key id", b"x", &ctx(&[])),
        ErrorCode::InvalidParameter,
    );
    expect_code(
        encrypt(&kms, "acs:kms:cn-hangzhou:1:nothing", b"x", &ctx(&[])),
        ErrorCode::InvalidParameter,
    );
}

trait ClockNow {
    fn clock_now(&self) -> time::OffsetDateTime;
}

impl ClockNow for World {
    fn clock_now(&self) -> time::OffsetDateTime {
        use sealhouse_iam::Clock;
        self.clock.now()
    }
}
