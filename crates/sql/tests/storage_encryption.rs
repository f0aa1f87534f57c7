//! Project storage encryption end to end against the embedded identity
//! service and KMS: for each algorithm no stored byte holds the data and SQL
//! returns it intact; a flipped byte fails the read; encrypting a project
//! that holds data, then rewriting it; the immutability and permission
//! rules; the default key's ownership; and the KMS key state with the cache
//! TTL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::text;
use sealhouse_iam::{
    AccountId, AttachTarget, Iam, ManualClock, NoSealing, PolicyRef, Principal, SqliteStore,
};
use sealhouse_kms::api::{
    CreateKeyRequest, EncryptRequest, EncryptionContext, KeyRequest, ScheduleKeyDeletionRequest,
};
use sealhouse_kms::{Kms, KmsService, RootKey};
use sealhouse_sql::format::ResultSet;
use sealhouse_sql::{IdentityServices, StatementOutput, Warehouse};
use sealhouse_storage::{Catalog, StorageAlgorithm};
use time::OffsetDateTime;

const A: &str = "1892732288741234";
const B: &str = "1885386054511234";
/// What the tests insert and then look for in the files' bytes.
const MARKER: &str = "sealhouse-plaintext-marker";

fn account(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

fn user(uid: &str, name: &str) -> Principal {
    Principal::User {
        account: account(uid),
        name: name.into(),
    }
}

fn root(uid: &str) -> Principal {
    Principal::Root {
        account: account(uid),
    }
}

struct World {
    dir: tempfile::TempDir,
    iam: Arc<Iam>,
    kms: KmsService,
    clock: Arc<ManualClock>,
    catalog: Arc<Catalog>,
    /// A CMK of account A (BYOK).
    key_arn: String,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let iam = Arc::new(
            Iam::new(SqliteStore::open_in_memory().unwrap(), NoSealing).with_clock(clock.clone()),
        );
        iam.create_account(&account(A)).unwrap();
        iam.create_account(&account(B)).unwrap();
        let kms = KmsService::open(
            &dir.path().join("kms"),
            Arc::clone(&iam),
            RootKey::generate().unwrap(),
            clock.clone(),
        )
        .unwrap();
        let key_arn = kms
            .as_principal(root(A))
            .create_key(&CreateKeyRequest::default())
            .unwrap()
            .key_metadata
            .arn;
        let catalog = Catalog::open(&dir.path().join("warehouse"), common::catalog_key()).unwrap();
        let runtime = common::runtime();
        Self {
            dir,
            iam,
            kms,
            clock,
            catalog,
            key_arn,
            runtime,
        }
    }

    /// A session of `principal` with a KMS cache of `ttl` on the test clock.
    fn session(&self, principal: Principal, ttl: Duration) -> Session<'_> {
        let services = IdentityServices::new(
            Arc::clone(&self.iam),
            Arc::new(self.kms.clone()),
            ttl,
            account(A),
        )
        .with_clock(self.clock.clone());
        Session {
            world: self,
            warehouse: Warehouse::with_identity(
                Arc::clone(&self.catalog),
                principal,
                Arc::new(services),
            ),
        }
    }

    fn root_session(&self) -> Session<'_> {
        self.session(root(A), Duration::ZERO)
    }

    /// A RAM user of A with `policy` (JSON) attached.
    fn add_user(&self, name: &str, policy: &str) {
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

    /// Every data file of the warehouse, with its bytes.
    fn data_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    out.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        let projects = self.dir.path().join("warehouse");
        walk(&projects, &mut out);
        out
    }

    /// The committed files of `project.table`.
    fn table_files(&self, project: &str, table: &str) -> Vec<sealhouse_storage::DataFile> {
        let info = self.catalog.table(project, table).unwrap();
        self.catalog.files(&info).unwrap()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

struct Session<'w> {
    world: &'w World,
    warehouse: Warehouse,
}

