//! A small world for the KMS tests: two accounts (A and B) in an identity
//! service, a KMS over a temporary data directory with its root key in a file
//! outside it, and a manual clock shared by both.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{
    AccountId, AttachTarget, Iam, ManualClock, NewAccessKey, PolicyRef, Principal, SqliteStore,
};
use sealhouse_kms::api::{
    CreateKeyRequest, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse,
    EncryptionContext, KeyMetadata,
};
use sealhouse_kms::{ErrorCode, Kms, KmsData, KmsError, KmsHandle, KmsService, RootKey};
use tempfile::TempDir;
use time::OffsetDateTime;

pub const A: &str = "1892732288741234";
pub const B: &str = "1885386054511234";

pub struct World {
    pub base: TempDir,
    pub root_dir: TempDir,
    pub clock: Arc<ManualClock>,
    pub iam: Arc<Iam>,
    kms: Option<KmsService>,
    pub root_access_key_a: NewAccessKey,
}

impl World {
    pub fn new() -> Self {
        let base = tempfile::tempdir().unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.path().join("data")).unwrap();
        let root_key = RootKey::create_file(&root_dir.path().join("kms-root.key")).unwrap();
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap(),
        ));
        let iam = open_iam(&base, &root_key, &clock);
        let root_access_key_a = iam.create_account(&acct(A)).unwrap();
        iam.create_account(&acct(B)).unwrap();
        let kms = KmsService::open(
            &data_dir(&base),
            Arc::clone(&iam),
            root_key,
            Arc::clone(&clock),
        )
        .unwrap();
        Self {
            base,
            root_dir,
            clock,
            iam,
            kms: Some(kms),
            root_access_key_a,
        }
    }

    pub fn kms(&self) -> &KmsService {
        self.kms.as_ref().unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        data_dir(&self.base)
    }

    pub fn root_key_path(&self) -> PathBuf {
        self.root_dir.path().join("kms-root.key")
    }

    /// Drops the service (and the identity service) and opens both again
    /// from disk, with the root key read back from its file.
    pub fn restart(&mut self) {
        drop(self.kms.take());
        let root_key = RootKey::load_file(&self.root_key_path()).unwrap();
        self.iam = open_iam(&self.base, &root_key, &self.clock);
        self.kms = Some(
            KmsService::open(
                &self.data_dir(),
                Arc::clone(&self.iam),
                root_key,
                Arc::clone(&self.clock),
            )
            .unwrap(),
        );
    }

    pub fn root_a(&self) -> KmsHandle {
        self.kms()
            .as_principal(Principal::Root { account: acct(A) })
    }

    pub fn root_b(&self) -> KmsHandle {
        self.kms()
            .as_principal(Principal::Root { account: acct(B) })
    }

    /// A user of account A with the given system policies attached.
    pub fn user_a(&self, name: &str, system_policies: &[&str]) -> KmsHandle {
        self.iam.create_user(&acct(A), name).unwrap();
        let target = AttachTarget::User {
            account: acct(A),
            name: name.to_owned(),
        };
        for p in system_policies {
            self.iam
                .attach_policy(&target, &PolicyRef::System((*p).to_owned()))
                .unwrap();
        }
        self.kms().as_principal(Principal::User {
            account: acct(A),
            name: name.to_owned(),
        })
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }
}

fn data_dir(base: &TempDir) -> PathBuf {
    base.path().join("data")
}

fn open_iam(base: &TempDir, root_key: &RootKey, clock: &Arc<ManualClock>) -> Arc<Iam> {
    let store = SqliteStore::open(&data_dir(base).join("iam.db")).unwrap();
    Arc::new(Iam::new(store, root_key.secret_sealer()).with_clock(Arc::clone(clock)))
}

pub fn acct(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

pub fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn new_key(kms: &dyn Kms) -> KeyMetadata {
    kms.create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata
}

pub fn encrypt(
    kms: &dyn KmsData,
    key_id: &str,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<EncryptResponse, KmsError> {
    kms.encrypt(&EncryptRequest {
        key_id: key_id.to_owned(),
        plaintext: SecretBytes::from_slice(plaintext),
        encryption_context: context.clone(),
    })
}

pub fn decrypt(
    kms: &dyn KmsData,
    blob: &[u8],
    context: &EncryptionContext,
) -> Result<DecryptResponse, KmsError> {
    kms.decrypt(&DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: context.clone(),
    })
}

/// Asserts that `result` failed with `code`, and returns the error.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, KmsError>, code: ErrorCode) -> KmsError {
    match result {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            assert!(e.request_id().is_some(), "errors carry the request id: {e}");
            e
        }
    }
}
