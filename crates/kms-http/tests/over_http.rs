//! The KMS through `KmsClient` against a real server: the client is a `Kms`
//! like the embedded handle, and errors arrive with the same codes.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Served, ctx, decrypt_req, encrypt, expect_code};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use sealhouse_crypto::SecretBytes;
use sealhouse_kms::api::{
    CreateAliasRequest, CreateKeyRequest, DataKeySpec, EncryptRequest, EncryptionContext,
    GenerateDataKeyRequest, GetParametersForImportRequest, ImportKeyMaterialRequest, KeyRequest,
    KeyState, ListAuditEventsRequest, ListKeyVersionsRequest, ListKeysRequest, Origin,
    ReEncryptRequest, ScheduleKeyDeletionRequest,
};
use sealhouse_kms::{CachingKms, ErrorCode, Kms, KmsData};

#[test]
fn keys_encrypt_decrypt_and_data_keys_work_over_http() {
    let s = Served::start();
    let kms = s.root_a();
    let created = kms
        .create_key(&CreateKeyRequest {
            description: "orders".to_owned(),
            ..CreateKeyRequest::default()
        })
        .unwrap();
    let key = created.key_metadata;
    assert!(!created.request_id.is_empty());
    assert_eq!(key.key_state, KeyState::Enabled);
    assert_eq!(key.description, "orders");
    assert!(
        key.arn
            .starts_with("acs:kms:cn-hangzhou:1892732288741234:key/")
    );
    let described = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(described.key_id, key.key_id);
    assert_eq!(described.primary_key_version, key.primary_key_version);

    let c = ctx(&[("table", "orders"), ("column", "card")]);
    let blob = encrypt(&kms, &key.key_id, b"4111 1111 1111 1111", &c);
    let plain = kms.decrypt(&decrypt_req(&blob, &c)).unwrap();
    assert_eq!(plain.plaintext.expose(), b"4111 1111 1111 1111");
    assert_eq!(plain.key_id, key.key_id);
    let e = expect_code(
        kms.decrypt(&decrypt_req(&blob, &ctx(&[("table", "other")]))),
        ErrorCode::InvalidCiphertext,
    );
    assert!(e.request_id().is_some());
    assert!(!e.message().contains("4111"));

    let dk = kms
        .generate_data_key(&GenerateDataKeyRequest {
            key_spec: Some(DataKeySpec::Aes128),
            ..GenerateDataKeyRequest::new(&key.key_id)
        })
        .unwrap();
    assert_eq!(dk.plaintext.len(), 16);
    let again = kms
        .decrypt(&decrypt_req(&dk.ciphertext_blob, &EncryptionContext::new()))
        .unwrap();
    assert_eq!(again.plaintext, dk.plaintext);
    let no_plain = kms
        .generate_data_key_without_plaintext(&GenerateDataKeyRequest {
            number_of_bytes: Some(48),
            ..GenerateDataKeyRequest::new(&key.key_id)
        })
        .unwrap();
    let recovered = kms
        .decrypt(&decrypt_req(
            &no_plain.ciphertext_blob,
            &EncryptionContext::new(),
        ))
        .unwrap();
    assert_eq!(recovered.plaintext.len(), 48);

    // Aliases, ReEncrypt, ListKeys, and the cache over the client.
    kms.create_alias(&CreateAliasRequest {
        alias_name: "alias/orders".to_owned(),
        key_id: key.key_id.clone(),
    })
    .unwrap();
    let other = kms
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    let moved = kms
        .re_encrypt(&ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: c.clone(),
            destination_key_id: other.key_id.clone(),
            destination_encryption_context: EncryptionContext::new(),
        })
        .unwrap();
    assert_eq!(moved.source_key_id, key.key_id);
    let via_alias = encrypt(&kms, "alias/orders", b"x", &EncryptionContext::new());
    assert!(
        kms.decrypt(&decrypt_req(&via_alias, &EncryptionContext::new()))
            .is_ok()
    );
    let keys = kms.list_keys(&ListKeysRequest::default()).unwrap();
    assert_eq!(keys.total_count, 2);
    let aliases = kms.list_aliases(&Default::default()).unwrap();
    assert_eq!(aliases.aliases[0].alias_name, "alias/orders");

    let cached = CachingKms::new(s.root_a(), Duration::from_secs(60));
    let p = cached
        .decrypt(&decrypt_req(
            &moved.ciphertext_blob,
            &EncryptionContext::new(),
        ))
        .unwrap();
    assert_eq!(p.plaintext.expose(), b"4111 1111 1111 1111");
    assert_eq!(cached.len(), 1);

    // The audit log saw the HTTP calls, with the peer address.
    let events = kms
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("Decrypt".to_owned()),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert!(events.total_count >= 4);
    assert_eq!(events.events[0].source_ip.as_deref(), Some("127.0.0.1"));
}

