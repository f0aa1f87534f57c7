//! A served warehouse that no signed-in user can take down (issue 19,
//! reproduction 1): statements nested deeper than any stack, results larger
//! than a batch can hold, and a bounded run of generated hostile statements,
//! each followed by a health query on another connection. A crash of the
//! server (a stack overflow or an allocation failure aborts the process,
//! with every session in it) fails the health check and names the case.

mod serve;

use serve::{Key, Served, runtime};
use tokio_postgres::Client;

/// The SQLSTATE of an error, or "" for a success.
fn outcome(
    result: &Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error>,
) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e
            .code()
            .map(|c| c.code().to_owned())
            .unwrap_or_else(|| format!("no SQLSTATE: {e}")),
    }
}

/// Fails the test, naming `case`, unless the server still answers a new
/// connection's `SELECT 1`.
async fn assert_alive(served: &mut Served, key: &Key, case: &str) {
    assert!(
        served.running(),
        "the server died on {case}\n{}",
        served.log()
    );
    let health = served.connect(key).await;
    let rows = health.simple_query("SELECT 1").await;
    assert!(
        rows.is_ok(),
        "no health answer after {case}: {rows:?}\n{}",
        served.log()
    );
}

fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[test]
fn deep_statements_are_refused_or_run_and_the_server_stays_up() {
    let mut served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c: Client = served.connect(&root).await;
        // The reproductions' sizes, then far past them. Below the nesting
        // limit a statement runs; above it the error says what to do.
        let cases = [
            (
                "UNION ALL x100",
                chain("SELECT 1", " UNION ALL ", 100),
                true,
            ),
            (
                "UNION ALL x500",
                chain("SELECT 1", " UNION ALL ", 500),
                true,
            ),
            (
                "UNION ALL x20000",
                chain("SELECT 1", " UNION ALL ", 20_000),
                false,
            ),
            ("+ x200", format!("SELECT {}", chain("1", "+", 200)), true),
            ("+ x900", format!("SELECT {}", chain("1", "+", 900)), true),
            (
                "+ x2000",
                format!("SELECT {}", chain("1", "+", 2_000)),
                false,
            ),
            (
                "+ x1000000",
                format!("SELECT {}", chain("1", "+", 1_000_000)),
                false,
            ),
            (
                "|| x300",
                format!("SELECT {}", chain("'a'", "||", 300)),
                true,
            ),
            (
                "AND x450",
                format!("SELECT {}", chain("1 = 1", " AND ", 450)),
                true,
            ),
            (
                "OR x1000",
                format!("SELECT {}", chain("1 = 1", " OR ", 1_000)),
                false,
            ),
            (
                "OR x100000",
                format!("SELECT {}", chain("true", " OR ", 100_000)),
                false,
            ),
            (
                "NOT x100000",
                format!("SELECT {}true", "NOT ".repeat(100_000)),
                false,
            ),
            (
                "- x100000",
                format!("SELECT {}1", "- ".repeat(100_000)),
                false,
            ),
            (
                "(( x100000",
                format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000)),
                false,
            ),
            (
                "CASE x5000",
                format!(
                    "SELECT {}1{}",
                    "CASE WHEN true THEN ".repeat(5_000),
                    " END".repeat(5_000)
                ),
                false,
            ),
            (
                "::text x5000",
                format!("SELECT 1{}", "::text".repeat(5_000)),
                false,
            ),
        ];
        for (name, sql, runs) in cases {
            let result = c.simple_query(&sql).await;
            let code = outcome(&result);
            if runs {
                assert_eq!(code, "", "{name} should run: {result:?}");
            } else {
                // 54001: statement too complex (ours); 42601: the parser's
                // own recursion limit, for brackets and prefixes.
                assert!(
                    code == "54001" || code == "42601",
                    "{name}: {code} {:?}",
                    result.err()
                );
            }
            assert_alive(&mut served, &root, name).await;
        }
        let refused = c
            .simple_query(&format!("SELECT {}", chain("1", "+", 2_000)))
            .await
            .expect_err("too deep");
        let message = refused
            .as_db_error()
            .expect("server error")
            .message()
            .to_owned();
        assert!(
            message.contains("IN (...)") && message.contains("1000"),
            "{message}"
        );
    });
}

