//! The spec's cross-account setup ("Set up cross-account access"), with the
//! spec's policy documents verbatim (account masks `****` filled with 1234):
//!
//! - USER_A's account 1892732288741234 holds the KMS key, role `mf-secr`
//!   (trusts the warehouse, has AliyunKMSCryptoUserAccess) and role
//!   `mf-secr2b` (trusts USER_B's account, may pass `mf-secr`);
//! - USER_B's account 1885386054511234 holds role `b-secr` (trusts the
//!   warehouse, may assume `mf-secr2b`) and a RAM user allowed to pass `b-secr`.
//!
//! The chain runs end to end to a session of `mf-secr` that may decrypt with
//! A's key; removing any single grant makes it fail with an error naming that
//! grant's step, principal, action and resource.

// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use sealhouse_iam::policy::trust::TrustPolicy;

mod spec_world;
use sealhouse_iam::{
    AttachTarget, ChainStep, DenyReason, Iam, NoSealing, Principal, RequestContext, RoleChainError,
    ServiceName, SqliteStore,
};
use spec_world::*;

/// USE_WRAPPED_KEYSET(key, 'acs:ram::A:role/mf-secr', ks, 'acs:ram::B:role/b-secr,acs:ram::A:role/mf-secr2b')
/// as USER_B's RAM user: the chain, then the KMS call.
fn decrypt_as_user_b(iam: &Iam) -> Result<Principal, String> {
    let chain = [role(B, "b-secr"), role(A, "mf-secr2b")];
    let ctx = RequestContext::new();
    let warehouse = ServiceName::new("odps.aliyuncs.com").unwrap();
    let session = iam
        .resolve_role_chain(&user_b(), &warehouse, &role(A, "mf-secr"), &chain, &ctx)
        .map_err(|e| e.to_string())?;
    iam.authorize(&session, "kms:Decrypt", &key(), &ctx)
        .map_err(|e| e.to_string())?;
    Ok(session)
}

#[test]
fn the_chain_succeeds_end_to_end_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    setup(&Iam::new(SqliteStore::open(&path).unwrap(), NoSealing));
    let iam = Iam::new(SqliteStore::open(&path).unwrap(), NoSealing);
    let session = decrypt_as_user_b(&iam).unwrap();
    assert_eq!(
        session.to_string(),
        format!("acs:ram::{A}:assumed-role/mf-secr/sealhouse-warehouse")
    );
    let ctx = RequestContext::new();
    for action in ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"] {
        iam.authorize(&session, action, &key(), &ctx).unwrap();
    }
    // The crypto-user policy does not manage keys.
    let d = iam
        .authorize(&session, "kms:ScheduleKeyDeletion", &key(), &ctx)
        .unwrap_err();
    assert!(
        matches!(*d.reason(), DenyReason::NoPolicyAllows { .. }),
        "{d}"
    );
    // Neither USER_B's user nor the intermediate session can use A's key directly.
    let d = iam
        .authorize(&user_b(), "kms:Decrypt", &key(), &ctx)
        .unwrap_err();
    assert!(
        matches!(
            *d.reason(),
            DenyReason::NoPolicyAllows { .. } | DenyReason::CrossAccountKms { .. }
        ),
        "{d}"
    );
    let mid = iam
        .assume_role_chain(
            &user_b(),
            &ServiceName::warehouse(),
            &role(B, "b-secr"),
            &[role(A, "mf-secr2b")],
            &ctx,
        )
        .unwrap();
    assert_eq!(
        mid.to_string(),
        format!("acs:ram::{A}:assumed-role/mf-secr2b/sealhouse-warehouse")
    );
    assert!(iam.authorize(&mid, "kms:Decrypt", &key(), &ctx).is_err());
}

