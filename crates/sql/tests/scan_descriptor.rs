//! The storage crate's scan descriptor: a session's table snapshot,
//! serialised, read back in a DataFusion context that shares nothing with
//! the session (its own runtime, its own KMS service opened on the same
//! directory), gives the session's rows for AES256, AESCTR and RC4 tables;
//! and the serialised bytes hold none of the keys involved (each file's
//! data key, the AES256 files' key-encryption keys, the catalog key), in
//! any encoding. The query's condition travels with it and the reader
//! skips the files it rules out.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Backend, TableFiles};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::encryption::decrypt::{FileDecryptionProperties, KeyRetriever};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sealhouse_iam::{AccountId, Iam, NoSealing, Principal, SqliteStore, SystemClock};
use sealhouse_kms::api::{DecryptRequest, EncryptionContext};
use sealhouse_kms::{Kms, KmsGateway, KmsService, RootKey};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::encryption::{SERVICE_ACCOUNT, StorageKeys};
use sealhouse_storage::segmented::{MAX_HEADER_LEN, SegmentedHeader};
use sealhouse_storage::{
    BlockTagKeys, Catalog, Comparison, DataFile, FileStore, ProjectKeyAccess, ScanDescriptor,
    ScanKeys, ScanPredicate, StorageAlgorithm,
};

use common::ACCOUNT_A as A;

