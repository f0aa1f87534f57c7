//! `sealhouse serve` driven by tokio-postgres, a driver that speaks the
//! extended protocol the way JDBC does: Parse with parameters, Describe,
//! Bind, Execute, binary results. Plus sign-in, permissions, transaction
//! blocks and cursors over the simple protocol.

mod serve;

use serve::{Served, code, message, runtime};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// The rows of a simple query, as text.
async fn simple(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// A row of sales.t as bound (borrowed) and as read back (owned).
type RowIn<'a> = (i64, Option<&'a str>, Option<&'a [u8]>, f64);
type RowOut = (i64, Option<String>, Option<Vec<u8>>, f64);
/// A row of params.t, every column nullable, as bound and as read back.
type NullableIn<'a> = (Option<i64>, Option<&'a str>, Option<&'a [u8]>);
type NullableOut = (Option<i64>, Option<String>, Option<Vec<u8>>);

#[test]
fn prepared_statements_with_parameters_and_binary_results() {
    let served = Served::start();
    let root = served.account("1111");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT sales; CREATE TABLE sales.t (id BIGINT, name STRING, secret BINARY, score DOUBLE)",
        )
        .await
        .expect("create");

        let insert = c
            .prepare("INSERT INTO sales.t VALUES ($1, $2, $3, $4)")
            .await
            .expect("prepare insert");
        assert_eq!(
            insert.params(),
            &[Type::INT8, Type::TEXT, Type::BYTEA, Type::FLOAT8],
            "parameter types inferred from the table"
        );
        let rows: Vec<RowIn<'_>> = vec![
            (1, Some("ada"), Some(&[0x00, 0xff, 0x80][..]), 1.5),
            (2, None, None, -0.25),
            (3, Some("grace 'hopper'"), Some(b"x".as_slice()), 1e300),
        ];
        for (id, name, secret, score) in &rows {
            let n = c
                .execute(&insert, &[id, name, secret, score])
                .await
                .expect("insert");
            assert_eq!(n, 1, "INSERT reports its row");
        }

        let select = c
            .prepare("SELECT id, name, secret, score FROM sales.t WHERE id >= $1 ORDER BY id")
            .await
            .expect("prepare select");
        assert_eq!(select.params(), &[Type::INT8]);
        let types: Vec<Type> = select.columns().iter().map(|c| c.type_().clone()).collect();
        assert_eq!(types, vec![Type::INT8, Type::TEXT, Type::BYTEA, Type::FLOAT8]);
        // The same prepared statement, bound three times.
        for from in [1_i64, 2, 4] {
            let got = c.query(&select, &[&from]).await.expect("select");
            let got: Vec<RowOut> = got
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
            let want: Vec<RowOut> = rows
                .iter()
                .filter(|r| r.0 >= from)
                .map(|(i, n, s, d)| (*i, n.map(str::to_owned), s.map(<[u8]>::to_vec), *d))
                .collect();
            assert_eq!(got, want, "rows from id {from}");
        }

        // Text results (simple protocol) show bytea in hex.
        let text = simple(&c, "SELECT secret FROM sales.t WHERE id = 1").await;
        assert_eq!(text, vec![vec![Some("\\x00ff80".to_owned())]]);

        // A bad statement fails at Parse with the warehouse's message, and
        // the connection stays usable.
        let e = c.prepare("SELECT nope FROM sales.t").await.expect_err("no such column");
        assert!(message(&e).contains("nope"), "{}", message(&e));
        assert_eq!(simple(&c, "SELECT 1").await, vec![vec![Some("1".to_owned())]]);
    });
}