impl Session<'_> {
    fn try_sql(&mut self, sql: &str) -> Result<StatementOutput, String> {
        self.world
            .runtime
            .block_on(self.warehouse.execute(sql))
            .map_err(|e| e.to_string())
    }

    fn ok(&mut self, sql: &str) -> String {
        match self.try_sql(sql) {
            Ok(other) => other.message().unwrap_or_default(),
            Err(e) => panic!("{sql}\nfailed: {e}"),
        }
    }

    fn rows(&mut self, sql: &str) -> ResultSet {
        match self.try_sql(sql) {
            Ok(StatementOutput::Rows(r)) => r,
            Ok(other) => panic!("{sql}: no rows: {:?}", other.message()),
            Err(e) => panic!("{sql}\nfailed: {e}"),
        }
    }

    fn error(&mut self, sql: &str) -> String {
        match self.try_sql(sql) {
            Ok(_) => panic!("{sql} unexpectedly succeeded"),
            Err(e) => e,
        }
    }

    /// `DESC PROJECT` as (property, value) pairs.
    fn describe(&mut self, project: &str) -> Vec<(String, String)> {
        let r = self.rows(&format!("DESC PROJECT {project}"));
        (0..r.batches.iter().map(|b| b.num_rows()).sum::<usize>())
            .map(|i| (text(&r, i, 0), text(&r, i, 1)))
            .collect()
    }

    fn property(&mut self, project: &str, name: &str) -> String {
        self.describe(project)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("DESC PROJECT {project} has no {name}"))
    }

    /// Inserts `n` rows whose text holds [`MARKER`], in one file.
    fn insert_marked(&mut self, table: &str, from: usize, n: usize) {
        self.ok(&format!(
            "INSERT INTO {table} SELECT CAST(value AS BIGINT) AS id, \
             concat('{MARKER}-', CAST(value AS STRING)) AS note \
             FROM generate_series({from}, {}) AS t(value)",
            from + n - 1
        ));
    }

    /// (count, sum of ids, count of notes that are exactly what was inserted).
    fn check(&mut self, table: &str) -> (String, String, String) {
        let r = self.rows(&format!(
            "SELECT count(*), sum(id), \
             sum(CASE WHEN note = concat('{MARKER}-', CAST(id AS STRING)) THEN 1 ELSE 0 END) \
             FROM {table}"
        ));
        (text(&r, 0, 0), text(&r, 0, 1), text(&r, 0, 2))
    }
}

const CREATE_T: &str = "CREATE TABLE t (id BIGINT, note STRING)";

#[test]
fn every_algorithm_hides_the_values_on_disk_and_sql_returns_them_intact() {
    let w = World::new();
    let mut s = w.root_session();
    // Control: an unencrypted project's files do hold the values, so the
    // search below can find them.
    s.ok("CREATE PROJECT plain");
    s.ok("USE plain");
    s.ok(CREATE_T);
    s.insert_marked("t", 1, 1000);
    assert!(
        w.data_files()
            .iter()
            .any(|(_, bytes)| contains(bytes, MARKER.as_bytes())),
        "the control project's file should hold the marker in clear"
    );
    s.ok("DROP TABLE t");
    for (i, algorithm) in StorageAlgorithm::ALL.into_iter().enumerate() {
        for key in ["DEFAULT".to_owned(), w.key_arn.clone()] {
            let project = format!("p{i}_{}", if key == "DEFAULT" { "default" } else { "byok" });
            let message = s.ok(&format!(
                "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm} KEY '{key}'"
            ));
            assert!(message.contains(algorithm.name()), "{message}");
            assert_eq!(
                message.contains("RC4 is insecure"),
                algorithm == StorageAlgorithm::Rc4,
                "{message}"
            );
            s.ok(&format!("USE {project}"));
            s.ok(CREATE_T);
            s.insert_marked("t", 1, 1000);
            s.insert_marked("t", 1001, 500);
            assert_eq!(
                s.check("t"),
                ("1500".into(), "1125750".into(), "1500".into()),
                "{project}"
            );
            // A filtered read and a projection read other byte ranges.
            let r = s.rows("SELECT note FROM t WHERE id = 1234");
            assert_eq!(text(&r, 0, 0), format!("{MARKER}-1234"));
            let files = w.table_files(&project, "t");
            assert_eq!(files.len(), 2);
            assert!(files.iter().all(|f| f.encryption == Some(algorithm)));
            assert_eq!(s.property(&project, "algorithm"), algorithm.name());
            assert_eq!(s.property(&project, "unencrypted_files"), "0");
        }
    }
    for (path, bytes) in w.data_files() {
        if path.to_string_lossy().contains("/plain/") {
            continue;
        }
        assert!(
            !contains(&bytes, MARKER.as_bytes()),
            "{} holds the inserted values in clear",
            path.display()
        );
    }
}