fn account(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

/// A KMS service on `dir` (its root key file there): opened twice, it is
/// the session's and the reader's own.
fn kms_service(dir: &Path, iam: &Arc<Iam>) -> KmsService {
    let root = RootKey::load_or_create_file(&dir.join("root.key")).unwrap();
    KmsService::open(&dir.join("kms"), Arc::clone(iam), root, SystemClock).unwrap()
}

struct World {
    dir: tempfile::TempDir,
    files: TableFiles,
    iam: Arc<Iam>,
    catalog: Arc<Catalog>,
    warehouse: SqlSession,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn on(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let iam = Arc::new(Iam::new(SqliteStore::open_in_memory().unwrap(), NoSealing));
        iam.create_account(&account(A)).unwrap();
        let kms = kms_service(dir.path(), &iam);
        let files = TableFiles::new(backend);
        let catalog = files.open(&dir.path().join("warehouse"));
        let services = IdentityServices::new(
            Arc::clone(&iam),
            Arc::new(kms),
            Duration::from_secs(60),
            account(A),
        );
        let warehouse = SqlSession::with_identity(
            Arc::clone(&catalog),
            Principal::Root {
                account: account(A),
            },
            Arc::new(services),
        );
        Self {
            dir,
            files,
            iam,
            catalog,
            warehouse,
            runtime: common::runtime(),
        }
    }

    fn sql(&mut self, sql: &str) -> StatementOutput {
        self.runtime
            .block_on(self.warehouse.execute(sql))
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
    }

    /// The session's rows of `SELECT * FROM table`.
    fn session_rows(&mut self, table: &str) -> Vec<(i64, String)> {
        match self.sql(&format!("SELECT * FROM {table}")) {
            StatementOutput::Rows(set) => rows_of(&set.batches),
            _ => panic!("SELECT gave no rows"),
        }
    }

    /// The local file holding `file` (on S3: the server's file of it).
    fn path(&self, file: &DataFile) -> std::path::PathBuf {
        self.files
            .path_of(&self.dir.path().join("warehouse"), &file.key)
    }

    /// The descriptor of `project.table`'s current snapshot.
    fn descriptor(&self, project: &str, table: &str) -> (ScanDescriptor, Vec<DataFile>) {
        let info = self.catalog.table(project, table).unwrap();
        let files = self.catalog.files(&info).unwrap();
        let encryption = self.catalog.project(project).unwrap().encryption().unwrap();
        (
            ScanDescriptor::new(
                self.catalog.file_store().location(),
                &info,
                encryption,
                &files,
            ),
            files,
        )
    }
}

/// (id, v) rows, sorted.
fn rows_of(batches: &[RecordBatch]) -> Vec<(i64, String)> {
    let mut rows = Vec::new();
    for batch in batches {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let values = batch.column(1).as_string_view_opt().map_or_else(
            || {
                let v = batch.column(1).as_string::<i32>();
                (0..v.len())
                    .map(|i| v.value(i).to_owned())
                    .collect::<Vec<_>>()
            },
            |v| (0..v.len()).map(|i| v.value(i).to_owned()).collect(),
        );
        for (i, v) in values.into_iter().enumerate() {
            rows.push((ids.value(i), v));
        }
    }
    rows.sort();
    rows
}

/// Reads `bytes` (a serialised descriptor) in a runtime and DataFusion
/// context of its own, through a new KMS service and gateway and its own
/// client of the files' location: nothing is shared with the session but
/// the directories (and the S3 server).
fn read_elsewhere(w: &World, bytes: &[u8]) -> Vec<(i64, String)> {
    let descriptor = ScanDescriptor::from_bytes(bytes).unwrap();
    let gateway = Arc::new(KmsGateway::new(
        Arc::new(kms_service(w.dir.path(), &w.iam)),
        Duration::from_secs(60),
    ));
    let file_store = FileStore::open(&descriptor.location, &w.files.options().s3).unwrap();
    let storage = StorageKeys::new(gateway, &file_store);
    let keys = descriptor
        .encryption
        .as_ref()
        .map(|setting| storage.project(&descriptor.project, setting).unwrap());
    let runtime = common::runtime();
    runtime.block_on(async {
        let ctx = SessionContext::new();
        let plan = descriptor
            .plan(
                &ctx.state(),
                ScanKeys {
                    file_store: &file_store,
                    project: keys
                        .as_ref()
                        .map_or(ProjectKeyAccess::Unencrypted, ProjectKeyAccess::Held),
                    block_tags: None,
                },
            )
            .await
            .unwrap();
        rows_of(&collect(plan, ctx.task_ctx()).await.unwrap())
    })
}

/// Records the keys an AES256 file's key material wraps (the KEK, through
/// the KMS, and the data key, under the KEK), unwrapping them as the
/// documented format says (docs/formats.md, "AES256 storage encryption").
struct KeyRecorder {
    kms: Box<dyn Kms>,
    keys: Mutex<Vec<Vec<u8>>>,
}

impl KeyRetriever for KeyRecorder {
    fn retrieve_key(&self, key_metadata: &[u8]) -> parquet::errors::Result<Vec<u8>> {
        let material: serde_json::Value = serde_json::from_slice(key_metadata).unwrap();
        let field = |name: &str| STANDARD.decode(material[name].as_str().unwrap()).unwrap();
        let kek = self
            .kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: field("wrappedKEK"),
                encryption_context: EncryptionContext::new(),
            })
            .unwrap()
            .plaintext;
        let kek = kek.expose().to_vec();
        let wrapped = field("wrappedDEK");
        let (nonce, sealed) = wrapped.split_at(12);
        let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &kek).unwrap());
        let mut buffer = sealed.to_vec();
        let dek = cipher
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).unwrap(),
                Aad::from(field("keyEncryptionKeyID")),
                &mut buffer,
            )
            .unwrap()
            .to_vec();
        let mut keys = self.keys.lock().unwrap();
        keys.push(kek);
        keys.push(dek.clone());
        Ok(dek)
    }
}

