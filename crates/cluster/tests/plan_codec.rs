//! Sealhouse's plan codec in one process: a session whose queries are
//! encoded as the coordinator sends them to a cluster, decoded as an
//! executor does (with its own reader) and run, gives the embedded
//! warehouse's rows; the encoded plans carry table scans as descriptors
//! (file names, no rows), and no keyset enters one.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;
use sealhouse_cluster::SealhouseCodec;
use sealhouse_sql::format::{OutputFormat, write_rows};
use sealhouse_sql::{RemoteExecution, SqlSession, StatementOutput};
use sealhouse_storage::{Catalog, CatalogKey, ReaderKeys, ScanReader};

/// Runs plans as a cluster would: encoded with the coordinator's codec,
/// decoded with an executor's, then executed here. Keeps what it sent.
#[derive(Debug)]
struct Loopback {
    coordinator: SealhouseCodec,
    executor: SealhouseCodec,
    sent: Mutex<Vec<Vec<u8>>>,
}

#[async_trait]
impl RemoteExecution for Loopback {
    async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<SendableRecordBatchStream> {
        let bytes =
            PhysicalPlanNode::try_from_physical_plan(plan, &self.coordinator)?.encode_to_vec();
        self.sent.lock().expect("lock").push(bytes.clone());
        let ctx = SessionContext::new_with_config(config);
        let task = ctx.task_ctx();
        let plan = PhysicalPlanNode::decode(bytes.as_slice())
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
            .try_into_physical_plan(task.as_ref(), &self.executor)?;
        datafusion::physical_plan::execute_stream(plan, task)
    }
}

impl Loopback {
    /// A loopback whose executor reads `catalog`'s (unencrypted) tables.
    fn over(catalog: &Arc<Catalog>) -> Arc<Self> {
        let reader = Arc::new(ScanReader::new(Arc::clone(catalog), ReaderKeys::None));
        Arc::new(Self {
            coordinator: SealhouseCodec::new(None, None),
            executor: SealhouseCodec::new(Some(reader), None),
            sent: Mutex::new(Vec::new()),
        })
    }
}

