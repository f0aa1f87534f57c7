//! AssumeRole over the KMS HTTP API (`sts.rs`) and `RoleSessionKms`: a
//! principal that reaches the KMS only over HTTP uses another account's
//! key as a session of a role that trusts it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Served, ctx, decrypt_req, encrypt, expect_code};
use sealhouse_kms::api::{CreateKeyRequest, ListAuditEventsRequest};
use sealhouse_kms::{ErrorCode, Kms, KmsData};

/// AssumeRole over the API: a user of account B assumes a role of account
/// A that trusts B (its own policy allowing it), and as that session uses
/// A's key; `RoleSessionKms` does the same behind the `KmsData` interface.
/// A role that does not trust B, a user whose policies do not allow the
/// call, and a malformed ARN are refused with the reason.
#[test]
fn a_principal_of_another_account_assumes_a_trusting_role_over_http() {
    use sealhouse_iam::{Arn, AttachTarget, PolicyRef, Principal};
    use sealhouse_kms_http::RoleSessionKms;

    let s = Served::start();
    let (a, b) = (common::acct(common::A), common::acct(common::B));
    let key = s
        .root_a()
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    let trusting_b = format!(
        r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":["acs:ram::{}:root"]}}}}],"Version":"1"}}"#,
        common::B
    );
    for (role, trust) in [
        ("reader", trusting_b),
        (
            "other",
            sealhouse_iam::policy::trust::TrustPolicy::trusting_service("odps.aliyuncs.com"),
        ),
    ] {
        s.iam.create_role(&a, role, &trust, None, "").unwrap();
        s.iam
            .attach_policy(
                &AttachTarget::Role {
                    account: a.clone(),
                    name: role.into(),
                },
                &PolicyRef::System("AliyunKMSCryptoUserAccess".into()),
            )
            .unwrap();
    }
    // Users of B: one allowed sts:AssumeRole on A's roles, one not.
    let allow_assume = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Resource":["acs:ram::*:role/*"]}]}"#;
    s.iam.create_policy(&b, "assume", allow_assume, "").unwrap();
    let user = |name: &str, policy: bool| {
        s.iam.create_user(&b, name).unwrap();
        if policy {
            s.iam
                .attach_policy(
                    &AttachTarget::User {
                        account: b.clone(),
                        name: name.into(),
                    },
                    &PolicyRef::Custom {
                        account: b.clone(),
                        name: "assume".into(),
                    },
                )
                .unwrap();
        }
        s.client(
            &s.iam
                .create_access_key(&Principal::User {
                    account: b.clone(),
                    name: name.into(),
                })
                .unwrap(),
        )
    };
    let executor = user("executor", true);
    let reader = Arn::role(&a, "reader").to_string();
    let answer = executor.assume_role(&reader, "exec-1").unwrap();
    assert!(answer.credentials.access_key_id.starts_with("STS."));
    assert!(answer.credentials.expiration.ends_with('Z'));
    assert!(
        answer
            .assumed_role_user
            .arn
            .ends_with(":assumed-role/reader/exec-1"),
        "{answer:?}"
    );
    assert!(!format!("{answer:?}").contains(&answer.credentials.access_key_secret));

    // As the role's session, through the KmsData interface.
    let session = RoleSessionKms::new(user("executor2", true), &reader, "exec-2");
    let context = ctx(&[("t", "1")]);
    let blob = encrypt(&s.root_a(), &key.key_id, b"secret", &context);
    let opened = session.decrypt(&decrypt_req(&blob, &context)).unwrap();
    assert_eq!(opened.plaintext.expose(), b"secret");
    let events = s
        .root_a()
        .list_audit_events(&ListAuditEventsRequest {
            action: Some("Decrypt".to_owned()),
            ..ListAuditEventsRequest::default()
        })
        .unwrap();
    assert!(
        events
            .events
            .iter()
            .any(|e| e.principal.ends_with(":assumed-role/reader/exec-2")),
        "{:?}",
        events.events
    );

    // Refusals: the role does not trust B; the user may not assume roles;
    // the ARN is not one.
    let e = expect_code(
        executor.assume_role(&Arn::role(&a, "other").to_string(), "xx"),
        ErrorCode::NoPermission,
    );
    assert!(e.message().contains("sts:AssumeRole"), "{e}");
    let e = expect_code(
        user("plain", false).assume_role(&reader, "xx"),
        ErrorCode::NoPermission,
    );
    assert!(e.message().contains("sts:AssumeRole"), "{e}");
    let e = expect_code(
        executor.assume_role("not-an-arn", "xx"),
        ErrorCode::InvalidParameter,
    );
    assert!(e.message().contains("RoleArn"), "{e}");
    let refused =
        RoleSessionKms::new(user("plain2", false), &reader, "xx").with_hint("make the role");
    let e = expect_code(
        refused.decrypt(&decrypt_req(&blob, &context)),
        ErrorCode::NoPermission,
    );
    assert!(
        e.message().starts_with("cannot act as role acs:ram::"),
        "{e}"
    );
    assert!(e.message().ends_with("; make the role"), "{e}");
}
