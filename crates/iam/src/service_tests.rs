use crate::policy::trust::TrustPolicy;
use crate::testutil::{A, B, acct, allow, iam};
use crate::{AccessKeyStatus, Arn, AttachTarget, AuthError, Error, PolicyRef, Principal};

#[test]
fn accounts_get_a_root_key_that_authenticates() {
    let (iam, _) = iam();
    let key = iam.create_account(&acct("42")).unwrap();
    assert!(
        key.id.starts_with("LTAI") && key.id.len() == 24,
        "{}",
        key.id
    );
    assert_eq!(key.secret.expose().len(), 30);
    let root = Principal::Root {
        account: acct("42"),
    };
    assert_eq!(iam.authenticate(&key.id).unwrap(), root);
    let cred = iam.secret_for_access_key(&key.id).unwrap();
    assert_eq!(cred.secret, key.secret);
    assert_eq!(cred.expiration, None);
    cred.check_security_token(None).unwrap();
    assert!(cred.check_security_token(Some("x")).is_err());
    let again = iam.create_account(&acct("42")).unwrap_err();
    assert_eq!(again.to_string(), "account 42 already exists");
}

#[test]
fn users_and_their_keys() {
    let (iam, _) = iam();
    let a = acct(A);
    let user = iam.create_user(&a, "Alice").unwrap();
    assert_eq!(user.arn().to_string(), format!("acs:ram::{A}:user/alice"));
    let dup = iam.create_user(&a, "ALICE").unwrap_err();
    assert!(
        matches!(dup, Error::AlreadyExists { kind: "user", .. }),
        "{dup}"
    );
    assert!(matches!(
        iam.create_user(&a, "bad name"),
        Err(Error::InvalidName(_))
    ));
    let missing = iam.create_user(&acct("7"), "bob").unwrap_err();
    assert_eq!(missing.to_string(), "account 7 does not exist");

    let key = iam.create_access_key(&user.principal()).unwrap();
    assert_eq!(iam.authenticate(&key.id).unwrap(), user.principal());
    iam.set_access_key_status(&key.id, AccessKeyStatus::Inactive)
        .unwrap();
    let err = iam.authenticate(&key.id).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Authentication(AuthError::AccessKeyInactive { .. })
        ),
        "{err}"
    );
    iam.set_access_key_status(&key.id, AccessKeyStatus::Active)
        .unwrap();
    iam.authenticate(&key.id).unwrap();

    let err = iam.authenticate("LTAInosuchkey").unwrap_err();
    assert_eq!(
        err.to_string(),
        "access key id 'LTAInosuchkey' does not exist"
    );
    let ghost = Principal::User {
        account: a.clone(),
        name: "ghost".into(),
    };
    assert!(matches!(
        iam.create_access_key(&ghost),
        Err(Error::NotFound { kind: "user", .. })
    ));
    let session = Principal::AssumedRole {
        account: a,
        role: "r".into(),
        session: "s1".into(),
    };
    let err = iam.create_access_key(&session).unwrap_err();
    assert!(
        err.to_string().contains("roles get temporary credentials"),
        "{err}"
    );
}

#[test]
fn roles_check_trust_policy_and_durations() {
    let (iam, _) = iam();
    let a = acct(A);
    let trust = TrustPolicy::trusting_service("odps.aliyuncs.com");
    let role = iam
        .create_role(&a, "MF-Secr", &trust, None, "keys")
        .unwrap();
    assert_eq!(role.max_session_duration, 3600);
    let arn = Arn::parse(&format!("acs:ram::{A}:role/mf-secr")).unwrap();
    assert_eq!(iam.role(&arn).unwrap().name, "MF-Secr");
    let err = iam.create_role(&a, "r2", "{}", None, "").unwrap_err();
    assert!(matches!(err, Error::InvalidPolicy(_)), "{err}");
    let err = iam
        .create_role(&a, "r2", &trust, Some(100), "")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("MaxSessionDuration 100 is out of range"),
        "{err}"
    );
    let err = iam
        .create_role(&a, "mf-secr", &trust, None, "")
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { kind: "role", .. }));
    iam.set_role_trust_policy(
        &arn,
        &TrustPolicy::trusting_ram(&[&format!("acs:ram::{B}:root")]),
    )
    .unwrap();
    assert!(iam.role(&arn).unwrap().trust_policy.contains(B));
    let err = iam
        .set_role_trust_policy(&Arn::role(&a, "nope"), &trust)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("role acs:ram::{A}:role/nope does not exist")
    );
    let err = iam.role(&Arn::root(&a)).unwrap_err();
    assert!(err.to_string().contains("is not a role ARN"), "{err}");
}

#[test]
fn policies_attach_within_their_account() {
    let (iam, _) = iam();
    let (a, b) = (acct(A), acct(B));
    iam.create_user(&a, "alice").unwrap();
    let target = AttachTarget::User {
        account: a.clone(),
        name: "Alice".into(),
    };
    let doc = allow("kms:Decrypt", "*");
    iam.create_policy(&a, "decrypt", &doc, "").unwrap();
    iam.create_policy(&b, "decrypt", &doc, "").unwrap();
    let mine = PolicyRef::Custom {
        account: a.clone(),
        name: "decrypt".into(),
    };
    let theirs = PolicyRef::Custom {
        account: b,
        name: "decrypt".into(),
    };
    let system = PolicyRef::System("AliyunKMSCryptoUserAccess".into());

    iam.attach_policy(&target, &system).unwrap();
    iam.attach_policy(&target, &mine).unwrap();
    assert_eq!(
        iam.attached_policies(&target).unwrap(),
        vec![system.clone(), mine.clone()]
    );
    let err = iam.attach_policy(&target, &mine).unwrap_err();
    assert!(
        matches!(
            err,
            Error::AlreadyExists {
                kind: "attachment",
                ..
            }
        ),
        "{err}"
    );
    let err = iam.attach_policy(&target, &theirs).unwrap_err();
    assert!(
        err.to_string()
            .contains("create the policy in that account"),
        "{err}"
    );
    let err = iam
        .attach_policy(&target, &PolicyRef::System("Nope".into()))
        .unwrap_err();
    assert!(err.to_string().contains("AliyunKMSFullAccess"), "{err}");
    iam.detach_policy(&target, &system).unwrap();
    assert_eq!(iam.attached_policies(&target).unwrap(), vec![mine]);
    let err = iam.detach_policy(&target, &system).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: "attachment",
                ..
            }
        ),
        "{err}"
    );
    let role_target = AttachTarget::Role {
        account: a.clone(),
        name: "none".into(),
    };
    assert!(matches!(
        iam.attach_policy(&role_target, &system),
        Err(Error::NotFound { kind: "role", .. })
    ));

    let err = iam
        .create_policy(&a, "big", &" ".repeat(7000), "")
        .unwrap_err();
    assert!(err.to_string().contains("the limit is 6144"), "{err}");
    let err = iam
        .create_policy(&a, "bad", r#"{"Version":"1","Statement":[]}"#, "")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPolicy(_)), "{err}");
    assert!(matches!(
        iam.create_policy(&a, "decrypt", &doc, ""),
        Err(Error::AlreadyExists { .. })
    ));
}
