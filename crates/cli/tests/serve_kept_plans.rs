//! Prepared statements run their kept plan (`sealhouse_sql`'s
//! `kept_plans`): planned once per session, then only bound. Each test
//! changes what a kept plan was planned on between two executions — the
//! table (dropped and made again, new rows), the project's encryption, a
//! grant, the clock — and checks that the next execution sees the catalog
//! as it is now. The server's statement log says whether an execution was
//! planned or reused.

mod serve;

use serve::{Served, code, message, runtime};
use tokio_postgres::types::Type;

/// The `plan` field of every logged statement of `kind`, in order.
fn plans(served: &Served, kind: &str) -> Vec<String> {
    // The log is written as statements finish; give the reader a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    served
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["target"] == "sealhouse::statement" && e["fields"]["kind"] == kind)
        .map(|e| e["fields"]["plan"].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// How many logged statements of `kind` ran a reused plan, and the log's
/// `plan` fields of that kind (for failure messages).
fn reused(served: &Served, kind: &str) -> (usize, Vec<String>) {
    let plans = plans(served, kind);
    (plans.iter().filter(|p| *p == "reused").count(), plans)
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", message(&e)))
        .get(0)
}

/// A prepared INSERT and SELECT, executed again after another session
/// added rows, dropped the table and made it again (same columns, so only
/// its id tells them apart), and made it again with other columns.
#[test]
fn a_kept_plan_sees_the_tables_as_they_are_at_each_execution() {
    let served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let other = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; CREATE TABLE p.t (id BIGINT, v STRING)")
            .await
            .expect("create");
        let insert = c
            .prepare("INSERT INTO p.t VALUES ($1, $2)")
            .await
            .expect("prepare insert");
        let select = c
            .prepare("SELECT count(*), sum(id) FROM p.t WHERE id > $1")
            .await
            .expect("prepare select");
        for id in 1..=5_i64 {
            c.execute(&insert, &[&id, &"a"]).await.expect("insert");
        }
        let row = c.query_one(&select, &[&0_i64]).await.expect("select");
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (5, 15));

        // Rows another session committed since: the kept scan reads the
        // table's snapshot as of this execution.
        other
            .batch_execute("INSERT INTO p.t VALUES (10, 'b'), (20, 'c')")
            .await
            .expect("other inserts");
        let row = c.query_one(&select, &[&2_i64]).await.expect("select");
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (5, 3 + 4 + 5 + 10 + 20)
        );

        // The table dropped and made again with the same columns: the row
        // goes into the new table, not the dropped one.
        other
            .batch_execute("DROP TABLE p.t; CREATE TABLE p.t (id BIGINT, v STRING)")
            .await
            .expect("recreate");
        c.execute(&insert, &[&7_i64, &"new"]).await.expect("insert");
        assert_eq!(count(&other, "SELECT count(*) FROM p.t").await, 1);
        let row = c.query_one(&select, &[&0_i64]).await.expect("select");
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, 7));

        // Made again with other columns: the INSERT is planned against
        // them and refused with the planner's error.
        other
            .batch_execute("DROP TABLE p.t; CREATE TABLE p.t (id BIGINT, v STRING, w STRING)")
            .await
            .expect("recreate wider");
        let e = c
            .execute(&insert, &[&8_i64, &"x"])
            .await
            .expect_err("two values for three columns");
        assert!(message(&e).contains("expected 3"), "{}", message(&e));
        assert_eq!(count(&other, "SELECT count(*) FROM p.t").await, 0);
        // Dropped for good: the kept plan's table is gone.
        other.batch_execute("DROP TABLE p.t").await.expect("drop");
        let e = c.query_one(&select, &[&0_i64]).await.expect_err("no table");
        assert!(
            message(&e).contains("p.t") || message(&e).contains("'t'"),
            "{}",
            message(&e)
        );
    });
    // c's five prepared INSERTs: planned, then reused; after each
    // re-creation, planned again.
    let (inserts, log) = reused(&served, "INSERT");
    assert_eq!(inserts, 4, "{log:?}");
    let (selects, log) = reused(&served, "SELECT");
    assert!(
        selects > 0,
        "the second SELECT reuses the first's plan: {log:?}"
    );
}

