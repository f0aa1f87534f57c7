//! The spec's two accounts and their roles, users and policy documents, as
//! the steps of "Set up KMS and grant permissions" and "Set up cross-account
//! access" create them. The documents are the spec's, verbatim, with the
//! account masks `****` filled with 1234.

#![allow(clippy::unwrap_used)]

use sealhouse_iam::policy::trust::TrustPolicy;
use sealhouse_iam::{
    AccountId, Arn, AttachTarget, Iam, NoSealing, PolicyRef, Principal, SqliteStore,
};

pub(crate) const A: &str = "1892732288741234";
pub(crate) const B: &str = "1885386054511234";

/// Step 4 of "Set KMS and grant permissions" and step 2 of the cross-account
/// setup: PassRole on mf-secr.
pub(crate) const PASS_MF_SECR: &str = r#"{
"Statement": [
{
"Effect": "Allow",
"Action": "ram:PassRole",
"Resource": "acs:ram:*:*:role/mf-secr"
}
],
"Version": "1"
}"#;

/// Step 4 of the cross-account setup: b-secr may assume mf-secr2b.
pub(crate) const ASSUME_MF_SECR2B: &str = r#"{
"Version": "1",
"Statement": [
{
"Effect": "Allow",
"Action": "sts:AssumeRole",
"Resource": "acs:ram:*:1892732288741234:role/mf-secr2b"
}
]
}"#;

/// Step 5 of the cross-account setup: USER_B's RAM user may pass b-secr.
pub(crate) const PASS_B_SECR: &str = r#"{
"Statement": [
{
"Effect": "Allow",
"Action": "ram:PassRole",
"Resource": "acs:ram:*:*:role/b-secr"
}
],
"Version": "1"
}"#;

/// The trust policy the console writes for "Alibaba Cloud Service: MaxCompute".
pub(crate) fn trusts_warehouse() -> String {
    TrustPolicy::trusting_service("odps.aliyuncs.com")
}

/// The trust policy the console writes for "Other Alibaba Cloud Account: USER_B".
pub(crate) fn trusts_account_b() -> String {
    TrustPolicy::trusting_ram(&[&format!("acs:ram::{B}:root")])
}

pub(crate) fn acct(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

pub(crate) fn role(uid: &str, name: &str) -> Arn {
    Arn::parse(&format!("acs:ram::{uid}:role/{name}")).unwrap()
}

pub(crate) fn key() -> Arn {
    Arn::parse(&format!(
        "acs:kms:cn-beijing:{A}:key/key-bjj6527b6c6465hsf1234"
    ))
    .unwrap()
}

pub(crate) fn custom(uid: &str, name: &str) -> PolicyRef {
    PolicyRef::Custom {
        account: acct(uid),
        name: name.into(),
    }
}

pub(crate) fn role_target(uid: &str, name: &str) -> AttachTarget {
    AttachTarget::Role {
        account: acct(uid),
        name: name.into(),
    }
}

pub(crate) fn user_b_target() -> AttachTarget {
    AttachTarget::User {
        account: acct(B),
        name: "analyst".into(),
    }
}

pub(crate) fn user_b() -> Principal {
    Principal::User {
        account: acct(B),
        name: "analyst".into(),
    }
}

pub(crate) fn crypto_user() -> PolicyRef {
    PolicyRef::System("AliyunKMSCryptoUserAccess".into())
}

/// Builds both accounts exactly as the spec's steps do.
pub(crate) fn setup(iam: &Iam) {
    let (a, b) = (acct(A), acct(B));
    iam.create_account(&a).unwrap();
    iam.create_account(&b).unwrap();

    // USER_A: mf-secr for the warehouse, with the crypto-user policy.
    iam.create_role(
        &a,
        "mf-secr",
        &trusts_warehouse(),
        None,
        "MaxCompute wraps keysets",
    )
    .unwrap();
    iam.attach_policy(&role_target(A, "mf-secr"), &crypto_user())
        .unwrap();
    // USER_A: mf-secr2b trusted by USER_B's account, allowed to pass mf-secr.
    iam.create_role(&a, "mf-secr2b", &trusts_account_b(), None, "for USER_B")
        .unwrap();
    iam.create_policy(&a, "pass-mf-secr", PASS_MF_SECR, "")
        .unwrap();
    iam.attach_policy(&role_target(A, "mf-secr2b"), &custom(A, "pass-mf-secr"))
        .unwrap();
    // USER_B: b-secr for the warehouse, allowed to assume mf-secr2b.
    iam.create_role(&b, "b-secr", &trusts_warehouse(), None, "")
        .unwrap();
    iam.create_policy(&b, "assume-mf-secr2b", ASSUME_MF_SECR2B, "")
        .unwrap();
    iam.attach_policy(&role_target(B, "b-secr"), &custom(B, "assume-mf-secr2b"))
        .unwrap();
    // USER_B: a RAM user allowed to pass b-secr.
    iam.create_user(&b, "analyst").unwrap();
    iam.create_policy(&b, "pass-b-secr", PASS_B_SECR, "")
        .unwrap();
    iam.attach_policy(&user_b_target(), &custom(B, "pass-b-secr"))
        .unwrap();
}

pub(crate) fn fresh() -> Iam {
    let iam = Iam::new(SqliteStore::open_in_memory().unwrap(), NoSealing);
    setup(&iam);
    iam
}