#[test]
fn sign_in_needs_the_key_secret_and_runs_as_the_key() {
    let served = Served::start();
    let root = served.account("2222");
    let bob = served.user(&root, "bob");
    runtime().block_on(async {
        let wrong = tokio_postgres::connect(&served.conninfo(&root, "not-the-secret"), NoTls)
            .await
            .err()
            .expect("wrong password refused");
        assert_eq!(code(&wrong), "28P01", "{wrong}");
        let db = wrong.as_db_error().expect("server error");
        assert!(
            db.message().contains("password authentication failed"),
            "{db}"
        );
        assert!(!db.message().contains("not-the-secret"), "{db}");

        // A secret typed as the user name is not echoed back.
        let swapped = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user={} password=x dbname=postgres",
                served.pg_port, root.secret
            ),
            NoTls,
        )
        .await
        .err()
        .expect("refused");
        assert!(
            !message(&swapped).contains(&root.secret),
            "{}",
            message(&swapped)
        );

        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT hr; CREATE TABLE hr.pay (who STRING, amount BIGINT); \
             INSERT INTO hr.pay VALUES ('ann', 100)",
        )
        .await
        .expect("setup");

        // Bob signs in, but may not read hr.pay until granted.
        let b = served.connect(&bob).await;
        let e = b
            .simple_query("SELECT * FROM hr.pay")
            .await
            .expect_err("not granted");
        assert_eq!(code(&e), "42501", "{}", message(&e));
        assert!(message(&e).contains("access denied"), "{}", message(&e));
        // pg_catalog lists what SHOW PROJECTS would: the account's own
        // projects for its users, nothing of another account's.
        let hr = "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'hr'";
        assert_eq!(simple(&b, hr).await, vec![vec![Some("hr".to_owned())]]);
        let other = served.connect(&served.account("2223")).await;
        assert!(simple(&other, hr).await.is_empty());
        let tables = "SELECT relname FROM pg_catalog.pg_class WHERE relname = 'pay'";
        assert!(simple(&other, tables).await.is_empty());
        assert_eq!(simple(&c, tables).await, vec![vec![Some("pay".to_owned())]]);

        c.batch_execute("USE hr; ADD USER bob; GRANT SELECT ON TABLE pay TO USER bob")
            .await
            .expect("grant");
        assert_eq!(
            simple(&b, "SELECT who, amount FROM hr.pay").await,
            vec![vec![Some("ann".to_owned()), Some("100".to_owned())]]
        );
        let e = b
            .simple_query("INSERT INTO hr.pay VALUES ('bob', 1)")
            .await
            .expect_err("SELECT only");
        assert_eq!(code(&e), "42501", "{}", message(&e));
    });
}

#[test]
fn settings_transaction_blocks_and_cursors() {
    let served = Served::start();
    let root = served.account("3333");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT p; CREATE TABLE p.n (i BIGINT); \
             INSERT INTO p.n VALUES (1), (2), (3), (4), (5)",
        )
        .await
        .expect("setup");

        // What postgres_fdw sends on connecting.
        c.batch_execute(
            "SET search_path = pg_catalog; SET timezone = 'UTC'; SET datestyle = ISO; \
             SET intervalstyle = postgres; SET extra_float_digits = 3",
        )
        .await
        .expect("postgres_fdw settings");
        assert_eq!(
            simple(&c, "SHOW search_path").await,
            vec![vec![Some("pg_catalog".to_owned())]]
        );
        let e = c
            .simple_query("SET timezone = 'Asia/Shanghai'")
            .await
            .expect_err("UTC only");
        assert_eq!(code(&e), "22023", "{}", message(&e));

        // A cursor inside a read-only block, fetched in pieces.
        c.batch_execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .expect("begin");
        c.batch_execute("DECLARE c1 CURSOR FOR SELECT i FROM p.n ORDER BY i")
            .await
            .expect("declare");
        let first = simple(&c, "FETCH 2 FROM c1").await;
        let rest = simple(&c, "FETCH 100 FROM c1").await;
        let empty = simple(&c, "FETCH 100 FROM c1").await;
        assert_eq!(
            first,
            vec![vec![Some("1".to_owned())], vec![Some("2".to_owned())]]
        );
        assert_eq!(rest.len(), 3);
        assert!(empty.is_empty());
        c.batch_execute("CLOSE c1; COMMIT TRANSACTION")
            .await
            .expect("close, commit");

        // Writes cannot hide in a block: refused, and the block is failed
        // until ROLLBACK.
        c.batch_execute("BEGIN").await.expect("begin");
        let e = c
            .simple_query("INSERT INTO p.n VALUES (6)")
            .await
            .expect_err("write in block");
        assert_eq!(code(&e), "25001", "{}", message(&e));
        let e = c.simple_query("SELECT 1").await.expect_err("failed block");
        assert_eq!(code(&e), "25P02", "{}", message(&e));
        c.batch_execute("ROLLBACK").await.expect("rollback");
        assert_eq!(
            simple(&c, "SELECT count(*) FROM p.n").await,
            vec![vec![Some("5".to_owned())]]
        );

        // Cursors need a block, and end with it.
        let e = c
            .simple_query("DECLARE c2 CURSOR FOR SELECT 1")
            .await
            .expect_err("no block");
        assert_eq!(code(&e), "25P01", "{}", message(&e));
        c.batch_execute("BEGIN; DECLARE c3 CURSOR FOR SELECT i FROM p.n; COMMIT")
            .await
            .expect("declare in block");
        let e = c
            .simple_query("FETCH 1 FROM c3")
            .await
            .expect_err("closed at commit");
        assert_eq!(code(&e), "34000", "{}", message(&e));

        // Statement timeout cancels a long statement.
        c.batch_execute("SET statement_timeout = 1")
            .await
            .expect("timeout");
        let e = c
            .simple_query("SELECT count(*) FROM range(1000000000) a")
            .await
            .expect_err("times out");
        assert_eq!(code(&e), "57014", "{}", message(&e));
    });
}

