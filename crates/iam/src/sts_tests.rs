use time::Duration;

use crate::policy::trust::TrustPolicy;
use crate::testutil::{A, B, acct, allow, iam};
use crate::{
    Arn, AttachTarget, AuthError, DenyReason, Error, PolicyRef, Principal, RequestContext,
    ServiceName,
};

fn attach(iam: &crate::Iam, target: &AttachTarget, name: &str, doc: &str) {
    let account = target.account().clone();
    iam.create_policy(&account, name, doc, "").unwrap();
    iam.attach_policy(
        target,
        &PolicyRef::Custom {
            account,
            name: name.into(),
        },
    )
    .unwrap();
}

#[test]
fn assume_role_issues_credentials_that_authenticate_and_expire() {
    let (iam, clock) = iam();
    let a = acct(A);
    let trust = TrustPolicy::trusting_ram(&[&format!("acs:ram::{A}:root")]);
    iam.create_role(&a, "Reader", &trust, Some(7200), "")
        .unwrap();
    let role = Arn::role(&a, "reader");
    let root = Principal::Root { account: a.clone() };
    let ctx = RequestContext::new();
    let creds = iam
        .assume_role(&root, &role, "job-1", Some(1800), &ctx)
        .unwrap();
    assert!(creds.access_key_id.starts_with("STS."));
    let session = Principal::AssumedRole {
        account: a.clone(),
        role: "reader".into(),
        session: "job-1".into(),
    };
    assert_eq!(creds.assumed_role, session);
    assert_eq!(
        creds.assumed_role.to_string(),
        format!("acs:ram::{A}:assumed-role/reader/job-1")
    );

    let cred = iam.secret_for_access_key(&creds.access_key_id).unwrap();
    assert_eq!(cred.principal, session);
    assert_eq!(cred.secret, creds.secret);
    assert_eq!(cred.expiration, Some(creds.expiration));
    cred.check_security_token(Some(creds.security_token.expose()))
        .unwrap();
    let err = cred.check_security_token(Some("forged")).unwrap_err();
    assert!(matches!(err, AuthError::BadSecurityToken { .. }));
    assert!(cred.check_security_token(None).is_err());

    clock.advance(Duration::seconds(1799));
    iam.authenticate(&creds.access_key_id).unwrap();
    clock.advance(Duration::seconds(1));
    let err = iam.authenticate(&creds.access_key_id).unwrap_err();
    assert!(
        matches!(err, Error::Authentication(AuthError::Expired { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("call AssumeRole again"), "{err}");
    clock.advance(Duration::seconds(1));
    assert_eq!(iam.purge_expired_sessions().unwrap(), 1);
    let err = iam.authenticate(&creds.access_key_id).unwrap_err();
    assert!(matches!(
        err,
        Error::Authentication(AuthError::UnknownAccessKey { .. })
    ));
}

#[test]
fn durations_and_session_names_are_checked() {
    let (iam, _) = iam();
    let a = acct(A);
    let trust = TrustPolicy::trusting_ram(&[A]);
    iam.create_role(&a, "r", &trust, None, "").unwrap();
    let role = Arn::role(&a, "r");
    let root = Principal::Root { account: a };
    let ctx = RequestContext::new();
    let creds = iam.assume_role(&root, &role, "s1", None, &ctx).unwrap();
    assert_eq!((creds.expiration - iam.now()).whole_seconds(), 3600);
    for bad in [899, 3601] {
        let err = iam
            .assume_role(&root, &role, "s1", Some(bad), &ctx)
            .unwrap_err();
        assert!(
            err.to_string().contains("allows 900 to 3600 seconds"),
            "{err}"
        );
    }
    let err = iam.assume_role(&root, &role, "x", None, &ctx).unwrap_err();
    assert!(matches!(err, Error::InvalidName(_)), "{err}");
}

#[test]
fn both_the_callers_policy_and_the_trust_are_needed() {
    let (iam, _) = iam();
    let (a, b) = (acct(A), acct(B));
    let trust_b = TrustPolicy::trusting_ram(&[&format!("acs:ram::{B}:root")]);
    iam.create_role(&a, "shared", &trust_b, None, "").unwrap();
    let role = Arn::role(&a, "shared");
    iam.create_user(&b, "u").unwrap();
    let u = Principal::User {
        account: b.clone(),
        name: "u".into(),
    };
    let ctx = RequestContext::new();

    // (a) missing: the trust names u's account, but u's own policies do not allow it.
    let err = iam.assume_role(&u, &role, "s1", None, &ctx).unwrap_err();
    let Error::AccessDenied(d) = err else {
        panic!("{err}")
    };
    assert!(
        matches!(*d.reason(), DenyReason::NoPolicyAllows { .. }),
        "{d}"
    );
    assert_eq!(d.action(), "sts:AssumeRole");
    assert_eq!(d.resource(), role.to_string());

    let target = AttachTarget::User {
        account: b.clone(),
        name: "u".into(),
    };
    attach(
        &iam,
        &target,
        "assume",
        &allow("sts:AssumeRole", &format!("acs:ram:*:{A}:role/shared")),
    );
    iam.assume_role(&u, &role, "s1", None, &ctx).unwrap();

    // (b) missing: allowed by its policies, but the trust names another account.
    iam.set_role_trust_policy(&role, &TrustPolicy::trusting_ram(&["1"]))
        .unwrap();
    let err = iam.assume_role(&u, &role, "s1", None, &ctx).unwrap_err();
    let Error::AccessDenied(d) = err else {
        panic!("{err}")
    };
    assert!(matches!(*d.reason(), DenyReason::NotTrusted { .. }), "{d}");

    // The root of B passes (a) by definition; the trust still decides.
    let root_b = Principal::Root { account: b };
    iam.set_role_trust_policy(&role, &trust_b).unwrap();
    iam.assume_role(&root_b, &role, "s1", None, &ctx).unwrap();
}

#[test]
fn services_assume_roles_by_trust_alone() {
    let (iam, _) = iam();
    let a = acct(A);
    iam.create_role(
        &a,
        "mf-secr",
        &TrustPolicy::trusting_service("odps.aliyuncs.com"),
        None,
        "",
    )
    .unwrap();
    let role = Arn::role(&a, "mf-secr");
    let ctx = RequestContext::new();
    let warehouse = Principal::Service(ServiceName::warehouse());
    iam.check_assume_role(&warehouse, &role, &ctx).unwrap();
    let engine = Principal::Service(ServiceName::new("hologres.aliyuncs.com").unwrap());
    let d = iam.check_assume_role(&engine, &role, &ctx).unwrap_err();
    assert!(matches!(*d.reason(), DenyReason::NotTrusted { .. }), "{d}");
    // Trust for the service does not admit the account's own root.
    let root = Principal::Root { account: a };
    let d = iam.check_assume_role(&root, &role, &ctx).unwrap_err();
    assert!(matches!(*d.reason(), DenyReason::NotTrusted { .. }), "{d}");
}

#[test]
fn pass_role_needs_ram_pass_role_in_the_roles_account() {
    let (iam, _) = iam();
    let (a, b) = (acct(A), acct(B));
    let trust = TrustPolicy::trusting_service("odps.aliyuncs.com");
    iam.create_role(&a, "mf-secr", &trust, None, "").unwrap();
    iam.create_role(&b, "b-secr", &trust, None, "").unwrap();
    iam.create_user(&a, "u").unwrap();
    let u = Principal::User {
        account: a.clone(),
        name: "u".into(),
    };
    let ctx = RequestContext::new();
    let mine = Arn::role(&a, "mf-secr");
    let d = iam.check_pass_role(&u, &mine, &ctx).unwrap_err();
    assert_eq!(d.action(), "ram:PassRole");
    let target = AttachTarget::User {
        account: a.clone(),
        name: "u".into(),
    };
    attach(
        &iam,
        &target,
        "pass",
        &allow("ram:PassRole", "acs:ram:*:*:role/*"),
    );
    iam.check_pass_role(&u, &mine, &ctx).unwrap();
    let d = iam
        .check_pass_role(&u, &Arn::role(&b, "b-secr"), &ctx)
        .unwrap_err();
    assert!(
        matches!(*d.reason(), DenyReason::CrossAccount { .. }),
        "{d}"
    );
    let d = iam
        .check_pass_role(&u, &Arn::role(&a, "nope"), &ctx)
        .unwrap_err();
    assert_eq!(
        d.to_string(),
        format!(
            "access denied: acs:ram::{A}:user/u is not allowed ram:PassRole on acs:ram::{A}:role/nope: \
         role acs:ram::{A}:role/nope does not exist"
        )
    );
}