#[test]
fn results_too_large_for_a_batch_are_an_error_not_a_crash() {
    let mut served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT p; USE p; \
             CREATE TABLE t AS SELECT CAST(v AS BIGINT) AS i FROM (SELECT unnest(range(800)) AS v)",
        )
        .await
        .expect("create");
        // 800 values of 10 MB: 8 GB in one batch.
        for sql in [
            "SELECT REPEAT('a', 10000000) FROM p.t",
            "SELECT REPEAT('a', 10000000 + i) FROM p.t",
            "SELECT LPAD('a', 2000000000) FROM p.t",
            "SELECT RPAD('a', 10000000 + i, 'xy') FROM p.t",
        ] {
            let error = c.simple_query(sql).await.expect_err(sql);
            let message = error
                .as_db_error()
                .map(|e| e.message().to_owned())
                .unwrap_or_default();
            assert!(message.contains("GiB"), "{sql}: {error:?}");
            assert_alive(&mut served, &root, sql).await;
        }
        // A 3 MB literal copied into 800 rows overflows DataFusion's 32-bit
        // offsets, which panics inside DataFusion: the panic is this
        // statement's error, and the same session goes on.
        let literal = format!("SELECT '{}' FROM p.t", "x".repeat(3_000_000));
        let error = c
            .simple_query(&literal)
            .await
            .expect_err("offsets overflow");
        let db = error.as_db_error().expect("an error from the server");
        assert_eq!(db.code().code(), "XX000", "{db:?}");
        assert!(db.message().starts_with("internal error: "), "{db:?}");
        c.simple_query("SELECT 1")
            .await
            .expect("the session goes on");
        assert_alive(&mut served, &root, "a panic inside DataFusion").await;
        // Within the bound they still work.
        let rows = c
            .simple_query(
                "SELECT length(REPEAT('ab', 1000)), length(LPAD('a', 5, 'xy')) FROM p.t LIMIT 1",
            )
            .await
            .expect("small results");
        let row = rows
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some((r.get(0), r.get(1))),
                _ => None,
            })
            .expect("a row");
        assert_eq!(row, (Some("2000"), Some("5")));
    });
}

/// A deterministic generator (xorshift): the same cases every run.
struct Cases(u64);

impl Cases {
    fn next(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }

    fn expression(&mut self, depth: usize) -> String {
        if depth == 0 {
            return match self.next(6) {
                0 => self.next(1_000_000).to_string(),
                1 => format!("'{}'", "x".repeat(self.next(2_000))),
                2 => "NULL".to_owned(),
                3 => "i".to_owned(),
                4 => format!("{}.5e{}", self.next(100), self.next(400)),
                _ => "true".to_owned(),
            };
        }
        let a = self.expression(depth - 1);
        let b = self.expression(depth - 1);
        match self.next(12) {
            0 => format!("({a} + {b})"),
            1 => format!("({a} || {b})"),
            2 => format!("({a} = {b} OR {a} < {b})"),
            3 => format!("CASE WHEN {a} IS NULL THEN {b} ELSE {a} END"),
            4 => format!("CAST({a} AS VARCHAR)"),
            5 => format!("REPEAT(CAST({a} AS VARCHAR), {})", self.next(100_000)),
            6 => format!("coalesce({a}, {b})"),
            7 => format!("({a} / {b})"),
            8 => format!("ENHANCED_SYM_DECRYPT({a}, {b})"),
            9 => format!("(SELECT {a} UNION ALL SELECT {b} LIMIT 1)"),
            10 => format!("{a} {}", chain("+ 1", " ", self.next(3_000))),
            _ => format!("lpad(CAST({a} AS VARCHAR), {})", self.next(1 << 20)),
        }
    }
}