/// The names a catalog query lists, sorted.
async fn names(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let mut names: Vec<String> = simple(client, sql)
        .await
        .into_iter()
        .filter_map(|mut row| row.swap_remove(0))
        .collect();
    names.sort();
    names
}

/// Issue 19, reproduction 3: pg_catalog, and Describe of a statement,
/// listed every table and column with its type to a user the CLI refuses
/// SHOW TABLES and DESC.
#[test]
fn catalog_and_describe_show_only_what_the_user_may_see() {
    let served = Served::start();
    let root = served.account("4444");
    let eve = served.user(&root, "eve");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT vault; CREATE TABLE vault.salaries (who STRING, amount BIGINT); \
             CREATE TABLE vault.bonus (who STRING, extra DOUBLE)",
        )
        .await
        .expect("setup");
        let e = served.connect(&eve).await;
        let other = served.connect(&served.account("4445")).await;

        let classes = "SELECT c.relname FROM pg_catalog.pg_class c \
                       JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
                       WHERE n.nspname = 'vault'";
        let tables = "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'vault'";
        let columns = "SELECT a.attname FROM pg_catalog.pg_attribute a \
                       JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
                       JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
                       WHERE n.nspname = 'vault' AND a.attnum > 0";
        // psql's \d: relations with their types, by pg_class and format_type.
        let described = "SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) \
                         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
                         WHERE c.relname IN ('salaries', 'bonus')";
        for (who, client) in [("eve", &e), ("another account", &other)] {
            assert!(names(client, classes).await.is_empty(), "{who}: pg_class");
            assert!(names(client, tables).await.is_empty(), "{who}: pg_tables");
            assert!(names(client, columns).await.is_empty(), "{who}: pg_attribute");
            assert!(simple(client, described).await.is_empty(), "{who}: \\d");
            // Parse + Describe of a SELECT: refused, naming no column.
            for sql in [
                "SELECT * FROM vault.salaries",
                "SELECT nope FROM vault.salaries",
                "SELECT amount FROM vault.salaries WHERE who = $1",
            ] {
                let refused = client.prepare(sql).await.expect_err("no grant");
                assert_eq!(code(&refused), "42501", "{who}: {sql}: {}", message(&refused));
                for column in ["amount", "Int64", "Utf8"] {
                    assert!(
                        !message(&refused).contains(column),
                        "{who}: {sql}: {}",
                        message(&refused)
                    );
                }
            }
        }
        // The owner sees everything.
        assert_eq!(names(&c, tables).await, ["bonus", "salaries"]);
        assert_eq!(names(&c, columns).await, ["amount", "extra", "who", "who"]);

        // LIST on the project shows the tables' names (as SHOW TABLES);
        // DESCRIBE on one table its columns (as DESC); SELECT lets Describe
        // of a statement reading it show its result columns.
        c.batch_execute(
            "USE vault; ADD USER eve; GRANT LIST ON PROJECT vault TO USER eve; \
             GRANT DESCRIBE ON TABLE bonus TO USER eve",
        )
        .await
        .expect("grants");
        assert_eq!(names(&e, tables).await, ["bonus", "salaries"]);
        assert_eq!(names(&e, columns).await, ["extra", "who"]);
        assert!(e.prepare("SELECT * FROM vault.salaries").await.is_err());
        c.batch_execute("GRANT SELECT ON TABLE salaries TO USER eve")
            .await
            .expect("grant select");
        let select = e
            .prepare("SELECT amount FROM vault.salaries WHERE who = $1")
            .await
            .expect("described");
        assert_eq!(select.params(), &[Type::TEXT]);
        assert_eq!(select.columns()[0].type_(), &Type::INT8);
        // Who may read a table sees its columns in pg_catalog too.
        assert_eq!(names(&e, columns).await, ["amount", "extra", "who", "who"]);
        // The other account still sees nothing.
        assert!(names(&other, tables).await.is_empty());
    });
}