/// A key retriever that unwraps PKMT1 key material on its own — KMS Decrypt
/// of `wrappedKEK`, then AES-GCM of `wrappedDEK` under the KEK with the KEK
/// id as AAD, as the Parquet key tools do — and records the key sizes. It
/// shares no code with the warehouse's reader.
struct OwnUnwrap {
    kms: sealhouse_kms::KmsHandle,
    master_key: String,
    /// (KEK length, DEK length) of each key metadata parquet asked for.
    sizes: std::sync::Mutex<Vec<(usize, usize)>>,
}

impl parquet::encryption::decrypt::KeyRetriever for OwnUnwrap {
    fn retrieve_key(&self, key_metadata: &[u8]) -> parquet::errors::Result<Vec<u8>> {
        use base64::Engine;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let material: serde_json::Value = serde_json::from_slice(key_metadata).unwrap();
        assert_eq!(material["keyMaterialType"], "PKMT1", "{material}");
        assert_eq!(material["internalStorage"], true, "{material}");
        assert_eq!(material["isFooterKey"], true, "{material}");
        assert_eq!(material["doubleWrapping"], true, "{material}");
        assert_eq!(material["masterKeyID"], self.master_key.as_str());
        let kek = self
            .kms
            .decrypt(&sealhouse_kms::api::DecryptRequest {
                ciphertext_blob: b64(&material["wrappedKEK"]),
                encryption_context: EncryptionContext::new(),
            })
            .unwrap()
            .plaintext;
        let kek_id = b64(&material["keyEncryptionKeyID"]);
        let mut wrapped_dek = b64(&material["wrappedDEK"]);
        let algorithm = match kek.len() {
            16 => &ring::aead::AES_128_GCM,
            _ => &ring::aead::AES_256_GCM,
        };
        let key = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(algorithm, kek.expose()).unwrap(),
        );
        let (nonce, sealed) = wrapped_dek.split_at_mut(12);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).unwrap();
        let dek = key
            .open_in_place(nonce, ring::aead::Aad::from(&kek_id), sealed)
            .unwrap()
            .to_vec();
        self.sizes.lock().unwrap().push((kek.len(), dek.len()));
        Ok(dek)
    }
}

/// An AES256 file of a project whose CMK is `key_arn`, opened with
/// [`OwnUnwrap`] as the CMK's account: its metadata (page indexes too), its
/// rows, and the (KEK, DEK) lengths its key material held.
fn open_aes256_file(
    w: &World,
    path: &Path,
    key_arn: &str,
) -> (
    Arc<parquet::file::metadata::ParquetMetaData>,
    usize,
    Vec<(usize, usize)>,
) {
    let key_account = key_arn.split(':').nth(3).unwrap();
    let retriever = Arc::new(OwnUnwrap {
        kms: w.kms.as_principal(root(key_account)),
        master_key: key_arn.to_owned(),
        sizes: Default::default(),
    });
    let properties = parquet::encryption::decrypt::FileDecryptionProperties::with_key_retriever(
        Arc::clone(&retriever) as _,
    )
    .build()
    .unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new_with_options(
            std::fs::File::open(path).unwrap(),
            parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                .with_file_decryption_properties(properties)
                .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required),
        )
        .unwrap();
    let metadata = Arc::clone(builder.metadata());
    let rows = builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let sizes = retriever.sizes.lock().unwrap().clone();
    (metadata, rows, sizes)
}

