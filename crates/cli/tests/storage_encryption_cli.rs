//! `sealhouse project` and storage encryption through the real binary: the
//! commands, the RC4 warning, and an INSERT killed mid-write into an
//! encrypted project leaving the table as it was and readable.

mod crash;
mod sandbox;

use assert_cmd::Command;
use sandbox::Sandbox;

fn sealhouse(sandbox: &Sandbox) -> Command {
    let mut cmd = sandbox.command();
    cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs, requires success, returns (stdout, stderr).
fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "failed: {stderr}");
    (String::from_utf8(out.stdout).expect("utf-8"), stderr)
}

/// The value of `name` in `sealhouse project describe`'s table.
fn property(table: &str, name: &str) -> String {
    table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() >= 3 && cells[1] == name).then(|| cells[2].to_owned())
        })
        .next()
        .unwrap_or_else(|| panic!("no {name} in {table}"))
}

fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(!out.status.success(), "unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn project_commands_create_describe_enable_and_rewrite() {
    let data = Sandbox::new();
    let d = &data;
    let (out, err) = run(sealhouse(d).args(["project", "create", "legacy", "--encryption", "RC4"]));
    assert!(out.contains("RC4 with the project's default key"), "{out}");
    // The warning is said once, on stderr (both go to a terminal: it was
    // said twice, issue 21).
    assert_eq!(err.matches("RC4 is insecure").count(), 1, "{err}");
    assert!(err.contains("warning: RC4 is insecure"), "{err}");
    assert!(!out.contains("warning"), "{out}");
    let (out, _) = run(sealhouse(d).args(["project", "describe", "legacy"]));
    assert_eq!(property(&out, "algorithm"), "RC4");
    assert_eq!(property(&out, "key_type"), "DEFAULT");
    let warning = property(&out, "warning");
    assert!(warning.starts_with("RC4 is insecure"), "{warning}");
    // When it was enabled, in RFC 3339 (it was epoch seconds).
    let enabled_at = property(&out, "enabled_at");
    let shape: String = enabled_at
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99Z", "{enabled_at}");
    assert!(enabled_at.starts_with("20"), "{enabled_at}");

    // An unencrypted project with data, encrypted later, then rewritten.
    run(sealhouse(d).args(["project", "create", "sales"]));
    run(sealhouse(d).args([
        "sql",
        "--project",
        "sales",
        "-e",
        "CREATE TABLE t (id BIGINT, tel STRING); INSERT INTO t VALUES (1, '13900001234');",
    ]));
    run(sealhouse(d).args([
        "project",
        "enable-encryption",
        "sales",
        "--encryption",
        "AESCTR",
    ]));
    let err = fails(sealhouse(d).args([
        "project",
        "enable-encryption",
        "sales",
        "--encryption",
        "AES256",
    ]));
    assert!(err.contains("cannot be changed once set"), "{err}");
    let (out, _) = run(sealhouse(d).args(["project", "describe", "sales"]));
    assert_eq!(property(&out, "unencrypted_files"), "1");
    let (out, _) = run(sealhouse(d).args(["project", "rewrite", "sales", "--table", "t"]));
    assert!(
        out.contains("rewrote 1 files of 1 tables (1 rows)"),
        "{out}"
    );
    let (out, _) = run(sealhouse(d).args(["project", "describe", "sales"]));
    assert_eq!(property(&out, "unencrypted_files"), "0");
    let (out, _) =
        run(sealhouse(d).args(["sql", "--format", "csv", "-e", "SELECT tel FROM sales.t"]));
    assert_eq!(out, "tel\n13900001234\n");
    let err = fails(sealhouse(d).args(["project", "create", "x", "--encryption", "DES"]));
    assert!(err.contains("AES256, AESCTR or RC4"), "{err}");
}

/// The `key: value` line `name` of a `sealhouse kms` answer.
fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .to_owned()
}

#[test]
fn a_byok_key_is_named_by_id_alias_or_arn() {
    // Issue 21, item 5: KEY took only a full ARN.
    let data = Sandbox::new();
    let d = &data;
    let (key, _) = run(sealhouse(d).args(["kms", "create-key"]));
    let (id, arn) = (field(&key, "key_id"), field(&key, "arn"));
    run(sealhouse(d).args([
        "kms",
        "create-alias",
        "--alias-name",
        "alias/warehouse",
        "--key-id",
        &id,
    ]));
    run(sealhouse(d).args(["project", "create", "by_id", "--key", &id]));
    run(sealhouse(d).args(["project", "create", "by_alias", "--key", "alias/warehouse"]));
    run(sealhouse(d).args([
        "sql",
        "-e",
        &format!("CREATE PROJECT by_arn ENCRYPTION ALGORITHM AESCTR KEY '{arn}'"),
    ]));
    for project in ["by_id", "by_alias", "by_arn"] {
        let (out, _) = run(sealhouse(d).args(["project", "describe", project]));
        assert_eq!(property(&out, "key_type"), "BYOK", "{project}");
        // The project records the key's ARN, however it was named.
        assert_eq!(property(&out, "key_arn"), arn, "{project}");
    }
    run(sealhouse(d).args([
        "sql",
        "--project",
        "by_alias",
        "-e",
        "CREATE TABLE t (v STRING); INSERT INTO t VALUES ('kept');",
    ]));
    let (out, _) = run(sealhouse(d).args([
        "sql",
        "--project",
        "by_alias",
        "--format",
        "csv",
        "-e",
        "SELECT v FROM t",
    ]));
    assert_eq!(out, "v\nkept\n");
    // A name that is no key of the caller's is refused, saying what is taken.
    let err = fails(sealhouse(d).args(["project", "create", "nokey", "--key", "alias/nothing"]));
    assert!(
        err.contains("nor the id or alias of one of your keys"),
        "{err}"
    );
    let err = fails(sealhouse(d).args(["project", "create", "bad", "--key", "acs:kms:x"]));
    assert!(err.contains("a key id, alias/<name>"), "{err}");
}

#[test]
fn an_insert_killed_mid_write_leaves_an_encrypted_table_as_it_was() {
    let data = Sandbox::new();
    let d = &data;
    for algorithm in ["AES256", "AESCTR"] {
        let project = format!("crash_{}", algorithm.to_lowercase());
        run(sealhouse(d).args(["project", "create", &project, "--encryption", algorithm]));
        run(sealhouse(d).args([
            "sql",
            "--project",
            &project,
            "-e",
            "CREATE TABLE t (id BIGINT, tel STRING); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        ]));
        crash::kill_an_insert_mid_write(d, Some(&project));
        // sum(id) reads the file (count(*) alone comes from the catalog).
        let (out, _) = run(sealhouse(d).args([
            "sql",
            "--project",
            &project,
            "--format",
            "csv",
            "-e",
            "SELECT count(*) AS n, sum(id) AS s, max(tel) AS m FROM t",
        ]));
        assert_eq!(out, "n,s,m\n3,6,c\n", "{algorithm}");
        // The next open removes the half-written file (older than an hour
        // only, so it stays for now) — it is not part of the table either way.
    }
}