/// Every key behind `files` (all of one project's default key, in the
/// warehouse service's account).
fn keys_of(w: &World, kms: Box<dyn Kms>, files: &[DataFile]) -> Vec<Vec<u8>> {
    let recorder = Arc::new(KeyRecorder {
        kms,
        keys: Mutex::new(Vec::new()),
    });
    for file in files {
        match file.encryption {
            Some(StorageAlgorithm::Aes256) => {
                let properties =
                    FileDecryptionProperties::with_key_retriever(Arc::clone(&recorder) as _)
                        .build()
                        .unwrap();
                let options = ArrowReaderOptions::new().with_file_decryption_properties(properties);
                let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
                    File::open(w.path(file)).unwrap(),
                    options,
                )
                .unwrap()
                .build()
                .unwrap();
                assert!(reader.count() > 0);
            }
            Some(StorageAlgorithm::AesCtr | StorageAlgorithm::Rc4) => {
                let mut prefix = Vec::new();
                File::open(w.path(file))
                    .unwrap()
                    .take(MAX_HEADER_LEN as u64)
                    .read_to_end(&mut prefix)
                    .unwrap();
                let header = SegmentedHeader::parse(&prefix).unwrap();
                let mut context = EncryptionContext::new();
                context.insert("sealhouse:purpose".into(), "storage-data-key".into());
                let key = recorder
                    .kms
                    .decrypt(&DecryptRequest {
                        ciphertext_blob: header.wrapped_key().to_vec(),
                        encryption_context: context,
                    })
                    .unwrap()
                    .plaintext;
                recorder.keys.lock().unwrap().push(key.expose().to_vec());
            }
            None => panic!("{} is not encrypted", file.key),
        }
    }
    recorder.keys.lock().unwrap().clone()
}

/// Whether `haystack` holds `key` raw, as hex (either case) or as base64.
fn holds(haystack: &[u8], key: &[u8]) -> bool {
    let text = String::from_utf8_lossy(haystack);
    haystack.windows(key.len()).any(|w| w == key)
        || text.to_lowercase().contains(&hex::encode(key))
        || text.contains(&STANDARD.encode(key))
        || text.contains(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(key)
                .as_str(),
        )
}

fn a_serialised_snapshot_reads_the_same_rows_elsewhere_and_holds_no_key(backend: Backend) {
    let mut w = World::on(backend);
    let mut all_keys = Vec::new();
    for algorithm in ["AES256", "AESCTR", "RC4"] {
        let project = format!("p_{}", algorithm.to_lowercase());
        w.sql(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm}"
        ));
        w.sql(&format!("CREATE TABLE {project}.t (id BIGINT, v STRING)"));
        // Three files: two INSERTs and one INSERT ... SELECT.
        w.sql(&format!(
            "INSERT INTO {project}.t VALUES (1, 'one'), (2, 'two')"
        ));
        w.sql(&format!("INSERT INTO {project}.t VALUES (3, 'three')"));
        w.sql(&format!(
            "INSERT INTO {project}.t SELECT id + 10, concat(v, '-again') FROM {project}.t"
        ));
        let expected = w.session_rows(&format!("{project}.t"));
        assert_eq!(expected.len(), 6);

        let (descriptor, files) = w.descriptor(&project, "t");
        assert_eq!(files.len(), 3, "{algorithm}: three files");
        let bytes = descriptor.to_bytes();
        let read = read_elsewhere(&w, &bytes);
        assert_eq!(read, expected, "{algorithm}: the same rows elsewhere");

        // The query's condition travels with the descriptor, and the reader
        // skips by it: with no filter above the scan, `id < 3` still reads
        // only the first file's rows (the others' statistics rule them out,
        // read through each algorithm's decryption).
        let pruned = descriptor
            .clone()
            .with_predicate(Some(ScanPredicate::Compare {
                column: "id".into(),
                op: Comparison::Lt,
                value: "3".into(),
            }));
        let read = read_elsewhere(&w, &pruned.to_bytes());
        assert_eq!(
            read,
            vec![(1, "one".to_owned()), (2, "two".to_owned())],
            "{algorithm}: row groups ruled out by the predicate are skipped"
        );

        let service = kms_service(w.dir.path(), &w.iam);
        let kms = Box::new(service.as_principal(Principal::Root {
            account: account(SERVICE_ACCOUNT),
        }));
        let keys = keys_of(&w, kms, &files);
        let distinct: BTreeSet<&Vec<u8>> = keys.iter().collect();
        let per_file = if algorithm == "AES256" { 2 } else { 1 };
        assert_eq!(
            distinct.len(),
            files.len() * per_file,
            "{algorithm}: a fresh data key (and KEK) per file"
        );
        for key in &keys {
            assert!(key.len() >= 16);
            // The search finds a key in each encoding it looks for.
            for encoded in [hex::encode(key), STANDARD.encode(key)] {
                assert!(holds(format!("{{\"x\":\"{encoded}\"}}").as_bytes(), key));
            }
            assert!(
                !holds(&bytes, key),
                "{algorithm}: the descriptor holds a key"
            );
        }
        all_keys.extend(keys);
    }
    // Nor the catalog key (common::catalog_key: 32 bytes of 3).
    let (descriptor, _) = w.descriptor("p_aes256", "t");
    assert!(!holds(&descriptor.to_bytes(), &[3; 32]));
    assert_eq!(all_keys.len(), 3 * 2 + 3 + 3);
}