/// Two workers, as CI's cores.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn key() -> CatalogKey {
    CatalogKey::new(&sealhouse_crypto::SecretBytes::from_slice(&[3; 32])).expect("key")
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
fn encoded_and_decoded_plans_give_the_embedded_rows_and_carry_no_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime();
    runtime.block_on(async {
        let mut embedded = SqlSession::open(dir.path(), key()).expect("opens");
        let mut script = String::from(
            "CREATE TABLE t (id BIGINT, tel STRING); CREATE TABLE names (id BIGINT, name STRING);",
        );
        for i in 0..6 {
            script.push_str(&format!(
                "INSERT INTO t VALUES ({i}, 'secret-tel-{i}'), ({}, NULL);",
                i + 100
            ));
        }
        script
            .push_str("INSERT INTO names VALUES (1, 'one'), (2, 'two'), (101, 'hundred and one');");
        for statement in script.split(';').filter(|s| !s.trim().is_empty()) {
            embedded.execute(statement).await.expect(statement);
        }

        let catalog = Catalog::open(dir.path(), key()).expect("catalog");
        let loopback = Loopback::over(&catalog);
        let mut remote = SqlSession::new(catalog).with_remote_execution(loopback.clone());
        for query in [
            "SELECT id, tel FROM t ORDER BY id",
            "SELECT count(*), count(tel), max(tel) FROM t WHERE id > 2",
            "SELECT t.id, n.name, t.tel FROM t JOIN names n ON t.id = n.id ORDER BY t.id",
            "SELECT hex(tel), repeat(tel, 2) FROM t WHERE tel IS NOT NULL ORDER BY 1",
            "SELECT id % 2, count(*) FROM t GROUP BY id % 2 ORDER BY 1",
        ] {
            let want = csv(embedded.execute(query).await.expect(query));
            let got = csv(remote.execute(query).await.expect(query));
            assert_eq!(got, want, "{query}");
        }
        let sent = loopback.sent.lock().expect("lock").clone();
        assert_eq!(sent.len(), 5, "every query went through the codec");
        let files: Vec<String> = std::fs::read_dir(dir.path().join("tables"))
            .expect("tables")
            .flat_map(|t| std::fs::read_dir(t.expect("entry").path()).expect("table dir"))
            .map(|f| f.expect("file").file_name().to_string_lossy().into_owned())
            .collect();
        for plan in sent.iter() {
            let text = String::from_utf8_lossy(plan);
            // Scans travel as descriptors naming the files, never as rows.
            assert!(!text.contains("secret-tel"), "a plan carries a row");
            assert!(
                files.iter().any(|f| text.contains(f.as_str())),
                "no file named"
            );
        }

        // Keyset functions over the table's rows travel: the keysets they
        // make are rows, not part of the plan.
        let out = csv(remote
            .execute(
                "SELECT id, length(KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256'))) > 10 FROM t \
                 WHERE id < 3 ORDER BY id",
            )
            .await
            .expect("runs on the executor"));
        assert_eq!(out, "id,_c1\n0,true\n1,true\n2,true\n");
        assert_eq!(loopback.sent.lock().expect("lock").len(), 6);
        // Key material made on constants would be folded into a constant
        // of the plan: refused before anything is sent.
        remote
            .execute("@json := KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256'))")
            .await
            .expect("assigned");
        for query in [
            "SELECT id, HEX(KEYSET_FROM_JSON(@json)) FROM t",
            "SELECT id FROM t WHERE tel = KEYSET_TO_JSON(KEYSET_FROM_JSON(@json))",
        ] {
            let e = remote.execute(query).await.expect_err(query).to_string();
            assert!(
                e.contains("on constants would reach the cluster"),
                "{query}: {e}"
            );
            assert!(e.contains("without --cluster"), "{query}: {e}");
        }
        assert_eq!(loopback.sent.lock().expect("lock").len(), 6);
        // Reading no table (COUNT(*) comes from the catalog's row counts),
        // it runs here, sending nothing.
        let out = csv(remote
            .execute(
                "SELECT length(KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256'))) > 10, count(*) FROM t",
            )
            .await
            .expect("runs here"));
        assert_eq!(out, "_c0,_c1\ntrue,12\n");
        assert_eq!(loopback.sent.lock().expect("lock").len(), 6);

        // A variable holding a keyset (or a copy of one) is bound into a
        // plan as a constant: refused but as a keyset function's keyset,
        // which this session (without a KMS to seal it) cannot send either.
        for assignment in [
            "@ks := KEYSET_FROM_JSON(KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256')))",
            "@copy := @ks",
        ] {
            remote.execute(assignment).await.expect(assignment);
        }
        // (Both hold the same value: the message names one of them.)
        for (query, says) in [
            (
                "SELECT id, @ks FROM t",
                "a keyset (key material) as a constant",
            ),
            (
                "SELECT id FROM t WHERE CAST(tel AS BINARY) = @copy",
                "holds what a keyset function made",
            ),
            (
                "SELECT ENHANCED_SYM_ENCRYPT(@ks, tel) FROM t",
                "this session has no KMS",
            ),
        ] {
            let e = remote.execute(query).await.expect_err(query).to_string();
            assert!(e.contains(says), "{query}: {e}");
            assert!(e.contains("without --cluster"), "{query}: {e}");
        }
        assert_eq!(loopback.sent.lock().expect("lock").len(), 6);
        // An executor of another warehouse (another catalog key) refuses
        // the coordinator's scans: their capabilities are not its.
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other =
            Catalog::open(other_dir.path(), CatalogKey::random().expect("key")).expect("catalog");
        let plan = PhysicalPlanNode::decode(sent[0].as_slice()).expect("decodes");
        let ctx = SessionContext::new();
        let e = plan
            .try_into_physical_plan(ctx.task_ctx().as_ref(), &Loopback::over(&other).executor)
            .expect_err("refused");
        assert!(e.to_string().contains("is refused"), "{e}");

        // Given a plain value again, it travels.
        remote.execute("@ks := 'plain'").await.expect("reassigned");
        let out = csv(remote
            .execute("SELECT id, @ks FROM t WHERE id = 1")
            .await
            .expect("runs"));
        assert_eq!(out, "id,_c1\n1,plain\n");
        assert_eq!(loopback.sent.lock().expect("lock").len(), 7);
    });
}

#[test]
fn writes_in_a_cluster_session_keep_every_row() {
    // Eight single-row INSERTs make the automatic merge rewrite eight small
    // files, scanned (here, in the session) as a snapshot scan of several
    // partitions; the merged file must hold all of them. (A sink writes its
    // input's first partition only: half the rows were lost before the scan
    // was gathered.) REWRITE reads the same way.
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime();
    runtime.block_on(async {
        let catalog = Catalog::open(dir.path(), key()).expect("catalog");
        let loopback = Loopback::over(&catalog);
        let mut session =
            SqlSession::new(Arc::clone(&catalog)).with_remote_execution(loopback.clone());
        session
            .execute("CREATE TABLE t (id BIGINT)")
            .await
            .expect("create");
        for i in 0..9 {
            session
                .execute(&format!("INSERT INTO t VALUES ({i})"))
                .await
                .expect("insert");
        }
        let table = catalog.table("default", "t").expect("table");
        let files = catalog.files(&table).expect("files");
        assert_eq!(
            files.len(),
            2,
            "the eight small files were merged: {files:?}"
        );
        let rows = csv(session
            .execute("SELECT id FROM t ORDER BY id")
            .await
            .expect("select"));
        let want: String = std::iter::once("id".to_owned())
            .chain((0..9).map(|i| i.to_string()))
            .map(|l| l + "\n")
            .collect();
        assert_eq!(rows, want);
    });
}
