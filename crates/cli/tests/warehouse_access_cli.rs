//! Access control through the real binary: a RAM user's `sealhouse sql` is
//! refused until the owner grants, by SQL, what it needs; scripts stop at
//! the refused statement.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

#[test]
fn a_ram_user_reads_only_what_it_was_granted() {
    let w = World::new();
    let a = w.new_key(
        None,
        &["iam", "create-account", "--uid", "1892732288741234"],
    );
    w.ok(Some(&a), &["iam", "create-user", "--name", "analyst"]);
    let analyst = w.new_key(Some(&a), &["iam", "create-access-key", "--user", "analyst"]);
    let sql = |text: &str| -> Vec<String> {
        ["sql", "--project", "sales", "--format", "csv", "-e", text]
            .map(str::to_owned)
            .to_vec()
    };
    let run_ok = |who: &Creds, text: &str| {
        let args = sql(text);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        w.ok(Some(who), &args)
    };
    let run_fails = |who: &Creds, text: &str| {
        let args = sql(text);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        w.fails(Some(who), &args)
    };

    // The account root makes a project and a table.
    w.ok(Some(&a), &["sql", "-e", "CREATE PROJECT sales"]);
    run_ok(
        &a,
        "CREATE TABLE orders (id BIGINT, tel STRING); INSERT INTO orders VALUES (1, '13900001234')",
    );

    // The analyst may not even enter the project yet.
    let err = run_fails(&analyst, "SELECT count(*) FROM orders");
    assert!(err.contains("access denied"), "{err}");
    assert!(
        err.contains("acs:ram::1892732288741234:user/analyst"),
        "{err}"
    );

    // A member without grants: refused, naming action and resource.
    run_ok(&a, "ADD USER analyst");
    let err = run_fails(&analyst, "SELECT count(*) FROM orders");
    for needle in [
        "odps:Select",
        "acs:odps:cn-hangzhou:1892732288741234:projects/sales/tables/orders",
        "GRANT SELECT ON TABLE orders",
    ] {
        assert!(err.contains(needle), "{needle} in {err}");
    }
    assert!(!err.contains("13900001234"), "{err}");

    // Granted SELECT: reads, but a script stops at the refused INSERT.
    run_ok(&a, "GRANT SELECT ON TABLE orders TO USER analyst");
    assert!(run_ok(&analyst, "SELECT count(*) FROM orders").contains("\n1\n"));
    let err = run_fails(
        &analyst,
        "SELECT count(*) FROM orders; INSERT INTO orders VALUES (2, 'x'); SELECT 1",
    );
    assert!(
        err.contains("line 1") || err.contains("odps:Update"),
        "{err}"
    );
    assert!(err.contains("odps:Update"), "{err}");
    assert!(
        run_ok(&a, "SELECT count(*) FROM orders").contains("\n1\n"),
        "nothing inserted"
    );

    // SHOW GRANTS as the analyst shows their own grants only.
    let own = run_ok(&analyst, "SHOW GRANTS FOR USER analyst");
    assert!(own.contains("SELECT"), "{own}");
    let err = run_fails(&analyst, "SHOW GRANTS");
    assert!(err.contains("odps:UpdateProject"), "{err}");
}
