//! The world the storage encryption tests share: the common `Identities`
//! (accounts A and B, the embedded KMS on a manual clock), a warehouse
//! catalog, a BYOK key of A, and sessions over them.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[allow(unused_imports)]
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;
pub use std::time::Duration;

#[allow(unused_imports)] // used by some of the tests sharing this world
pub use crate::common::{ACCOUNT_A as A, ACCOUNT_B as B};
pub use crate::common::{Backend, TableFiles, WorldSession, text};
pub use sealhouse_iam::{AttachTarget, Iam, ManualClock, PolicyRef, Principal};
pub use sealhouse_kms::api::EncryptionContext;
#[allow(unused_imports)] // used by some of the tests sharing this world
pub use sealhouse_kms::{Kms, KmsService};
#[allow(unused_imports)]
pub use sealhouse_sql::{SqlSession, StatementOutput};
pub use sealhouse_storage::{Catalog, StorageAlgorithm};
/// What the tests insert and then look for in the files' bytes.
pub const MARKER: &str = "sealhouse-plaintext-marker";

#[allow(unused_imports)] // used by some of the tests sharing this world
pub use crate::common::{Identities, account, root, user};

pub struct World {
    pub dir: tempfile::TempDir,
    pub iam: Arc<Iam>,
    pub kms: KmsService,
    pub clock: Arc<ManualClock>,
    pub catalog: Arc<Catalog>,
    /// Where the table files are.
    pub files: TableFiles,
    /// A CMK of account A (BYOK).
    pub key_arn: String,
    pub runtime: tokio::runtime::Runtime,
}

impl World {
    pub fn new() -> Self {
        Self::on(Backend::Local)
    }

    /// A world whose table files are on `backend`.
    pub fn on(backend: Backend) -> Self {
        let identities = Identities::new();
        let key_arn = identities.new_cmk(A);
        let Identities {
            dir,
            iam,
            kms,
            clock,
        } = identities;
        let files = TableFiles::new(backend);
        let catalog = files.open(&dir.path().join("warehouse"));
        let runtime = crate::common::runtime();
        Self {
            dir,
            iam,
            kms,
            clock,
            catalog,
            files,
            key_arn,
            runtime,
        }
    }

    /// A session of `principal` with a KMS cache of `ttl` on the test clock.
    pub fn session(&self, principal: Principal, ttl: Duration) -> Session<'_> {
        let services = crate::common::services(&self.iam, &self.kms, &self.clock, ttl);
        WorldSession::new(
            self,
            crate::common::Session::new(
                &self.runtime,
                SqlSession::with_identity(Arc::clone(&self.catalog), principal, services),
            ),
        )
    }

    pub fn root_session(&self) -> Session<'_> {
        self.session(root(A), Duration::ZERO)
    }

    /// A RAM user of A with `policy` (JSON) attached.
    pub fn add_user(&self, name: &str, policy: &str) {
        self.iam.create_user(&account(A), name).unwrap();
        self.iam
            .create_policy(&account(A), &format!("{name}-policy"), policy, "")
            .unwrap();
        self.iam
            .attach_policy(
                &AttachTarget::User {
                    account: account(A),
                    name: name.into(),
                },
                &PolicyRef::Custom {
                    account: account(A),
                    name: format!("{name}-policy"),
                },
            )
            .unwrap();
    }

    /// Every data file of the warehouse, with its bytes (on the disk, or
    /// the S3 server's files of the objects).
    pub fn data_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.files.stored(&self.dir.path().join("warehouse"))
    }

    /// The local file holding `file` (on S3: the server's file of it).
    pub fn file_path(&self, file: &sealhouse_storage::DataFile) -> PathBuf {
        self.files
            .path_of(&self.dir.path().join("warehouse"), &file.key)
    }

    /// The committed files of `project.table`.
    pub fn table_files(&self, project: &str, table: &str) -> Vec<sealhouse_storage::DataFile> {
        let info = self.catalog.table(project, table).unwrap();
        self.catalog.files(&info).unwrap()
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub type Session<'w> = WorldSession<'w, World>;

impl Session<'_> {
    /// `DESC PROJECT` as (property, value) pairs.
    pub fn describe(&mut self, project: &str) -> Vec<(String, String)> {
        let r = self.rows(&format!("DESC PROJECT {project}"));
        (0..r.batches.iter().map(|b| b.num_rows()).sum::<usize>())
            .map(|i| (text(&r, i, 0), text(&r, i, 1)))
            .collect()
    }

    pub fn property(&mut self, project: &str, name: &str) -> String {
        self.describe(project)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("DESC PROJECT {project} has no {name}"))
    }

    /// Inserts `n` rows whose text holds [`MARKER`], in one file.
    pub fn insert_marked(&mut self, table: &str, from: usize, n: usize) {
        self.ok(&format!(
            "INSERT INTO {table} SELECT CAST(value AS BIGINT) AS id, \
             concat('{MARKER}-', CAST(value AS STRING)) AS note \
             FROM generate_series({from}, {}) AS t(value)",
            from + n - 1
        ));
    }

    /// (count, sum of ids, count of notes that are exactly what was inserted).
    pub fn check(&mut self, table: &str) -> (String, String, String) {
        let r = self.rows(&format!(
            "SELECT count(*), sum(id), \
             sum(CASE WHEN note = concat('{MARKER}-', CAST(id AS STRING)) THEN 1 ELSE 0 END) \
             FROM {table}"
        ));
        (text(&r, 0, 0), text(&r, 0, 1), text(&r, 0, 2))
    }
}

pub const CREATE_T: &str = "CREATE TABLE t (id BIGINT, note STRING)";