/// Text, bytea, integer and NULL parameters come back bit-exactly, typed
/// by the client or left for the server to infer.
#[test]
fn parameters_round_trip_exactly() {
    let served = Served::start();
    let root = served.account("5555");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        let texts = [
            r#"{"ssn":"123-45-6789"}"#,
            "{a,b}",
            "{}",
            "(1,2)",
            r#""quoted""#,
            "[x]",
            "",
            "NULL",
            "tab\tnew\nline é 漢",
        ];
        for sql in ["SELECT $1::text", "SELECT $1", "SELECT $1 || ''"] {
            let statement = c.prepare_typed(sql, &[Type::TEXT]).await.expect(sql);
            for text in texts {
                let row = c.query_one(&statement, &[&text]).await.expect(sql);
                assert_eq!(row.get::<_, String>(0), text, "{sql}");
            }
            let row = c
                .query_one(&statement, &[&None::<String>])
                .await
                .expect(sql);
            assert_eq!(row.get::<_, Option<String>>(0), None, "{sql}: NULL");
        }
        let bytes: [&[u8]; 5] = [
            b"",
            b"\x00",
            b"\xff\xfe\x80\x00{\"",
            b"\\x00ff",
            &[0xc3, 0x28, 0xa0, 0xa1],
        ];
        let all: Vec<u8> = (0..=255).collect();
        let statement = c.prepare("SELECT $1::bytea").await.expect("bytea");
        for value in bytes.into_iter().chain([all.as_slice()]) {
            let row = c.query_one(&statement, &[&value]).await.expect("bytea");
            assert_eq!(row.get::<_, Vec<u8>>(0), value);
        }
        let statement = c.prepare("SELECT $1::bigint, $2::int").await.expect("ints");
        for (big, small) in [(i64::MIN, i32::MIN), (i64::MAX, i32::MAX), (0, -1)] {
            let row = c
                .query_one(&statement, &[&big, &small])
                .await
                .expect("ints");
            assert_eq!((row.get::<_, i64>(0), row.get::<_, i32>(1)), (big, small));
        }

        // Stored and read back through a table.
        c.batch_execute(
            "CREATE PROJECT params; CREATE TABLE params.t (n BIGINT, s STRING, b BINARY)",
        )
        .await
        .expect("create");
        let insert = c
            .prepare("INSERT INTO params.t VALUES ($1, $2, $3)")
            .await
            .expect("insert");
        let rows: Vec<NullableIn<'_>> = vec![
            (Some(1), Some(texts[0]), Some(bytes[2])),
            (Some(2), Some(texts[3]), Some(&all)),
            (Some(3), Some(texts[4]), None),
            (None, None, Some(bytes[4])),
        ];
        for (n, s, b) in &rows {
            c.execute(&insert, &[n, s, b]).await.expect("insert");
        }
        let got = c
            .query("SELECT n, s, b FROM params.t ORDER BY n NULLS LAST", &[])
            .await
            .expect("select");
        let got: Vec<NullableOut> = got.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        let want: Vec<NullableOut> = rows
            .iter()
            .map(|(n, s, b)| (*n, s.map(str::to_owned), b.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(got, want);
    });
}

/// The SQLSTATE a driver sees comes from the kind of error, over both
/// protocols: names that do not exist by their kind, a refused value, a
/// failed decryption, an unsupported statement, a name taken, a refusal.
#[test]
fn sqlstates_tell_kinds_of_errors_apart() {
    let served = Served::start();
    let root = served.account("1111");
    let bob = served.user(&root, "bob");
    runtime().block_on(async {
        let c = served.connect(&root).await;
        c.batch_execute(
            "CREATE PROJECT codes; CREATE TABLE codes.t (id BIGINT); \
             CREATE TABLE codes.k AS SELECT NEW_KEYSET('AES-GCM-256') AS a, \
             NEW_KEYSET('AES-GCM-256') AS b",
        )
        .await
        .expect("create");
        let cases = [
            ("SELECT * FROM codes.nope", "42P01"),
            ("SELECT nope FROM codes.t", "42703"),
            ("SELECT no_such_fn(id) FROM codes.t", "42883"),
            ("SELEC 1", "42601"),
            ("SELECT NEW_KEYSET('DES')", "22023"),
            (
                "SELECT ENHANCED_SYM_DECRYPT(b, ENHANCED_SYM_ENCRYPT(a, 'x')) FROM codes.k",
                "39000",
            ),
            ("CREATE VIEW codes.v AS SELECT 1", "0A000"),
            ("CREATE TABLE codes.t (id BIGINT)", "42P07"),
            ("USE nowhere", "3F000"),
        ];
        for (sql, expected) in cases {
            let simple = c.simple_query(sql).await.expect_err(sql);
            assert_eq!(
                code(&simple),
                expected,
                "{sql} (simple): {}",
                message(&simple)
            );
            if !sql.starts_with("USE") && !sql.starts_with("SELEC ") {
                let extended = c.query(sql, &[]).await.expect_err(sql);
                assert_eq!(
                    code(&extended),
                    expected,
                    "{sql} (extended): {}",
                    message(&extended)
                );
            }
        }
        let b = served.connect(&bob).await;
        let refused = b
            .simple_query("SELECT * FROM codes.t")
            .await
            .expect_err("bob holds no grant");
        assert_eq!(code(&refused), "42501", "{}", message(&refused));
    });
}