#[test]
fn aes256_files_have_256_bit_data_keys_and_key_encryption_keys() {
    let w = World::new();
    let mut s = w.session(root(A), Duration::from_secs(600));
    s.ok(&format!(
        "CREATE PROJECT sizes ENCRYPTION ALGORITHM AES256 KEY '{}'",
        w.key_arn
    ));
    s.ok("USE sizes");
    s.ok(CREATE_T);
    s.insert_marked("t", 1, 500);
    s.insert_marked("t", 501, 500);
    let files = w.table_files("sizes", "t");
    assert_eq!(files.len(), 2);
    for file in files {
        // The DEK unwrapped by hand is the file's key: the file reads with it.
        let (_, rows, sizes) = open_aes256_file(&w, &file.path, &w.key_arn);
        assert_eq!(rows, 500);
        assert!(!sizes.is_empty());
        for (kek, dek) in sizes {
            assert_eq!(
                (kek * 8, dek * 8),
                (256, 256),
                "{}: KEK and DEK bits",
                file.path.display()
            );
        }
    }
    // And SQL reads them.
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
}

#[test]
fn a_flipped_byte_in_any_encrypted_file_fails_the_read() {
    let w = World::new();
    let mut s = w.root_session();
    for algorithm in StorageAlgorithm::ALL {
        let project = format!("flip_{}", algorithm.name().to_lowercase());
        s.ok(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm}"
        ));
        s.ok(&format!("USE {project}"));
        s.ok(CREATE_T);
        s.insert_marked("t", 1, 3000);
        let expected = s.check("t");
        let file = w.table_files(&project, "t").remove(0);
        let original = std::fs::read(&file.path).unwrap();
        let len = original.len();
        // Where an AES256 file's offset indexes lie. Readers take page
        // indexes as optional (DataFusion asks parquet for
        // `PageIndexPolicy::Optional`), and parquet drops them all when one
        // fails to authenticate: the query runs without page pruning and
        // gives the right rows, with no error. So a flip there need not be
        // detected, only harmless (docs/storage-encryption.md, "Integrity").
        let unread: Vec<std::ops::Range<usize>> = if algorithm == StorageAlgorithm::Aes256 {
            let key_arn = s.property(&project, "key_arn");
            let (metadata, _, _) = open_aes256_file(&w, &file.path, &key_arn);
            metadata
                .row_groups()
                .iter()
                .flat_map(|rg| rg.columns())
                .filter_map(|c| Some((c.offset_index_offset()?, c.offset_index_length()?)))
                .map(|(at, n)| at as usize..at as usize + n as usize)
                .collect()
        } else {
            Vec::new()
        };
        // The first and last 40 bytes (magic, header, footer) and 60
        // positions spread over the rest.
        let mut positions: Vec<usize> = (0..40).chain(len - 40..len).collect();
        positions.extend((0..60).map(|k| 40 + k * (len - 80) / 60));
        // A full scan, and a filtered one that also reads the page index
        // (a scan without a predicate never reads those bytes).
        let queries = [
            "SELECT count(*), sum(id), \
             sum(CASE WHEN note = concat('sealhouse-plaintext-marker-', CAST(id AS STRING)) \
             THEN 1 ELSE 0 END) FROM t",
            "SELECT count(*), sum(id), min(note) FROM t WHERE id > 2000",
        ];
        let unmodified: Vec<String> = queries
            .iter()
            .map(|q| format!("{:?}", s.rows(q).batches))
            .collect();
        for &at in &positions {
            let mut bytes = original.clone();
            bytes[at] ^= 0x01;
            std::fs::write(&file.path, &bytes).unwrap();
            let mut detected = false;
            for (query, unmodified) in queries.iter().zip(&unmodified) {
                match s.try_sql(query) {
                    Err(_) => detected = true,
                    // Never wrong rows.
                    Ok(StatementOutput::Rows(r)) => assert_eq!(
                        &format!("{:?}", r.batches),
                        unmodified,
                        "{algorithm}: flipping byte {at} of {len} changed the rows of {query}"
                    ),
                    Ok(other) => panic!("{query}: {other:?}"),
                }
            }
            assert!(
                detected || unread.iter().any(|r| r.contains(&at)),
                "{algorithm}: flipping byte {at} of {len} was not detected (unmodified: \
                 {expected:?}); around: {:?}",
                String::from_utf8_lossy(&original[at - 100..(at + 60).min(len)])
            );
        }
        std::fs::write(&file.path, &original).unwrap();
        assert_eq!(s.check("t"), expected, "{algorithm} after restoring");
    }
}

