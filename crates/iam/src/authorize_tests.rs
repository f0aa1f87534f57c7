use crate::policy::trust::TrustPolicy;
use crate::testutil::{A, B, acct, allow, iam};
use crate::{
    AccessDenied, Arn, AttachTarget, DenyReason, Iam, PolicyRef, Principal, RequestContext,
    ServiceName,
};

fn key(account: &str) -> Arn {
    Arn::kms_key("cn-beijing", &acct(account), "key-bjj6527b6c6465hsf1234")
}

fn user_with(iam: &Iam, account: &str, name: &str, docs: &[&str]) -> Principal {
    let a = acct(account);
    let user = iam.create_user(&a, name).unwrap();
    let target = AttachTarget::User {
        account: a.clone(),
        name: name.into(),
    };
    for (i, doc) in docs.iter().enumerate() {
        let pname = format!("{name}-p{i}");
        iam.create_policy(&a, &pname, doc, "").unwrap();
        iam.attach_policy(
            &target,
            &PolicyRef::Custom {
                account: a.clone(),
                name: pname,
            },
        )
        .unwrap();
    }
    user.principal()
}

fn denied(r: Result<(), AccessDenied>) -> AccessDenied {
    r.expect_err("should be denied")
}

#[test]
fn root_is_allowed_everything_in_its_own_account_only() {
    let (iam, _) = iam();
    let ctx = RequestContext::new();
    let root_a = Principal::Root { account: acct(A) };
    iam.authorize(&root_a, "kms:ScheduleKeyDeletion", &key(A), &ctx)
        .unwrap();
    iam.authorize(&root_a, "ram:PassRole", &Arn::role(&acct(A), "x"), &ctx)
        .unwrap();
    let d = denied(iam.authorize(&root_a, "kms:Decrypt", &key(B), &ctx));
    assert!(matches!(*d.reason(), DenyReason::CrossAccountKms { .. }));
    assert_eq!(
        d.to_string(),
        format!(
            "access denied: acs:ram::{A}:root is not allowed kms:Decrypt on {}: the key belongs to \
             account {B}, and KMS keys are used only by principals of their own account; assume a \
             role of account {B} (a role chain) that is allowed to use the key",
            key(B)
        )
    );
    let d = denied(iam.authorize(&root_a, "ram:PassRole", &Arn::role(&acct(B), "x"), &ctx));
    assert!(
        matches!(*d.reason(), DenyReason::CrossAccount { .. }),
        "{d}"
    );
    let ghost = Principal::Root {
        account: acct("99"),
    };
    let d = denied(iam.authorize(&ghost, "kms:Decrypt", &key("99"), &ctx));
    assert_eq!(*d.reason(), DenyReason::UnknownPrincipal);
}

#[test]
fn users_get_what_their_policies_allow_and_deny_wins() {
    let (iam, _) = iam();
    let ctx = RequestContext::new();
    let nobody = user_with(&iam, A, "nobody", &[]);
    let d = denied(iam.authorize(&nobody, "kms:Decrypt", &key(A), &ctx));
    assert!(
        d.to_string()
            .contains("user nobody has no policies attached"),
        "{d}"
    );

    let deny = r#"{"Version":"1","Statement":[{"Sid":"NoProd","Effect":"Deny","Action":"kms:*",
                  "Resource":"acs:kms:*:*:key/key-bjj*"}]}"#;
    let u = user_with(&iam, A, "u", &[&allow("kms:*", "*"), deny]);
    iam.authorize(
        &u,
        "kms:Decrypt",
        &Arn::kms_key("cn-beijing", &acct(A), "other"),
        &ctx,
    )
    .unwrap();
    let d = denied(iam.authorize(&u, "kms:Decrypt", &key(A), &ctx));
    assert_eq!(
        d.to_string(),
        format!(
            "access denied: acs:ram::{A}:user/u is not allowed kms:Decrypt on {}: explicitly denied \
             by Statement[0] (Sid 'NoProd') of custom policy u-p1 of account {A}",
            key(A)
        )
    );
    let d = denied(iam.authorize(&u, "ram:PassRole", &Arn::role(&acct(A), "r"), &ctx));
    assert!(
        d.to_string()
            .contains("none of the 2 policies attached to user u allows"),
        "{d}"
    );

    // Even an administrator of A cannot use B's keys.
    let admin = user_with(&iam, A, "admin", &[&allow("*", "*")]);
    let d = denied(iam.authorize(&admin, "kms:Decrypt", &key(B), &ctx));
    assert!(matches!(*d.reason(), DenyReason::CrossAccountKms { .. }));
}

#[test]
fn services_hold_no_permissions() {
    let (iam, _) = iam();
    let svc = Principal::Service(ServiceName::warehouse());
    let d = denied(iam.authorize(&svc, "kms:Decrypt", &key(A), &RequestContext::new()));
    assert_eq!(*d.reason(), DenyReason::ServiceHasNoPermissions);
    assert!(
        d.to_string()
            .starts_with("access denied: service sealhouse-warehouse (odps.aliyuncs.com)")
    );
}

#[test]
fn current_time_comes_from_the_clock() {
    let (iam, clock) = iam();
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
                  "Condition":{"DateLessThan":{"acs:CurrentTime":"2026-06-01T00:00:00Z"}}}]}"#;
    let u = user_with(&iam, A, "u", &[doc]);
    let ctx = RequestContext::new();
    // The test clock starts at 2026-05-28T20:26:40Z.
    iam.authorize(&u, "kms:Decrypt", &key(A), &ctx).unwrap();
    clock.advance(time::Duration::days(4));
    denied(iam.authorize(&u, "kms:Decrypt", &key(A), &ctx));
    let earlier = RequestContext::new().with("acs:CurrentTime", "2026-01-01T00:00:00Z");
    iam.authorize(&u, "kms:Decrypt", &key(A), &earlier).unwrap();
}

#[test]
fn cross_account_assume_role_needs_the_trust_policy() {
    let (iam, _) = iam();
    let ctx = RequestContext::new();
    let trust_b = TrustPolicy::trusting_ram(&[&format!("acs:ram::{B}:root")]);
    iam.create_role(&acct(A), "shared", &trust_b, None, "")
        .unwrap();
    iam.create_role(
        &acct(A),
        "private",
        &TrustPolicy::trusting_service("x.y"),
        None,
        "",
    )
    .unwrap();
    let u = user_with(&iam, B, "u", &[&allow("sts:AssumeRole", "*")]);
    iam.authorize(&u, "sts:AssumeRole", &Arn::role(&acct(A), "shared"), &ctx)
        .unwrap();
    let d = denied(iam.authorize(&u, "sts:AssumeRole", &Arn::role(&acct(A), "private"), &ctx));
    assert!(matches!(*d.reason(), DenyReason::NotTrusted { .. }), "{d}");
    let d = denied(iam.authorize(&u, "sts:AssumeRole", &Arn::role(&acct(A), "missing"), &ctx));
    assert!(matches!(*d.reason(), DenyReason::NoSuchRole { .. }), "{d}");
}
