//! Many processes on one fresh data directory at once (issue 19,
//! reproduction 6): of 8 `sealhouse sql` processes started together on a
//! new directory only one succeeded ("database is locked", "table events
//! already exists") and a spare local account was made. Each must succeed,
//! and the directory must end with one local account whose tables every
//! process sees.

mod sandbox;

use sandbox::Sandbox;

#[test]
fn eight_processes_open_a_fresh_data_directory_at_once() {
    let sandbox = Sandbox::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            sandbox
                .std_command()
                .args([
                    "sql",
                    "-e",
                    &format!("CREATE TABLE t{i} (x BIGINT); INSERT INTO t{i} VALUES ({i}); SELECT x FROM t{i}"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawns")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("waits");
        assert!(
            out.status.success(),
            "process {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("| {i} ")),
            "process {i}"
        );
    }
    let iam = rusqlite::Connection::open(sandbox.data().join("iam/iam.db")).expect("iam.db");
    let accounts: i64 = iam
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .expect("counts");
    assert_eq!(accounts, 1, "one local account, no spares");
    // They all wrote to the same default project of the same account.
    let out = sandbox
        .command()
        .args(["sql", "-e", "SHOW TABLES"])
        .output()
        .expect("runs");
    let tables = String::from_utf8_lossy(&out.stdout);
    for i in 0..8 {
        assert!(tables.contains(&format!("t{i}")), "t{i} in {tables}");
    }
}