#[test]
fn a_project_encrypted_after_it_held_data_reads_both_and_rewrite_encrypts_everything() {
    let w = World::new();
    let mut s = w.root_session();
    s.ok("CREATE PROJECT later");
    s.ok("USE later");
    s.ok(CREATE_T);
    s.ok("CREATE TABLE u (id BIGINT, note STRING)");
    s.insert_marked("t", 1, 700);
    s.insert_marked("u", 1, 10);
    assert_eq!(s.property("later", "storage_encryption"), "disabled");
    let message = s.ok("ALTER PROJECT later ENABLE ENCRYPTION ALGORITHM AESCTR");
    assert!(message.contains("REWRITE PROJECT later"), "{message}");
    s.insert_marked("t", 701, 300);
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
    let kinds: Vec<_> = w
        .table_files("later", "t")
        .iter()
        .map(|f| f.encryption)
        .collect();
    assert_eq!(kinds, vec![None, Some(StorageAlgorithm::AesCtr)]);
    assert_eq!(s.property("later", "unencrypted_files"), "2");

    // One table, then the whole project.
    let message = s.ok("REWRITE TABLE t");
    assert!(
        message.contains("rewrote 1 files of 1 tables (700 rows)"),
        "{message}"
    );
    assert_eq!(s.property("later", "unencrypted_files"), "1");
    let message = s.ok("REWRITE PROJECT later");
    assert!(
        message.contains("rewrote 1 files of 1 tables (10 rows)"),
        "{message}"
    );
    assert_eq!(s.property("later", "unencrypted_files"), "0");
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
    assert_eq!(s.check("u"), ("10".into(), "55".into(), "10".into()));
    for table in ["t", "u"] {
        assert!(
            w.table_files("later", table)
                .iter()
                .all(|f| f.encryption == Some(StorageAlgorithm::AesCtr))
        );
    }
    for (path, bytes) in w.data_files() {
        assert!(
            !contains(&bytes, MARKER.as_bytes()),
            "{} still holds values in clear after REWRITE",
            path.display()
        );
    }
    // Nothing left to do.
    let message = s.ok("REWRITE PROJECT later");
    assert!(message.contains("rewrote 0 files"), "{message}");
    // Rewriting an unencrypted project says what to do.
    s.ok("CREATE PROJECT never");
    let e = s.error("REWRITE PROJECT never");
    assert!(e.contains("ALTER PROJECT never ENABLE ENCRYPTION"), "{e}");
}

#[test]
fn storage_encryption_cannot_be_disabled_or_changed_once_set() {
    let w = World::new();
    let mut s = w.root_session();
    s.ok("CREATE PROJECT fixed ENCRYPTION ALGORITHM AES256");
    let arn = s.property("fixed", "key_arn");
    let e = s.error("ALTER PROJECT fixed DISABLE ENCRYPTION");
    assert!(e.contains("cannot be disabled once enabled"), "{e}");
    for change in [
        "ALTER PROJECT fixed ENABLE ENCRYPTION ALGORITHM AESCTR".to_owned(),
        "ALTER PROJECT fixed ENABLE ENCRYPTION ALGORITHM AES256".to_owned(),
        format!("ALTER PROJECT fixed ENABLE ENCRYPTION KEY '{}'", w.key_arn),
    ] {
        let e = s.error(&change);
        assert!(
            e.contains("cannot be disabled, and its algorithm and key cannot be changed"),
            "{change}: {e}"
        );
    }
    assert_eq!(s.property("fixed", "algorithm"), "AES256");
    assert_eq!(s.property("fixed", "key_arn"), arn);
    // Enabled later, then fixed just the same.
    s.ok("CREATE PROJECT open");
    let e = s.error("ALTER PROJECT open DISABLE ENCRYPTION");
    assert!(e.contains("nothing to disable"), "{e}");
    s.ok("ALTER PROJECT open ENABLE ENCRYPTION ALGORITHM RC4");
    let e = s.error("ALTER PROJECT open ENABLE ENCRYPTION ALGORITHM AES256");
    assert!(e.contains("already has storage encryption (RC4"), "{e}");
    assert_eq!(s.property("open", "algorithm"), "RC4");
    assert!(s.property("open", "warning").contains("RC4 is insecure"));
    // Bad clauses say what is expected.
    let e = s.error("CREATE PROJECT x ENCRYPTION ALGORITHM DES");
    assert!(e.contains("AES256, AESCTR or RC4"), "{e}");
    let e = s.error("CREATE PROJECT x ENCRYPTION KEY 'not-an-arn'");
    assert!(e.contains("is not a KMS key ARN"), "{e}");
    assert!(w.catalog.project("x").is_err());
}