/// Placeholders the planner leaves untyped (a function's arguments) take
/// the types of the first execution's values; executions binding the same
/// types reuse the plan, and every value comes back exactly.
#[test]
fn untyped_placeholders_are_kept_with_their_values_types() {
    let served = Served::start();
    let root = served.account("5555");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; CREATE TABLE p.s (id BIGINT, v BINARY)")
            .await
            .expect("create");
        let keyset: Vec<u8> = c
            .query_one("SELECT NEW_KEYSET('AES-GCM-256', 'kept')", &[])
            .await
            .expect("keyset")
            .get(0);
        let encrypt = c
            .prepare_typed(
                "INSERT INTO p.s VALUES ($1, ENHANCED_SYM_ENCRYPT($2, $3))",
                &[Type::INT8, Type::BYTEA, Type::TEXT],
            )
            .await
            .expect("prepare");
        let decrypt = c
            .prepare_typed(
                "SELECT CAST(ENHANCED_SYM_DECRYPT($1, v) AS VARCHAR) FROM p.s WHERE id = $2",
                &[Type::BYTEA, Type::INT8],
            )
            .await
            .expect("prepare");
        let texts = ["{\"ssn\":\"123-45-6789\"}", "(a,b)", "\"quoted\"", "plain"];
        for (id, text) in (0_i64..).zip(texts) {
            c.execute(&encrypt, &[&id, &keyset, &text])
                .await
                .expect("insert");
        }
        for (id, text) in (0_i64..).zip(texts) {
            let got: String = c
                .query_one(&decrypt, &[&keyset, &id])
                .await
                .expect("decrypt")
                .get(0);
            assert_eq!(got, text);
        }
        // Sent as `unknown` (how psycopg sends a str): text, exactly.
        let concat = c.prepare("SELECT concat($1, '!')").await.expect("prepare");
        for text in texts {
            let got: String = c.query_one(&concat, &[&text]).await.expect("concat").get(0);
            assert_eq!(got, format!("{text}!"));
        }
    });
    let (inserts, log) = reused(&served, "INSERT");
    assert_eq!(inserts, 3, "{log:?}");
    let (selects, log) = reused(&served, "SELECT");
    assert!(selects >= 6, "{log:?}");
}

/// A kept INSERT into a project that gained storage encryption after it
/// was planned writes its next rows encrypted.
#[test]
fn a_kept_insert_follows_the_project_encryption_as_it_is_now() {
    let served = Served::start();
    let root = served.account("2222");
    let plaintext_before = "kept-plan-row-before-encryption";
    let plaintext_after = "kept-plan-row-after-encryption";
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let admin = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; CREATE TABLE p.t (id BIGINT, v STRING)")
            .await
            .expect("create");
        let insert = c
            .prepare("INSERT INTO p.t VALUES ($1, $2)")
            .await
            .expect("prepare");
        c.execute(&insert, &[&1_i64, &plaintext_before])
            .await
            .expect("insert");
        c.execute(&insert, &[&2_i64, &plaintext_before])
            .await
            .expect("insert");
        admin
            .batch_execute("ALTER PROJECT p ENABLE ENCRYPTION ALGORITHM AES256 KEY DEFAULT")
            .await
            .expect("enable encryption");
        c.execute(&insert, &[&3_i64, &plaintext_after])
            .await
            .expect("insert");
        assert_eq!(count(&admin, "SELECT count(*) FROM p.t").await, 3);
    });
    let stored = stored_bytes(served.data_dir());
    assert!(
        find(&stored, plaintext_before.as_bytes()),
        "the check can see plaintext: rows from before encryption are in a plain file"
    );
    assert!(
        !find(&stored, plaintext_after.as_bytes()),
        "a row inserted after ENABLE ENCRYPTION is stored in plaintext"
    );
    let inserts = plans(&served, "INSERT");
    assert_eq!(inserts, ["planned", "reused", "reused"], "{inserts:?}");
}

