//! Drives `sealhouse sql` as a user would: the spec's guide as a script,
//! output formats, errors, and an INSERT killed mid-write.

mod crash;
mod sandbox;

use assert_cmd::Command;
use sandbox::Sandbox;

fn sealhouse(sandbox: &Sandbox) -> Command {
    let mut cmd = sandbox.command();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_spec_guide_runs_as_a_script() {
    let data = Sandbox::new();
    let out =
        run(sealhouse(&data).args(["sql", "--echo", "-f", "../../examples/keyset_guide.sql"]));
    assert!(out.contains("| id | name | tel         |"), "{out}");
    assert!(out.contains("| 1  | kyle | 13900001234 |"), "{out}");
    assert!(out.contains("| 2  | tom  | 13900001111 |"), "{out}");
    assert!(
        out.contains("\"key_material_origin\": \"Origin_RAW\""),
        "{out}"
    );
    // Ciphertexts print quoted-printable style, as the spec shows them.
    assert!(
        out.lines()
            .any(|l| l.starts_with("| 1  | kyle | ") && l.contains('=')),
        "{out}"
    );
    // Data persisted in the data directory; a second process sees it.
    let out = run(sealhouse(&data).args(["sql", "-e", "SELECT count(*) AS n FROM mf_keyset"]));
    assert!(out.contains("| 1 |"), "{out}");
}

#[test]
fn csv_and_json_formats() {
    let data = Sandbox::new();
    let sql = "SELECT 1 AS id, 'a,b' AS s, CAST('x' AS BINARY) AS b, NULL AS n";
    let csv = run(sealhouse(&data).args(["sql", "--format", "csv", "-e", sql]));
    assert_eq!(csv, "id,s,b,n\n1,\"a,b\",x,\n");
    let json = run(sealhouse(&data).args(["sql", "--format", "json", "-e", sql]));
    assert_eq!(json, "{\"id\":1,\"s\":\"a,b\",\"b\":\"eA==\",\"n\":null}\n");
}

#[test]
fn a_failing_statement_names_its_line_and_exits_nonzero() {
    let data = Sandbox::new();
    let out = sealhouse(&data)
        .args(["sql", "-e", "SELECT 1;\nSELECT * FROM nowhere;\nSELECT 2;"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: statement at line 2 failed:") && err.contains("nowhere"),
        "{err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("| 2"),
        "statements after the failure do not run"
    );
}

#[test]
fn an_insert_killed_mid_write_leaves_the_table_as_it_was() {
    let data = Sandbox::new();
    run(sealhouse(&data).args([
        "sql",
        "-e",
        "CREATE TABLE t (id BIGINT, tel STRING); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    ]));
    crash::kill_an_insert_mid_write(&data, None);
    let staging = data.data().join("staging");
    assert!(
        crash::staged_bytes(&staging) > 0,
        "the killed insert left its file"
    );
    let out = run(sealhouse(&data).args([
        "sql",
        "--format",
        "csv",
        "-e",
        "SELECT count(*) AS n, sum(id) AS s FROM t",
    ]));
    assert_eq!(out, "n,s\n3,6\n");
    // The next process reclaimed the dead one's staging at once (issue 19:
    // killed writes left 671 MB of staging for an hour).
    assert_eq!(
        crash::staged_bytes(&staging),
        0,
        "staging of a dead process"
    );
}

#[test]
fn a_relative_data_directory_reads_back_what_it_stored() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::cargo_bin("sealhouse").expect("binary built");
    cmd.env_remove("SEALHOUSE_DATA_DIR")
        .env("SEALHOUSE_CONFIG_DIR", work.path().join("config"))
        .env_remove("SEALHOUSE_KMS_ROOT_KEY")
        .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
        .env("HOME", work.path())
        .current_dir(work.path())
        .args([
            "sql",
            "--data-dir",
            "relative/data",
            "--format",
            "csv",
            "-e",
            "CREATE TABLE t (a BIGINT); INSERT INTO t VALUES (41), (1); SELECT sum(a) FROM t",
        ]);
    let out = run(&mut cmd);
    assert!(out.ends_with("42\n"), "{out}");
    assert!(work.path().join("relative/data/catalog.db").exists());
}

/// `sealhouse sql ... | head`: when the reader stops, the command ends
/// quietly (status 141, as SIGPIPE gives other tools), with no panic, no
/// backtrace and no error message (issue 21).
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let data = Sandbox::new();
    let mut child = data
        .std_command()
        .args([
            "sql",
            "--format",
            "csv",
            "-e",
            "SELECT value, repeat('x', 100) AS pad FROM generate_series(1, 200000)",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    // Dropping the reader closes the pipe, as `head` does once it has enough.
    assert_eq!(first, "value,pad\n");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "", "nothing is said about a closed pipe");
}

#[test]
fn binary_values_for_a_string_column_name_the_column_and_the_fix() {
    // Issue 21: a ciphertext stored into a STRING column failed with Arrow's
    // "Encountered non UTF-8 data", naming neither the column nor the fix.
    let data = Sandbox::new();
    run(sealhouse(&data).args(["sql", "-e", "CREATE TABLE s (id BIGINT, note STRING)"]));
    for sql in [
        "INSERT INTO s SELECT 1, UNHEX('ff00fe')",
        "INSERT INTO s VALUES (1, UNHEX('c3'))",
    ] {
        let out = sealhouse(&data)
            .args(["sql", "-e", sql])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sql}");
        assert!(
            stderr.contains("STRING column note of table default.s")
                && stderr.contains("store it in a BINARY column"),
            "{sql}: {stderr}"
        );
        assert!(!stderr.contains("Arrow error"), "{stderr}");
    }
    // Nothing was stored, and binary that is UTF-8 text still goes in.
    run(sealhouse(&data).args(["sql", "-e", "INSERT INTO s VALUES (2, UNHEX('6f6b'))"]));
    let out = run(sealhouse(&data).args(["sql", "--format", "csv", "-e", "SELECT * FROM s"]));
    assert_eq!(out, "id,note\n2,ok\n");
}

#[test]
fn help_says_what_sealhouse_is() {
    let data = Sandbox::new();
    let out = run(sealhouse(&data).arg("--help"));
    assert!(
        out.contains("SQL warehouse built around data encryption"),
        "{out}"
    );
    assert!(!out.contains("(later)"), "{out}");
}

#[test]
fn a_deeply_nested_statement_is_an_error_not_an_abort() {
    // Issue 19: the CLI aborted (stack overflow) at 1,500-2,000 `+` terms.
    let data = Sandbox::new();
    for terms in [900, 2_000, 200_000] {
        // On standard input: 200,000 terms are more than one argument may hold.
        let sql = format!("SELECT {};", vec!["1"; terms].join("+"));
        let out = sealhouse(&data)
            .arg("sql")
            .write_stdin(sql)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if terms < 1_000 {
            assert!(out.status.success(), "{terms}: {stderr}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(&format!("| {terms} ")),
                "{terms}"
            );
        } else {
            // An error exit (1), not a signal.
            assert_eq!(out.status.code(), Some(1), "{terms}: {stderr}");
            assert!(
                stderr.contains("nests about") && stderr.contains("IN (...)"),
                "{stderr}"
            );
        }
    }
}