const WAREHOUSE_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"odps:*","Resource":"*"}]}"#;

#[test]
fn only_a_super_administrator_changes_encryption_and_a_deny_policy_forces_it_on() {
    let w = World::new();
    let mut owner = w.root_session();
    owner.ok("CREATE PROJECT guarded");
    owner.ok("USE guarded");
    w.add_user("admin", WAREHOUSE_ALL);
    w.add_user("sa", WAREHOUSE_ALL);
    owner.ok("ADD USER admin");
    owner.ok("ADD USER sa");
    owner.ok("GRANT Admin TO USER admin");
    owner.ok("GRANT Super_Administrator TO USER sa");
    let mut admin = w.session(user(A, "admin"), Duration::ZERO);
    let e = admin.error("ALTER PROJECT guarded ENABLE ENCRYPTION");
    assert!(e.contains("access denied"), "{e}");
    assert!(e.contains("Super_Administrator"), "{e}");
    assert_eq!(owner.property("guarded", "storage_encryption"), "disabled");
    let mut sa = w.session(user(A, "sa"), Duration::ZERO);
    sa.ok("ALTER PROJECT guarded ENABLE ENCRYPTION ALGORITHM AESCTR");
    assert_eq!(owner.property("guarded", "algorithm"), "AESCTR");
    // Once: even the Super_Administrator cannot change it again.
    let e = sa.error("ALTER PROJECT guarded ENABLE ENCRYPTION ALGORITHM AES256");
    assert!(e.contains("cannot be changed"), "{e}");

    // The spec's custom policy: new projects must be encrypted.
    w.iam
        .create_policy(
            &account(A),
            "require-encryption",
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"odps:CreateProject","Resource":"*","Condition":{"Bool":{"odps:StorageEncryption":"false"}}}]}"#,
            "",
        )
        .unwrap();
    w.iam
        .attach_policy(
            &AttachTarget::User {
                account: account(A),
                name: "admin".into(),
            },
            &PolicyRef::Custom {
                account: account(A),
                name: "require-encryption".into(),
            },
        )
        .unwrap();
    let e = admin.error("CREATE PROJECT clear_text");
    assert!(e.contains("require-encryption"), "{e}");
    assert!(w.catalog.project("clear_text").is_err());
    admin.ok("CREATE PROJECT sealed ENCRYPTION ALGORITHM AES256");
    assert_eq!(owner.property("sealed", "storage_encryption"), "enabled");
}

