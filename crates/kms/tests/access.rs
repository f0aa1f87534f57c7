//! Authorisation and the audit log: every call is authorised through the
//! identity service and recorded, allowed or not.

#![allow(clippy::unwrap_used)]

mod common;

use common::{A, B, World, acct, ctx, decrypt, encrypt, expect_code, new_key};
use sealhouse_iam::{Principal, RequestContext, ServiceName};
use sealhouse_kms::api::{
    AuditOutcome, CreateKeyRequest, KeyRequest, ListAuditEventsRequest, ListKeysRequest,
    OutcomeFilter,
};
use sealhouse_kms::{ErrorCode, Kms, KmsData};
use time::Duration;

#[test]
fn a_key_is_refused_to_another_account_even_to_its_root() {
    let w = World::new();
    let owner = w.root_a();
    let key = new_key(&owner);
    let blob = encrypt(&owner, &key.key_id, b"a's data", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    let b = w.root_b();
    for key_ref in [key.key_id.as_str(), key.arn.as_str()] {
        let e = expect_code(
            encrypt(&b, key_ref, b"x", &ctx(&[])),
            ErrorCode::NoPermission,
        );
        assert_eq!(e.code().as_str(), "Forbidden.NoPermission");
        assert!(e.message().contains(&format!("acs:ram::{B}:root")), "{e}");
        assert!(e.message().contains("kms:Encrypt"), "{e}");
        assert!(e.message().contains(&key.arn), "{e}");
    }
    // The blob names A's key: Decrypt by B is refused, not attempted.
    let e = expect_code(decrypt(&b, &blob, &ctx(&[])), ErrorCode::NoPermission);
    assert!(e.message().contains("kms:Decrypt"), "{e}");
    expect_code(
        b.disable_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::NoPermission,
    );
    // B sees only its own keys.
    assert_eq!(
        b.list_keys(&ListKeysRequest::default())
            .unwrap()
            .total_count,
        0
    );
    // The refusal is in the audit log of the key's account.
    let events = owner
        .list_audit_events(&ListAuditEventsRequest {
            principal: Some(format!("acs:ram::{B}:root")),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert!(events.total_count >= 4);
    assert!(events.events.iter().all(|e| e.outcome
        == AuditOutcome::Error("Forbidden.NoPermission".into())
        && e.key_arn.as_deref() == Some(key.arn.as_str())));
}

#[test]
fn permission_denied_is_audited_with_principal_action_key_and_code() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let nobody = w.user_a("nobody", &[]);
    let e = expect_code(
        encrypt(&nobody, &key.key_id, b"x", &ctx(&[])),
        ErrorCode::NoPermission,
    );
    assert!(
        e.message().contains(&format!(
            "acs:ram::{A}:user/nobody is not allowed kms:Encrypt"
        )),
        "{e}"
    );
    let denied = root
        .list_audit_events(&ListAuditEventsRequest {
            outcome: Some(OutcomeFilter::Code(ErrorCode::NoPermission)),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert_eq!(denied.total_count, 1);
    let event = &denied.events[0];
    assert_eq!(event.principal, format!("acs:ram::{A}:user/nobody"));
    assert_eq!(event.action, "Encrypt");
    assert_eq!(event.key_arn.as_deref(), Some(key.arn.as_str()));
    assert_eq!(event.request_id, e.request_id().unwrap());
}

#[test]
fn crypto_users_use_keys_but_do_not_manage_them() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let user = w.user_a("etl", &["AliyunKMSCryptoUserAccess"]);
    let blob = encrypt(&user, &key.key_id, b"row", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    decrypt(&user, &blob, &ctx(&[])).unwrap();
    // kms:ReEncrypt* covers ReEncryptFrom and ReEncryptTo.
    user.re_encrypt(&sealhouse_kms::api::ReEncryptRequest {
        ciphertext_blob: blob.clone(),
        source_encryption_context: ctx(&[]),
        destination_key_id: key.key_id.clone(),
        destination_encryption_context: ctx(&[("moved", "yes")]),
    })
    .unwrap();
    user.describe_key(&KeyRequest::new(&key.key_id)).unwrap();
    assert_eq!(
        user.list_keys(&ListKeysRequest::default())
            .unwrap()
            .total_count,
        1
    );
    expect_code(
        user.disable_key(&KeyRequest::new(&key.key_id)),
        ErrorCode::NoPermission,
    );
    expect_code(
        user.create_key(&CreateKeyRequest::default()),
        ErrorCode::NoPermission,
    );
    expect_code(
        user.list_audit_events(&ListAuditEventsRequest::default()),
        ErrorCode::NoPermission,
    );
    // An unknown key id gives no hint to a caller who may not use it...
    let nobody = w.user_a("nobody", &[]);
    expect_code(
        encrypt(&nobody, "key-unknown000000000000", b"x", &ctx(&[])),
        ErrorCode::NoPermission,
    );
    // ...and "not found" to one who may.
    expect_code(
        encrypt(&user, "key-unknown000000000000", b"x", &ctx(&[])),
        ErrorCode::KeyNotFound,
    );
    let admin = w.user_a("admin", &["AliyunKMSFullAccess"]);
    admin.disable_key(&KeyRequest::new(&key.key_id)).unwrap();
}

#[test]
fn services_have_no_permissions_of_their_own() {
    let w = World::new();
    let key = new_key(&w.root_a());
    let warehouse = w
        .kms()
        .as_principal(Principal::Service(ServiceName::warehouse()));
    let e = expect_code(
        encrypt(&warehouse, &key.key_id, b"x", &ctx(&[])),
        ErrorCode::NoPermission,
    );
    assert!(e.message().contains("assuming a role"), "{e}");
    expect_code(
        warehouse.create_key(&CreateKeyRequest::default()),
        ErrorCode::NoPermission,
    );
}

#[test]
fn a_role_session_of_the_keys_account_may_use_it() {
    let w = World::new();
    let key = new_key(&w.root_a());
    let role = sealhouse_iam::Arn::role(&acct(A), "mf-secr");
    w.iam
        .create_role(
            &acct(A),
            "mf-secr",
            &sealhouse_iam::policy::trust::TrustPolicy::trusting_service("odps.aliyuncs.com"),
            None,
            "",
        )
        .unwrap();
    w.iam
        .attach_policy(
            &sealhouse_iam::AttachTarget::Role {
                account: acct(A),
                name: "mf-secr".into(),
            },
            &sealhouse_iam::PolicyRef::System("AliyunKMSCryptoUserAccess".into()),
        )
        .unwrap();
    let creds = w
        .iam
        .assume_role(
            &Principal::Service(ServiceName::warehouse()),
            &role,
            "sealhouse-warehouse",
            None,
            &RequestContext::new(),
        )
        .unwrap();
    let session = w.kms().as_principal(creds.assumed_role.clone());
    let blob = encrypt(&session, &key.arn, b"k", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    assert_eq!(
        decrypt(&session, &blob, &ctx(&[]))
            .unwrap()
            .plaintext
            .expose(),
        b"k"
    );
}

#[test]
fn audit_events_are_filtered_by_time_key_action_principal_and_outcome() {
    let w = World::new();
    let root = w.root_a();
    let start = {
        use sealhouse_iam::Clock;
        w.clock.now()
    };
    let k1 = new_key(&root);
    let k2 = new_key(&root);
    w.advance(Duration::hours(1));
    let blob = encrypt(&root, &k1.key_id, b"x", &ctx(&[]))
        .unwrap()
        .ciphertext_blob;
    decrypt(&root, &blob, &ctx(&[])).unwrap();
    expect_code(
        decrypt(&root, &blob, &ctx(&[("a", "b")])),
        ErrorCode::InvalidCiphertext,
    );
    encrypt(&root, &k2.key_id, b"y", &ctx(&[])).unwrap();

    let query = |r: ListAuditEventsRequest| root.list_audit_events(&r).unwrap();
    let all = query(ListAuditEventsRequest::default());
    assert_eq!(all.total_count, 6, "2 CreateKey, 2 Encrypt, 2 Decrypt");
    let seqs: Vec<i64> = all.events.iter().map(|e| e.sequence).collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "oldest first");

    let on_k1 = query(ListAuditEventsRequest {
        key_id: Some(k1.key_id.clone()),
        ..Default::default()
    });
    assert_eq!(on_k1.total_count, 4);
    let by_arn = query(ListAuditEventsRequest {
        key_id: Some(k1.arn.clone()),
        ..Default::default()
    });
    assert_eq!(by_arn.total_count, 4);
    let decrypts = query(ListAuditEventsRequest {
        action: Some("kms:Decrypt".into()),
        ..Default::default()
    });
    assert_eq!(decrypts.total_count, 2);
    let failed = query(ListAuditEventsRequest {
        outcome: Some(OutcomeFilter::AnyError),
        ..Default::default()
    });
    assert_eq!(failed.total_count, 1);
    assert_eq!(
        failed.events[0].outcome,
        AuditOutcome::Error("InvalidCiphertext".into())
    );
    let ok = query(ListAuditEventsRequest {
        outcome: Some(OutcomeFilter::Ok),
        ..Default::default()
    });
    // The ListAuditEvents calls above are audited too, and succeeded.
    assert!(ok.total_count >= 5);
    let early = query(ListAuditEventsRequest {
        start_time: Some(start),
        end_time: Some(start + Duration::minutes(30)),
        action: Some("CreateKey".into()),
        ..Default::default()
    });
    assert_eq!(early.total_count, 2);
    let page = query(ListAuditEventsRequest {
        page_number: 2,
        page_size: 2,
        ..Default::default()
    });
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.events[0].sequence, seqs[2]);
    let by_principal = query(ListAuditEventsRequest {
        principal: Some(format!("acs:ram::{A}:root")),
        action: Some("Encrypt".into()),
        ..Default::default()
    });
    assert_eq!(by_principal.total_count, 2);
    // Another account sees none of it.
    let b_view = w
        .root_b()
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("Encrypt".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(b_view.total_count, 0);
    expect_code(
        root.list_audit_events(&ListAuditEventsRequest {
            page_size: 1001,
            ..Default::default()
        }),
        ErrorCode::InvalidParameter,
    );
}

#[test]
fn the_source_ip_of_the_request_is_recorded_and_usable_in_conditions() {
    let w = World::new();
    let root = w.root_a();
    let key = new_key(&root);
    let from_net = w.kms().as_principal_with_context(
        Principal::Root { account: acct(A) },
        RequestContext::new().with(sealhouse_iam::policy::context::SOURCE_IP, "10.1.2.3"),
    );
    encrypt(&from_net, &key.key_id, b"x", &ctx(&[])).unwrap();
    let events = root
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("Encrypt".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(events.events[0].source_ip.as_deref(), Some("10.1.2.3"));

    // A policy condition on acs:SourceIp sees the same value.
    w.iam.create_user(&acct(A), "office").unwrap();
    w.iam
        .create_policy(
            &acct(A),
            "encrypt-from-office",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt",
                "Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#,
            "",
        )
        .unwrap();
    w.iam
        .attach_policy(
            &sealhouse_iam::AttachTarget::User {
                account: acct(A),
                name: "office".into(),
            },
            &sealhouse_iam::PolicyRef::Custom {
                account: acct(A),
                name: "encrypt-from-office".into(),
            },
        )
        .unwrap();
    let office = |ip: Option<&str>| {
        let mut context = RequestContext::new();
        if let Some(ip) = ip {
            context.insert(sealhouse_iam::policy::context::SOURCE_IP, ip);
        }
        w.kms().as_principal_with_context(
            Principal::User {
                account: acct(A),
                name: "office".into(),
            },
            context,
        )
    };
    encrypt(&office(Some("10.9.9.9")), &key.key_id, b"x", &ctx(&[])).unwrap();
    for ip in [Some("192.168.1.1"), None] {
        expect_code(
            encrypt(&office(ip), &key.key_id, b"x", &ctx(&[])),
            ErrorCode::NoPermission,
        );
    }
}
