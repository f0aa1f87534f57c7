//! The identity side of SQL tests that run sessions as principals: an
//! identity store with accounts A and B, the embedded KMS on a fresh
//! directory, one manual clock for both, and the principals by name.

use std::sync::Arc;
use std::time::Duration;

use sealhouse_iam::{AccountId, Iam, ManualClock, NoSealing, Principal, SqliteStore};
use sealhouse_kms::api::CreateKeyRequest;
use sealhouse_kms::{Kms, KmsService, RootKey};
use sealhouse_sql::IdentityServices;
use time::OffsetDateTime;

use super::{ACCOUNT_A, ACCOUNT_B};

pub struct Identities {
    /// The KMS's directory (`kms/`); tests put their catalog beside it.
    pub dir: tempfile::TempDir,
    pub iam: Arc<Iam>,
    pub kms: KmsService,
    pub clock: Arc<ManualClock>,
}

impl Identities {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let iam = Arc::new(
            Iam::new(SqliteStore::open_in_memory().expect("iam"), NoSealing)
                .with_clock(clock.clone()),
        );
        for uid in [ACCOUNT_A, ACCOUNT_B] {
            iam.create_account(&account(uid)).expect("account");
        }
        let kms = KmsService::open(
            &dir.path().join("kms"),
            Arc::clone(&iam),
            RootKey::generate().expect("root key"),
            clock.clone(),
        )
        .expect("kms");
        Self {
            dir,
            iam,
            kms,
            clock,
        }
    }

    /// What sessions reach the identity store and the KMS through: a KMS
    /// cache of `ttl` on the test clock, account A as the local account.
    pub fn services(&self, ttl: Duration) -> Arc<IdentityServices> {
        services(&self.iam, &self.kms, &self.clock, ttl)
    }

    /// A new CMK of account `uid`, made by its root; its ARN.
    pub fn new_cmk(&self, uid: &str) -> String {
        self.kms
            .as_principal(root(uid))
            .create_key(&CreateKeyRequest::default())
            .expect("create key")
            .key_metadata
            .arn
    }
}

/// [`Identities::services`] for a test world that keeps the parts apart.
pub fn services(
    iam: &Arc<Iam>,
    kms: &KmsService,
    clock: &Arc<ManualClock>,
    ttl: Duration,
) -> Arc<IdentityServices> {
    Arc::new(
        IdentityServices::new(
            Arc::clone(iam),
            Arc::new(kms.clone()),
            ttl,
            account(ACCOUNT_A),
        )
        .with_clock(clock.clone()),
    )
}

pub fn account(uid: &str) -> AccountId {
    AccountId::new(uid).expect("account id")
}

pub fn root(uid: &str) -> Principal {
    Principal::Root {
        account: account(uid),
    }
}

pub fn user(uid: &str, name: &str) -> Principal {
    Principal::User {
        account: account(uid),
        name: name.into(),
    }
}
