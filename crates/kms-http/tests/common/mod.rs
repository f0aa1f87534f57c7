//! A KMS served over HTTP for the tests: an identity service with account A
//! (and B), a KMS over a temporary directory, and the server on
//! 127.0.0.1:<ephemeral> in a background tokio runtime.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::signing::Credentials;
use sealhouse_iam::{
    AccountId, AttachTarget, Iam, NewAccessKey, PolicyRef, Principal, SqliteStore, SystemClock,
};
use sealhouse_kms::api::{DecryptRequest, EncryptRequest, EncryptionContext};
use sealhouse_kms::{ErrorCode, Kms, KmsError, KmsService, RootKey};
use sealhouse_kms_http::{KmsClient, ServeOptions, endpoint_hosts};
use tempfile::TempDir;

pub const A: &str = "1892732288741234";
pub const B: &str = "1885386054511234";

pub struct Served {
    pub dir: TempDir,
    pub iam: Arc<Iam>,
    pub service: Arc<KmsService>,
    pub addr: SocketAddr,
    pub root_key_a: NewAccessKey,
    pub root_key_b: NewAccessKey,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::create_file(&dir.path().join("kms-root.key")).unwrap();
        let store = SqliteStore::open(&dir.path().join("iam.db")).unwrap();
        let iam = Arc::new(Iam::new(store, root.secret_sealer()));
        let root_key_a = iam.create_account(&acct(A)).unwrap();
        let root_key_b = iam.create_account(&acct(B)).unwrap();
        let service = Arc::new(
            KmsService::open(&dir.path().join("kms"), Arc::clone(&iam), root, SystemClock).unwrap(),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(sealhouse_kms_http::serve(
            listener,
            Arc::clone(&service),
            Arc::clone(&iam),
            ServeOptions {
                hosts: Some(endpoint_hosts(addr, &[])),
                tls: None,
            },
        ));
        Self {
            dir,
            iam,
            service,
            addr,
            root_key_a,
            root_key_b,
            runtime,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self, key: &NewAccessKey) -> KmsClient {
        KmsClient::new(&self.endpoint(), Credentials::from(key)).unwrap()
    }

    /// Account A's root, over HTTP.
    pub fn root_a(&self) -> KmsClient {
        self.client(&self.root_key_a)
    }

    /// A user of account A with these system policies, and its access key.
    pub fn user_a(&self, name: &str, system_policies: &[&str]) -> NewAccessKey {
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
        self.iam
            .create_access_key(&Principal::User {
                account: acct(A),
                name: name.to_owned(),
            })
            .unwrap()
    }
}

pub fn acct(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

pub fn expect_code<T: std::fmt::Debug>(result: Result<T, KmsError>, code: ErrorCode) -> KmsError {
    let e = result.unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    e
}

/// An encryption context of `pairs`.
pub fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `plaintext` encrypted under `key_id` with context `c`: the blob.
pub fn encrypt(kms: &dyn Kms, key_id: &str, plaintext: &[u8], c: &EncryptionContext) -> Vec<u8> {
    kms.encrypt(&EncryptRequest {
        key_id: key_id.to_owned(),
        plaintext: SecretBytes::from_slice(plaintext),
        encryption_context: c.clone(),
    })
    .unwrap()
    .ciphertext_blob
}

/// The Decrypt request of `blob` under context `c`.
pub fn decrypt_req(blob: &[u8], c: &EncryptionContext) -> DecryptRequest {
    DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: c.clone(),
    }
}