/// Privileges are checked at every execution, on the statement as
/// written: a revoked grant refuses the kept plan, even one whose scan
/// the optimiser removed.
#[test]
fn a_kept_plan_is_authorised_at_each_execution() {
    let served = Served::start();
    let root = served.account("3333");
    let bob = served.user(&root, "bob");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT hr; CREATE TABLE hr.pay (who STRING, amount BIGINT); \
             INSERT INTO hr.pay VALUES ('ann', 100); \
             USE hr; ADD USER bob; GRANT SELECT, INSERT ON TABLE pay TO USER bob",
        )
        .await
        .expect("setup");
        let b = served.connect(&bob).await;
        let nothing = b
            .prepare("SELECT count(*) FROM hr.pay WHERE 1 = 0")
            .await
            .expect("prepare");
        let insert = b
            .prepare("INSERT INTO hr.pay VALUES ($1, $2)")
            .await
            .expect("prepare");
        for _ in 0..2 {
            let n: i64 = b.query_one(&nothing, &[]).await.expect("select").get(0);
            assert_eq!(n, 0);
            b.execute(&insert, &[&"bob", &1_i64]).await.expect("insert");
        }
        c.batch_execute("REVOKE SELECT, INSERT ON TABLE pay FROM USER bob")
            .await
            .expect("revoke");
        let e = b.query_one(&nothing, &[]).await.expect_err("revoked");
        assert_eq!(code(&e), "42501", "{}", message(&e));
        let e = b
            .execute(&insert, &[&"bob", &1_i64])
            .await
            .expect_err("revoked");
        assert_eq!(code(&e), "42501", "{}", message(&e));
        assert_eq!(count(&c, "SELECT count(*) FROM hr.pay").await, 3);
    });
    let (selects, log) = reused(&served, "SELECT");
    assert!(selects > 0, "bob's second SELECT reused its plan: {log:?}");
}

/// What the optimiser would fold at plan time is not kept: `now()` moves
/// between executions.
#[test]
fn statements_with_stable_functions_are_planned_each_time() {
    let served = Served::start();
    let root = served.account("4444");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let now = c
            .prepare("SELECT CAST(now() AS VARCHAR)")
            .await
            .expect("prepare");
        let first: String = c.query_one(&now, &[]).await.expect("now").get(0);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second: String = c.query_one(&now, &[]).await.expect("now").get(0);
        assert_ne!(first, second, "now() stood still");
    });
    let (selects, log) = reused(&served, "SELECT");
    assert_eq!(selects, 0, "a statement calling now() was reused: {log:?}");
}

/// PostgreSQL's `plan_cache_mode = force_custom_plan` plans every
/// execution with its values; `auto` keeps plans again.
#[test]
fn force_custom_plan_plans_every_execution() {
    let served = Served::start();
    let root = served.account("6666");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; CREATE TABLE p.t (id BIGINT)")
            .await
            .expect("create");
        let insert = c
            .prepare("INSERT INTO p.t VALUES ($1)")
            .await
            .expect("prepare");
        c.batch_execute("SET plan_cache_mode = force_custom_plan")
            .await
            .expect("set");
        for id in 0..3_i64 {
            c.execute(&insert, &[&id]).await.expect("insert");
        }
        c.batch_execute("SET plan_cache_mode = auto")
            .await
            .expect("set");
        for id in 3..6_i64 {
            c.execute(&insert, &[&id]).await.expect("insert");
        }
        assert_eq!(count(&c, "SELECT count(*) FROM p.t").await, 6);
    });
    let inserts = plans(&served, "INSERT");
    assert_eq!(
        inserts,
        [
            "planned", "planned", "planned", "planned", "reused", "reused"
        ],
        "{inserts:?}"
    );
}

/// Every file under `dir`, read.
fn stored_bytes(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push(bytes);
            }
        }
    }
    out
}

fn find(files: &[Vec<u8>], needle: &[u8]) -> bool {
    files
        .iter()
        .any(|f| f.windows(needle.len()).any(|w| w == needle))
}