#[test]
fn a_descriptor_reads_only_its_tables_files_and_plain_tags_need_the_catalog() {
    let mut w = World::on(Backend::Local);
    w.sql("CREATE TABLE plain_t (id BIGINT, v STRING)");
    w.sql("INSERT INTO plain_t VALUES (1, 'x'), (2, 'y')");
    let (descriptor, _) = w.descriptor("default", "plain_t");

    // With the catalog, plain files read with their block tags checked.
    let ctx = SessionContext::new();
    let rows = w.runtime.block_on(async {
        let plan = descriptor
            .plan(
                &ctx.state(),
                ScanKeys {
                    file_store: w.catalog.file_store(),
                    project: ProjectKeyAccess::Unencrypted,
                    block_tags: Some(BlockTagKeys::Catalog(&w.catalog)),
                },
            )
            .await
            .unwrap();
        rows_of(&collect(plan, ctx.task_ctx()).await.unwrap())
    });
    assert_eq!(rows, vec![(1, "x".to_owned()), (2, "y".to_owned())]);

    // Without it, a tagged plain file is refused, never read unchecked.
    let e = w
        .runtime
        .block_on(descriptor.plan(
            &ctx.state(),
            ScanKeys {
                file_store: w.catalog.file_store(),
                project: ProjectKeyAccess::Unencrypted,
                block_tags: None,
            },
        ))
        .expect_err("refused");
    assert!(e.to_string().contains("catalog's key"), "{e}");

    // A descriptor naming a file outside its table's is refused before any
    // read.
    for path in [
        "../../etc/passwd",
        "/etc/passwd",
        "tables/../../x.parquet",
        "tables/999/x.parquet",
        "catalog.db",
    ] {
        let mut bad = descriptor.clone();
        bad.files[0].path = path.into();
        let bad = ScanDescriptor::from_bytes(&bad.to_bytes()).unwrap();
        let e = w
            .runtime
            .block_on(bad.plan(
                &ctx.state(),
                ScanKeys {
                    file_store: w.catalog.file_store(),
                    project: ProjectKeyAccess::Unencrypted,
                    block_tags: Some(BlockTagKeys::Catalog(&w.catalog)),
                },
            ))
            .expect_err("refused");
        assert!(
            e.to_string().contains("outside the table's files")
                || e.to_string().contains("not a file of table"),
            "{path}: {e}"
        );
    }
    // A descriptor of files elsewhere is not read from this process's
    // location.
    let mut elsewhere = descriptor.clone();
    elsewhere.location = sealhouse_storage::StorageLocation::S3 {
        bucket: "another".into(),
        prefix: String::new(),
    };
    let e = w
        .runtime
        .block_on(elsewhere.plan(
            &ctx.state(),
            ScanKeys {
                file_store: w.catalog.file_store(),
                project: ProjectKeyAccess::Unencrypted,
                block_tags: Some(BlockTagKeys::Catalog(&w.catalog)),
            },
        ))
        .expect_err("refused");
    assert!(e.to_string().contains("reads files at s3://another"), "{e}");
    // Garbage is an error, not a panic.
    assert!(ScanDescriptor::from_bytes(b"{\"root\": 1}").is_err());
}

on_both_backends!(a_serialised_snapshot_reads_the_same_rows_elsewhere_and_holds_no_key);