#[test]
fn rotation_disable_and_deletion_over_http() {
    let s = Served::start();
    let kms = s.root_a();
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    let c = ctx(&[("v", "1")]);
    let mut blobs = vec![encrypt(&kms, &key.key_id, b"version 1", &c)];
    for v in 2..=4 {
        let version = kms
            .create_key_version(&KeyRequest::new(&key.key_id))
            .unwrap()
            .key_version;
        assert_eq!(version.key_id, key.key_id);
        blobs.push(encrypt(
            &kms,
            &key.key_id,
            format!("version {v}").as_bytes(),
            &c,
        ));
    }
    let versions = kms
        .list_key_versions(&ListKeyVersionsRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(versions.total_count, 4);
    for (i, blob) in blobs.iter().enumerate() {
        let p = kms.decrypt(&decrypt_req(blob, &c)).unwrap();
        assert_eq!(
            p.plaintext.expose(),
            format!("version {}", i + 1).as_bytes()
        );
        assert_eq!(p.key_version_id, versions.key_versions[i].key_version_id);
    }

    kms.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
    let e = expect_code(
        kms.decrypt(&decrypt_req(&blobs[0], &c)),
        ErrorCode::Disabled,
    );
    assert!(
        e.message().contains(&key.arn) && e.message().contains("EnableKey"),
        "{e}"
    );
    assert!(e.request_id().is_some());
    expect_code(
        kms.generate_data_key(&GenerateDataKeyRequest::new(&key.key_id)),
        ErrorCode::Disabled,
    );
    kms.enable_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert!(kms.decrypt(&decrypt_req(&blobs[3], &c)).is_ok());

    let scheduled = kms
        .schedule_key_deletion(&ScheduleKeyDeletionRequest {
            key_id: key.key_id.clone(),
            pending_window_in_days: 7,
        })
        .unwrap();
    assert_eq!(scheduled.key_id, key.key_id);
    let described = kms.describe_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(described.key_metadata.key_state, KeyState::PendingDeletion);
    assert_eq!(
        described.key_metadata.delete_date,
        Some(scheduled.delete_date)
    );
    expect_code(
        kms.decrypt(&decrypt_req(&blobs[0], &c)),
        ErrorCode::PendingDeletion,
    );
    let cancelled = kms
        .cancel_key_deletion(&KeyRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(cancelled.key_state, KeyState::Enabled);
    expect_code(
        kms.describe_key(&KeyRequest::new("key-doesnotexist0000000")),
        ErrorCode::KeyNotFound,
    );
}

#[test]
fn a_user_without_a_policy_is_refused_naming_principal_action_and_key() {
    let s = Served::start();
    let key = s
        .root_a()
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    let nobody = s.client(&s.user_a("nobody", &[]));
    let e = expect_code(
        nobody.generate_data_key(&GenerateDataKeyRequest::new(&key.key_id)),
        ErrorCode::NoPermission,
    );
    let m = e.message();
    assert!(m.contains("acs:ram::1892732288741234:user/nobody"), "{m}");
    assert!(m.contains("kms:GenerateDataKey"), "{m}");
    assert!(m.contains(&key.arn), "{m}");

    let crypto_user = s.client(&s.user_a("app", &["AliyunKMSCryptoUserAccess"]));
    let dk = crypto_user
        .generate_data_key(&GenerateDataKeyRequest::new(&key.key_id))
        .unwrap();
    assert_eq!(dk.plaintext.len(), 32);
    expect_code(
        crypto_user.disable_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::NoPermission,
    );
    // Account B's root cannot use A's key either.
    let b = s.client(&s.root_key_b);
    expect_code(
        b.decrypt(&decrypt_req(&dk.ciphertext_blob, &EncryptionContext::new())),
        ErrorCode::NoPermission,
    );
}

#[test]
fn byok_import_over_http() {
    let s = Served::start();
    let kms = s.root_a();
    let key = kms
        .create_key(&CreateKeyRequest {
            origin: Origin::External,
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_metadata;
    assert_eq!(key.key_state, KeyState::PendingImport);
    expect_code(
        kms.encrypt(&EncryptRequest {
            key_id: key.key_id.clone(),
            plaintext: SecretBytes::from_slice(b"x"),
            encryption_context: EncryptionContext::new(),
        }),
        ErrorCode::PendingImport,
    );
    let params = kms
        .get_parameters_for_import(&GetParametersForImportRequest::new(&key.key_id))
        .unwrap();
    let public = rsa::PublicKey::from_public_key_der(&params.public_key).unwrap();
    let material = [7u8; 32];
    let wrapped = public.oaep_encrypt::<Sha256>(&material).unwrap();
    kms.import_key_material(&ImportKeyMaterialRequest {
        key_id: key.key_id.clone(),
        encrypted_key_material: wrapped.clone(),
        import_token: params.import_token.clone(),
        key_material_expire_unix: None,
    })
    .unwrap();
    let described = kms.describe_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(described.key_metadata.key_state, KeyState::Enabled);
    let blob = encrypt(&kms, &key.key_id, b"imported", &EncryptionContext::new());
    let p = kms
        .decrypt(&decrypt_req(&blob, &EncryptionContext::new()))
        .unwrap();
    assert_eq!(p.plaintext.expose(), b"imported");
    // The token was used once.
    expect_code(
        kms.import_key_material(&ImportKeyMaterialRequest {
            key_id: key.key_id.clone(),
            encrypted_key_material: wrapped,
            import_token: params.import_token,
            key_material_expire_unix: None,
        }),
        ErrorCode::InvalidImportToken,
    );
    // DeleteKeyMaterial over the wire: back to PendingImport.
    kms.delete_key_material(&KeyRequest::new(&key.key_id))
        .unwrap();
    let described = kms.describe_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(described.key_metadata.key_state, KeyState::PendingImport);
    expect_code(
        kms.decrypt(&decrypt_req(&blob, &EncryptionContext::new())),
        ErrorCode::PendingImport,
    );
}

#[test]
fn sts_credentials_of_a_role_session_work_and_need_their_token() {
    use sealhouse_iam::signing::Credentials;
    use sealhouse_iam::{Arn, AttachTarget, PolicyRef, Principal, RequestContext, ServiceName};
    use sealhouse_kms_http::KmsClient;

    let s = Served::start();
    let key = s
        .root_a()
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    let a = common::acct(common::A);
    s.iam
        .create_role(
            &a,
            "mf-secr",
            &sealhouse_iam::policy::trust::TrustPolicy::trusting_service("odps.aliyuncs.com"),
            None,
            "",
        )
        .unwrap();
    s.iam
        .attach_policy(
            &AttachTarget::Role {
                account: a.clone(),
                name: "mf-secr".into(),
            },
            &PolicyRef::System("AliyunKMSCryptoUserAccess".into()),
        )
        .unwrap();
    let creds = s
        .iam
        .assume_role(
            &Principal::Service(ServiceName::warehouse()),
            &Arn::role(&a, "mf-secr"),
            "sealhouse-warehouse",
            None,
            &RequestContext::new(),
        )
        .unwrap();
    let session = KmsClient::new(&s.endpoint(), Credentials::from(&creds)).unwrap();
    let dk = session
        .generate_data_key(&GenerateDataKeyRequest::new(&key.arn))
        .unwrap();
    assert_eq!(dk.plaintext.len(), 32);
    let events = s
        .root_a()
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("GenerateDataKey".to_owned()),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert!(
        events.events[0]
            .principal
            .contains("assumed-role/mf-secr/sealhouse-warehouse"),
        "{:?}",
        events.events[0].principal
    );
    // The same STS key without its security token is refused.
    let tokenless = KmsClient::new(
        &s.endpoint(),
        Credentials::new(
            creds.access_key_id.clone(),
            SecretBytes::from_slice(creds.secret.expose_bytes()),
        ),
    )
    .unwrap();
    let e = expect_code(
        tokenless.generate_data_key(&GenerateDataKeyRequest::new(&key.arn)),
        ErrorCode::NoPermission,
    );
    assert!(e.message().starts_with("InvalidSecurityToken"), "{e}");
}

#[test]
fn rotation_policy_alias_deletion_and_audit_filters_over_http() {
    use sealhouse_kms::api::{
        AutomaticRotation, DeleteAliasRequest, OutcomeFilter, RotationInterval,
        UpdateRotationPolicyRequest,
    };

    let s = Served::start();
    let kms = s.root_a();
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    kms.update_rotation_policy(&UpdateRotationPolicyRequest {
        key_id: key.key_id.clone(),
        enable_automatic_rotation: true,
        rotation_interval: Some(RotationInterval::days(30).unwrap()),
    })
    .unwrap();
    let m = kms
        .describe_key(&KeyRequest::new(&key.key_id))
        .unwrap()
        .key_metadata;
    assert_eq!(m.automatic_rotation, AutomaticRotation::Enabled);
    assert_eq!(
        m.rotation_interval,
        Some(RotationInterval::days(30).unwrap())
    );
    assert!(m.next_rotation_date.is_some());

    kms.create_alias(&CreateAliasRequest {
        alias_name: "alias/tmp".to_owned(),
        key_id: key.key_id.clone(),
    })
    .unwrap();
    kms.delete_alias(&DeleteAliasRequest {
        alias_name: "alias/tmp".to_owned(),
    })
    .unwrap();
    expect_code(
        kms.encrypt(&EncryptRequest {
            key_id: "alias/tmp".to_owned(),
            plaintext: SecretBytes::from_slice(b"x"),
            encryption_context: EncryptionContext::new(),
        }),
        ErrorCode::AliasNotFound,
    );

    let refused = kms
        .list_audit_events(&ListAuditEventsRequest {
            outcome: Some(OutcomeFilter::Code(ErrorCode::AliasNotFound)),
            start_time: Some(m.creation_date - time::Duration::minutes(1)),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert_eq!(refused.total_count, 1);
    assert_eq!(refused.events[0].action, "Encrypt");
    assert_eq!(
        refused.events[0].outcome.as_str(),
        "Forbidden.AliasNotFound"
    );
    let all_ok = kms
        .list_audit_events(&ListAuditEventsRequest {
            outcome: Some(OutcomeFilter::Ok),
            key_id: Some(key.key_id.clone()),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert!(all_ok.total_count >= 4, "{}", all_ok.total_count);
}