#[test]
fn same_account_user_a_needs_only_pass_role_on_mf_secr() {
    let iam = fresh();
    let a = acct(A);
    iam.create_user(&a, "user_a").unwrap();
    let user_a = Principal::User {
        account: a.clone(),
        name: "user_a".into(),
    };
    let ctx = RequestContext::new();
    let w = ServiceName::warehouse();
    let err = iam
        .resolve_role_chain(&user_a, &w, &role(A, "mf-secr"), &[], &ctx)
        .unwrap_err();
    assert!(
        matches!(err.step(), Some(ChainStep::PassRole { .. })),
        "{err}"
    );
    iam.create_policy(&a, "user-a-pass", PASS_MF_SECR, "")
        .unwrap();
    let target = AttachTarget::User {
        account: a,
        name: "user_a".into(),
    };
    iam.attach_policy(&target, &custom(A, "user-a-pass"))
        .unwrap();
    let session = iam
        .resolve_role_chain(&user_a, &w, &role(A, "mf-secr"), &[], &ctx)
        .unwrap();
    iam.authorize(&session, "kms:Decrypt", &key(), &ctx)
        .unwrap();
}

/// Runs the chain after `remove` and checks the error names the step, the
/// principal, the action and the resource.
fn fails_without(remove: impl Fn(&Iam), step: &str, principal: &str, action: &str, resource: &str) {
    let iam = fresh();
    decrypt_as_user_b(&iam).expect("the full setup works");
    remove(&iam);
    let err = decrypt_as_user_b(&iam).expect_err("a grant was removed");
    for needle in [step, principal, action, resource] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

const USER_B: &str = "acs:ram::1885386054511234:user/analyst";
const B_SECR: &str = "acs:ram::1885386054511234:role/b-secr";
const B_SECR_SESSION: &str = "acs:ram::1885386054511234:assumed-role/b-secr/sealhouse-warehouse";
const MF_SECR2B: &str = "acs:ram::1892732288741234:role/mf-secr2b";
const MF_SECR2B_SESSION: &str =
    "acs:ram::1892732288741234:assumed-role/mf-secr2b/sealhouse-warehouse";
const MF_SECR: &str = "acs:ram::1892732288741234:role/mf-secr";
const WAREHOUSE: &str = "service sealhouse-warehouse (odps.aliyuncs.com)";

#[test]
fn without_user_b_pass_role_on_b_secr() {
    fails_without(
        |iam| {
            iam.detach_policy(&user_b_target(), &custom(B, "pass-b-secr"))
                .unwrap()
        },
        &format!("role chain step 1 (PassRole of role {B_SECR} by {USER_B})"),
        USER_B,
        "ram:PassRole",
        B_SECR,
    );
}

#[test]
fn without_b_secr_trusting_the_warehouse() {
    fails_without(
        |iam| {
            iam.set_role_trust_policy(
                &role(B, "b-secr"),
                &TrustPolicy::trusting_service("hologres.aliyuncs.com"),
            )
            .unwrap()
        },
        &format!(
            "role chain step 2 (trust of role {B_SECR} for service sealhouse-warehouse (odps.aliyuncs.com))"
        ),
        WAREHOUSE,
        "sts:AssumeRole",
        "does not name this service under Principal.Service",
    );
}

#[test]
fn without_b_secr_allowed_to_assume_mf_secr2b() {
    fails_without(
        |iam| {
            iam.detach_policy(&role_target(B, "b-secr"), &custom(B, "assume-mf-secr2b"))
                .unwrap()
        },
        &format!("role chain step 3 (AssumeRole of role {MF_SECR2B} by {B_SECR_SESSION})"),
        B_SECR_SESSION,
        "sts:AssumeRole",
        "role b-secr has no policies attached",
    );
}

#[test]
fn without_mf_secr2b_trusting_account_b() {
    fails_without(
        |iam| {
            iam.set_role_trust_policy(
                &role(A, "mf-secr2b"),
                &TrustPolicy::trusting_ram(&["acs:ram::1111222233334444:root"]),
            )
            .unwrap()
        },
        &format!("role chain step 3 (AssumeRole of role {MF_SECR2B} by {B_SECR_SESSION})"),
        B_SECR_SESSION,
        "sts:AssumeRole",
        &format!("the trust policy of role {MF_SECR2B} names neither"),
    );
}

#[test]
fn without_mf_secr2b_pass_role_on_mf_secr() {
    fails_without(
        |iam| {
            iam.detach_policy(&role_target(A, "mf-secr2b"), &custom(A, "pass-mf-secr"))
                .unwrap()
        },
        &format!("role chain step 4 (PassRole of role {MF_SECR} by {MF_SECR2B_SESSION})"),
        MF_SECR2B_SESSION,
        "ram:PassRole",
        MF_SECR,
    );
}

#[test]
fn without_mf_secr_trusting_the_warehouse() {
    fails_without(
        |iam| {
            iam.set_role_trust_policy(&role(A, "mf-secr"), &trusts_account_b())
                .unwrap()
        },
        &format!("role chain step 5 (trust of role {MF_SECR} for service sealhouse-warehouse"),
        WAREHOUSE,
        "sts:AssumeRole",
        MF_SECR,
    );
}

#[test]
fn without_the_kms_policy_on_mf_secr() {
    fails_without(
        |iam| {
            iam.detach_policy(&role_target(A, "mf-secr"), &crypto_user())
                .unwrap()
        },
        "access denied: acs:ram::1892732288741234:assumed-role/mf-secr/sealhouse-warehouse is not allowed kms:Decrypt",
        "assumed-role/mf-secr/sealhouse-warehouse",
        "kms:Decrypt",
        "acs:kms:cn-beijing:1892732288741234:key/key-bjj6527b6c6465hsf1234",
    );
}

#[test]
fn chain_errors_are_typed_as_well_as_worded() {
    let iam = fresh();
    iam.detach_policy(&role_target(B, "b-secr"), &custom(B, "assume-mf-secr2b"))
        .unwrap();
    let chain = [role(B, "b-secr"), role(A, "mf-secr2b")];
    let err = iam
        .resolve_role_chain(
            &user_b(),
            &ServiceName::warehouse(),
            &role(A, "mf-secr"),
            &chain,
            &RequestContext::new(),
        )
        .unwrap_err();
    let RoleChainError::Denied {
        number,
        step,
        denied,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(number, 3);
    assert!(matches!(*step, ChainStep::AssumeRole { .. }));
    assert_eq!(denied.principal(), B_SECR_SESSION);
    assert_eq!(denied.action(), "sts:AssumeRole");
    assert_eq!(denied.resource(), MF_SECR2B);
    let long = vec![role(B, "b-secr"); 11];
    let err = iam
        .assume_role_chain(
            &user_b(),
            &ServiceName::warehouse(),
            &role(B, "b-secr"),
            &long,
            &RequestContext::new(),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the role chain has 12 roles; at most 10 are allowed"
    );
}

#[test]
fn the_external_engine_is_a_service_roles_can_trust() {
    let iam = fresh();
    let a = acct(A);
    iam.create_role(
        &a,
        "holo",
        &TrustPolicy::trusting_service("hologres.aliyuncs.com"),
        None,
        "",
    )
    .unwrap();
    iam.attach_policy(&role_target(A, "holo"), &crypto_user())
        .unwrap();
    let root = Principal::Root { account: a };
    let engine = ServiceName::new("hologres.aliyuncs.com").unwrap();
    let ctx = RequestContext::new();
    let session = iam
        .resolve_role_chain(&root, &engine, &role(A, "holo"), &[], &ctx)
        .unwrap();
    iam.authorize(&session, "kms:Decrypt", &key(), &ctx)
        .unwrap();
    let err = iam
        .resolve_role_chain(
            &root,
            &ServiceName::warehouse(),
            &role(A, "holo"),
            &[],
            &ctx,
        )
        .unwrap_err();
    assert!(
        matches!(err.step(), Some(ChainStep::ServiceTrust { .. })),
        "{err}"
    );
}