#[test]
fn generated_hostile_statements_never_take_the_server_down() {
    let mut served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; USE p; CREATE TABLE g AS SELECT CAST(v AS BIGINT) AS i FROM (SELECT unnest(range(300)) AS v)")
            .await
            .expect("create");
        let mut cases = Cases(0x5ea1_0005e);
        let started = std::time::Instant::now();
        let mut ran = 0;
        // Bounded in cases, not time: the same statements on every machine.
        for n in 0..150 {
            let depth = cases.next(5);
            let expression = cases.expression(depth);
            let sql = match cases.next(4) {
                0 => format!("SELECT {expression} FROM p.g"),
                1 => format!("SELECT count(*) FROM p.g WHERE {expression} IS NOT NULL"),
                2 => format!("SELECT {}", chain(&expression, ", ", 1 + cases.next(50))),
                _ => chain(&format!("SELECT {expression}"), " UNION ALL ", 1 + cases.next(40)),
            };
            // Parameters of every type the protocol carries, some junk.
            let result = if n % 3 == 0 {
                let text = String::from_utf8_lossy(&[cases.next(256) as u8, b'{', b'(']).into_owned();
                let number = cases.next(1 << 30) as i64 - (1 << 29);
                let row = c.query_one("SELECT $1::text, $2::bigint", &[&text, &number]).await;
                // Parameters come back exactly as bound.
                if let Ok(row) = &row {
                    assert_eq!((row.get::<_, String>(0), row.get::<_, i64>(1)), (text, number));
                }
                row.map(|_| ())
            } else {
                c.simple_query(&sql).await.map(|_| ())
            };
            if result.is_ok() {
                ran += 1;
            }
            assert_alive(&mut served, &root, &format!("case {n}: {}", &sql[..sql.len().min(300)])).await;
        }
        assert!(ran > 10, "most generated statements failed: only {ran} ran");
        eprintln!("150 generated statements, {ran} ran, in {:?}", started.elapsed());
    });
}

#[test]
fn each_statement_is_logged_as_json_without_its_values() {
    let served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute("CREATE PROJECT p; CREATE TABLE p.t AS SELECT 'tel-13900001234' AS tel")
            .await
            .expect("create");
        c.simple_query("SELECT tel, 'literal-secret-42' FROM p.t")
            .await
            .expect("select");
        c.simple_query("SELECT no_such_column FROM p.t")
            .await
            .expect_err("fails");
    });
    // The log is written as the statements finish; give the reader thread a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = served.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["target"] == "sealhouse::statement")
        .collect();
    let select = events
        .iter()
        .find(|e| e["fields"]["kind"] == "SELECT" && e["fields"]["outcome"] == "ok")
        .unwrap_or_else(|| panic!("no SELECT event in {log}"));
    assert_eq!(select["fields"]["rows"], 1, "{select}");
    assert!(
        select["fields"]["principal"]
            .as_str()
            .is_some_and(|p| p.ends_with(":1111:root"))
    );
    assert!(select["fields"]["duration_ms"].is_number());
    assert!(
        events.iter().any(|e| e["fields"]["outcome"] == "42703"),
        "the failed statement's SQLSTATE: {log}"
    );
    assert!(log.contains("\"signed in\""), "{log}");
    for value in ["tel-13900001234", "literal-secret-42", "no_such_column"] {
        assert!(!log.contains(value), "the log holds {value}: {log}");
    }
}

/// SIGTERM (a service manager stopping the server): no new connections,
/// the statement running then finishes and its client gets the result, and
/// the process exits 0.
#[test]
fn sigterm_lets_the_running_statement_finish_then_exits() {
    let mut served = Served::start();
    let root = served.account("7777");
    let rt = runtime();
    // A statement that runs for a few seconds on this machine: time a
    // smaller one and scale.
    let rows: i64 = rt.block_on(async {
        let c = served.connect(&root).await;
        let probe = 20_000_000_i64;
        let started = std::time::Instant::now();
        c.simple_query(&format!("SELECT count(*) FROM range({probe})"))
            .await
            .expect("probe");
        let per_row = started.elapsed().as_secs_f64() / probe as f64;
        ((4.0 / per_row) as i64).clamp(probe, 2_000_000_000)
    });
    let c = rt.block_on(served.connect(&root));
    let running = rt.spawn(async move {
        c.query_one(&format!("SELECT count(*) FROM range({rows})"), &[])
            .await
            .map(|row| row.get::<_, i64>(0))
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    served.terminate();

    // New connections are refused once the signal is handled.
    let refused = rt.block_on(async {
        for _ in 0..100 {
            let conninfo = served.conninfo(&root, &root.secret);
            if tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    });
    assert!(refused, "still accepting after SIGTERM\n{}", served.log());
    let counted = rt
        .block_on(running)
        .expect("task")
        .unwrap_or_else(|e| panic!("the running statement failed: {e}\n{}", served.log()));
    assert_eq!(counted, rows);
    let status = served
        .wait_exit(std::time::Duration::from_secs(40))
        .unwrap_or_else(|| panic!("still running after SIGTERM\n{}", served.log()));
    assert!(status.success(), "exit {status:?}\n{}", served.log());
    let log = served.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("running statements finished"), "{log}");
}

/// Each session's statements share a bounded memory pool: a statement that
/// needs more fails with SQLSTATE 53200, naming the limit, and its session
/// and the server go on.
#[test]
fn a_statement_over_the_session_memory_limit_fails_alone() {
    let mut served = Served::start_with(&["--session-memory-limit", "64MiB"]);
    let root = served.account("8888");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        // 8 million groups in no order (range's own order would let the
        // aggregate stream): well over 64 MiB of hash table.
        let greedy = "SELECT count(*) FROM (SELECT (value * 2654435761) % 1000000007 AS k, count(*) \
                      FROM range(8000000) GROUP BY k)";
        let result = c.simple_query(greedy).await;
        assert_eq!(outcome(&result), "53200", "{result:?}");
        let message = result
            .err()
            .and_then(|e| e.as_db_error().map(|d| d.message().to_owned()))
            .unwrap_or_default();
        assert!(message.contains("--session-memory-limit"), "{message}");
        // The session goes on, with statements that fit.
        let rows = c
            .simple_query("SELECT count(*) FROM (SELECT value % 1000 AS k, count(*) FROM range(8000000) GROUP BY k)")
            .await
            .expect("fits");
        assert!(matches!(&rows[1], tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("1000")));
        assert_alive(&mut served, &root, "the memory limit").await;
    });
}

