//! A cluster's executor holds no key of the catalog: it checks a scan's
//! capability with the warehouse's public capability key, and plain files'
//! block tags with the tag keys the coordinator sealed into the scan
//! (under a KMS data key of the cluster-keyset CMK). Here the coordinator
//! is a real session planning for a cluster, and the "executor" decodes
//! each scan node as a cluster's would, with a reader built without the
//! catalog, in the same process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{ACCOUNT_A, Identities};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use sealhouse_sql::format::{OutputFormat, write_rows};
use sealhouse_sql::{KeysetUnsealer, RemoteExecution, SqlSession, StatementOutput};
use sealhouse_storage::{
    CapabilityKey, Catalog, FileStore, ReaderKeys, S3Settings, ScanReader, SnapshotScanExec,
};

/// A change made to a scan's bytes on their way.
type Edit = Box<dyn Fn(Vec<u8>) -> Vec<u8> + Send>;

/// Runs plans as an executor without the catalog would: every scan node
/// goes through its bytes and comes back decoded with `reader`. Keeps the
/// bytes of the scans it sent; `edit` may change them on the way.
struct CatalogFreeExecutor {
    reader: Arc<ScanReader>,
    sent: Mutex<Vec<Vec<u8>>>,
    edit: Mutex<Option<Edit>>,
}

impl std::fmt::Debug for CatalogFreeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogFreeExecutor")
    }
}

#[async_trait]
impl RemoteExecution for CatalogFreeExecutor {
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream> {
        let plan = plan
            .transform_up(|node| {
                let Some(scan) = node.downcast_ref::<SnapshotScanExec>() else {
                    return Ok(Transformed::no(node));
                };
                let mut bytes = scan.to_bytes();
                if let Some(edit) = self.edit.lock().expect("lock").as_ref() {
                    bytes = edit(bytes);
                }
                self.sent.lock().expect("lock").push(bytes.clone());
                let decoded = SnapshotScanExec::from_bytes(&bytes, Some(Arc::clone(&self.reader)))?;
                Ok(Transformed::yes(Arc::new(decoded) as Arc<dyn ExecutionPlan>))
            })?
            .data;
        let ctx = SessionContext::new_with_config(config);
        datafusion::physical_plan::execute_stream(plan, ctx.task_ctx())
    }
}

fn csv(output: StatementOutput) -> String {
    match output {
        StatementOutput::Rows(rows) => {
            let mut out = Vec::new();
            write_rows(&rows, OutputFormat::Csv, &mut out).expect("writes");
            String::from_utf8(out).expect("utf-8")
        }
        other => panic!("not rows: {other:?}"),
    }
}

#[test]
fn an_executor_without_the_catalog_key_reads_plain_files_with_the_sealed_tag_keys() {
    let identities = Identities::new();
    let services = identities.services(Duration::from_secs(60));
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(dir.path(), common::catalog_key()).expect("catalog");
    let runtime = common::runtime();
    let root = common::root(ACCOUNT_A);
    runtime.block_on(async {
        let mut embedded =
            SqlSession::with_identity(Arc::clone(&catalog), root.clone(), Arc::clone(&services));
        embedded
            .execute("CREATE TABLE t (id BIGINT, tel STRING)")
            .await
            .expect("create");
        for i in 0..5 {
            embedded
                .execute(&format!(
                    "INSERT INTO t VALUES ({i}, 'tel-{i}'), ({}, 'tel-{}')",
                    i + 10,
                    i + 10
                ))
                .await
                .expect("insert");
        }
        let query = "SELECT id, tel FROM t ORDER BY id";
        let want = csv(embedded.execute(query).await.expect(query));

        // The executor's reader: the table files, the public capability
        // key, an unsealer over the KMS. No catalog, no catalog key.
        let files = FileStore::open(catalog.file_store().location(), &S3Settings::default())
            .expect("file store");
        let capability_key: CapabilityKey = catalog
            .capability_key()
            .to_string()
            .parse()
            .expect("the printed key parses");
        let unsealer = Arc::new(KeysetUnsealer::new(services.gateway()).expect("unsealer"));
        let executor = Arc::new(CatalogFreeExecutor {
            reader: Arc::new(ScanReader::without_catalog(
                files,
                capability_key,
                unsealer,
                ReaderKeys::None,
            )),
            sent: Mutex::new(Vec::new()),
            edit: Mutex::new(None),
        });
        let mut coordinator =
            SqlSession::with_identity(Arc::clone(&catalog), root.clone(), Arc::clone(&services))
                .with_remote_execution(executor.clone());
        assert_eq!(
            csv(coordinator.execute(query).await.expect(query)),
            want,
            "the executor's rows are the embedded warehouse's"
        );

        // The scan carries the tag keys sealed, not in the clear: its
        // `tag_keys` field is a sealed value, and no file's id sits
        // beside 32 key bytes in it.
        let sent = executor.sent.lock().expect("lock").clone();
        assert_eq!(sent.len(), 1);
        let scan: serde_json::Value = serde_json::from_slice(&sent[0]).expect("json");
        let sealed = STANDARD
            .decode(scan["tag_keys"].as_str().expect("tag keys travel"))
            .expect("base64");
        assert!(sealed.starts_with(b"sealhouse:sealed-keyset:v1:"));
        let table = catalog.table("default", "t").expect("table");
        let data_files = catalog.files(&table).expect("files");
        assert!(data_files.len() > 1, "several files: {data_files:?}");
        for f in &data_files {
            let id = f.file_id().expect("id");
            assert!(
                !sealed.windows(id.len()).any(|w| w == id.as_bytes()),
                "a file id in the clear"
            );
        }

        // A scan whose tag keys were taken out, or replaced, is refused:
        // the capability covers them.
        for replacement in [
            serde_json::Value::Null,
            serde_json::Value::String(STANDARD.encode(b"sealhouse:sealed-keyset:v1:x")),
        ] {
            *executor.edit.lock().expect("lock") = Some(Box::new(move |bytes| {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                v["tag_keys"] = replacement.clone();
                serde_json::to_vec(&v).expect("json")
            }));
            let e = coordinator.execute(query).await.expect_err("refused");
            assert!(
                e.to_string()
                    .contains("not signed for it with this warehouse's key"),
                "{e}"
            );
        }
        *executor.edit.lock().expect("lock") = None;

        // The given keys check every byte: a flipped byte of a plain file
        // fails the executor's read, naming the file.
        let victim = &data_files[0];
        let path = catalog
            .file_store()
            .local_path(&victim.key)
            .expect("a local file");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[4] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        let e = coordinator.execute(query).await.expect_err("damaged");
        let e = e.to_string();
        assert!(e.contains(victim.file_id().expect("id")), "{e}");
        bytes[4] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(csv(coordinator.execute(query).await.expect(query)), want);

        // A coordinator that seals nothing (no KMS) sends scans whose plain
        // files such an executor refuses, unread.
        let mut keyless =
            SqlSession::new(Arc::clone(&catalog)).with_remote_execution(executor.clone());
        let e = keyless.execute(query).await.expect_err("refused");
        assert!(
            e.to_string()
                .contains("is checked with the catalog's key, which this process does not hold"),
            "{e}"
        );
    });
}