#[test]
fn a_byok_key_must_be_the_callers_and_usable_by_them() {
    let w = World::new();
    // A user allowed the warehouse but no KMS action.
    w.add_user("no-kms", WAREHOUSE_ALL);
    let mut s = w.session(user(A, "no-kms"), Duration::ZERO);
    let e = s.error(&format!(
        "CREATE PROJECT mine ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("kms:DescribeKey"), "{e}");
    assert!(w.catalog.project("mine").is_err());
    // Account B's root may not use A's key.
    let mut b = w.session(root(B), Duration::ZERO);
    let e = b.error(&format!(
        "CREATE PROJECT theirs ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("must belong to the caller's own account"), "{e}");
    // A disabled key is refused, naming its state.
    w.kms
        .as_principal(root(A))
        .disable_key(&KeyRequest::new(w.key_arn.clone()))
        .unwrap();
    let mut a = w.root_session();
    let e = a.error(&format!(
        "CREATE PROJECT off ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("Disabled"), "{e}");
}

#[test]
fn the_default_key_belongs_to_the_service_and_cannot_be_granted() {
    let w = World::new();
    let mut s = w.root_session();
    s.ok("CREATE PROJECT d ENCRYPTION");
    let arn = s.property("d", "key_arn");
    assert_eq!(s.property("d", "key_type"), "DEFAULT");
    assert!(arn.contains(":0000000000000000:key/"), "{arn}");
    // Not even the project owner account's root, with every KMS permission,
    // can use it.
    let direct = w.kms.as_principal(root(A)).encrypt(&EncryptRequest {
        key_id: arn.clone(),
        plaintext: sealhouse_crypto::SecretBytes::new(b"x".to_vec()),
        encryption_context: EncryptionContext::new(),
    });
    assert!(direct.is_err(), "the default key was usable by account A");
    w.add_user(
        "greedy",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    );
    // Seeing is not using: the owner account's principals whose policies
    // allow DescribeKey see the key (spec 002: "view the details of this
    // key in the KMS console"), and still cannot use it.
    let greedy = w.kms.as_principal(user(A, "greedy"));
    let described = greedy
        .describe_key(&KeyRequest::new(arn.clone()))
        .expect("the owner account's KMS administrator sees the default key");
    assert_eq!(described.key_metadata.arn, arn);
    let used = greedy.encrypt(&EncryptRequest {
        key_id: arn.clone(),
        plaintext: sealhouse_crypto::SecretBytes::new(b"x".to_vec()),
        encryption_context: EncryptionContext::new(),
    });
    assert!(used.is_err(), "the default key was usable by a RAM user");
    // Another account sees nothing.
    let other = w
        .kms
        .as_principal(root(B))
        .describe_key(&KeyRequest::new(arn));
    assert!(
        other.is_err(),
        "the default key was visible to another account"
    );
}

#[test]
fn a_disabled_byok_key_stops_reads_once_the_cache_ttl_has_passed() {
    let w = World::new();
    let ttl = Duration::from_secs(600);
    for algorithm in StorageAlgorithm::ALL {
        let project = format!("ttl_{}", algorithm.name().to_lowercase());
        let mut s = w.session(root(A), ttl);
        s.ok(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm} KEY '{}'",
            w.key_arn
        ));
        s.ok(&format!("USE {project}"));
        s.ok(CREATE_T);
        s.insert_marked("t", 1, 100);
        assert_eq!(s.check("t").0, "100");
        let root_kms = w.kms.as_principal(root(A));
        root_kms
            .disable_key(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        // Within the TTL the cached keys still read.
        w.clock.advance(time::Duration::seconds(599));
        assert_eq!(s.check("t").0, "100", "{algorithm} within the TTL");
        // Writes need a fresh data key from the KMS: they stop at once.
        let e = s.error(&format!("INSERT INTO t VALUES (1, '{MARKER}-1')"));
        assert!(e.contains("Disabled"), "{algorithm}: {e}");
        w.clock.advance(time::Duration::seconds(2));
        // (count(*) alone is answered from the catalog's row counts.)
        let e = s.error("SELECT sum(id) FROM t");
        if algorithm == StorageAlgorithm::Aes256 {
            assert!(
                e.contains(&format!(
                    "cannot read encrypted project '{project}' (AES256 with key {}",
                    w.key_arn
                )),
                "{e}"
            );
        }
        assert!(
            e.contains(&w.key_arn) || e.contains("key/"),
            "{algorithm}: {e}"
        );
        assert!(e.contains("Disabled"), "{algorithm}: {e}");
        root_kms
            .enable_key(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        assert_eq!(s.check("t").0, "100", "{algorithm} after enabling");
        s.insert_marked("t", 101, 1);
        // Scheduled deletion: the same, naming the state.
        root_kms
            .schedule_key_deletion(&ScheduleKeyDeletionRequest {
                key_id: w.key_arn.clone(),
                pending_window_in_days: 7,
            })
            .unwrap();
        w.clock.advance(time::Duration::seconds(601));
        let e = s.error("SELECT sum(id) FROM t");
        assert!(e.contains("PendingDeletion"), "{algorithm}: {e}");
        root_kms
            .cancel_key_deletion(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        assert_eq!(s.check("t").0, "101");
    }
}