/// A query's rows are sent as they are computed: a result several times
/// larger than the server's memory use goes through with the server's peak
/// memory bounded; a statement timeout stops a stream midway; a SELECT
/// before another statement in one query string sees the table as it was.
#[test]
fn results_stream_with_bounded_server_memory() {
    let served = Served::start();
    let root = served.account("9999");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let before = served.peak_rss_kib();
        // 3 million rows of ~110 bytes: about 330 MB as text.
        let rows = 3_000_000_u64;
        let stream = c
            .query_raw(
                &format!("SELECT value, repeat('x', 100) AS pad FROM range({rows})"),
                std::iter::empty::<i64>(),
            )
            .await
            .expect("query");
        futures::pin_mut!(stream);
        let (mut seen, mut sum) = (0_u64, 0_u64);
        while let Some(row) = futures::StreamExt::next(&mut stream).await {
            let row = row.expect("row");
            sum += row.get::<_, i64>(0) as u64;
            assert_eq!(row.get::<_, &str>(1).len(), 100);
            seen += 1;
        }
        // Every row once, in whatever order the partitions gave them.
        assert_eq!((seen, sum), (rows, rows * (rows - 1) / 2));
        let peak = served.peak_rss_kib();
        assert!(
            peak < before + 200 * 1024,
            "peak RSS went from {before} KiB to {peak} KiB for a streamed result"
        );

        c.batch_execute("SET statement_timeout = 500")
            .await
            .expect("set");
        let e = c
            .simple_query("SELECT value FROM range(2000000000)")
            .await
            .expect_err("times out while streaming");
        assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e:?}");
        c.batch_execute("SET statement_timeout = 0")
            .await
            .expect("reset");

        c.batch_execute(
            "CREATE PROJECT s; CREATE TABLE s.n (i BIGINT); INSERT INTO s.n VALUES (1), (2)",
        )
        .await
        .expect("setup");
        let replies = c
            .simple_query(
                "SELECT count(*) FROM s.n; INSERT INTO s.n VALUES (3); SELECT count(*) FROM s.n",
            )
            .await
            .expect("three statements");
        let counts: Vec<&str> = replies
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0),
                _ => None,
            })
            .collect();
        assert_eq!(counts, ["2", "3"]);
    });
}

/// The server runs without transparent huge pages (src/allocator.rs: a
/// fault would zero 2 MiB, and mimalloc spreads buffers over many such
/// regions), and answers a query that moves a lot of memory.
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    let served = Served::start();
    let Some(thp) = served.status_field("THP_enabled") else {
        // Kernels before 6.x do not report the flag; nothing to check.
        eprintln!("this kernel's /proc status has no THP_enabled field");
        return;
    };
    assert_eq!(thp, "0", "THP_enabled of the server process");
    let root = served.account("9999");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let row = c
            .query_one(
                "SELECT count(*), max(length(s)) FROM \
                 (SELECT repeat('x', 1024) AS s FROM range(100000))",
                &[],
            )
            .await
            .expect("query");
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i32>(1)),
            (100_000, 1024)
        );
    });
}
