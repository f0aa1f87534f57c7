//! Spec 004 through psql against `sealhouse serve`: `ALTER DATABASE <db>
//! SET hg_experimental_enable_access_odps_orc_via_holo = false;` and `SHOW
//! ...;` as the guide writes them, and what the setting means: an external
//! engine gets an encrypted table's files only once it is false (issue 21,
//! item 1).

mod serve;

use std::process::Command;

use serve::{Key, Served};

const SETTING: &str = "hg_experimental_enable_access_odps_orc_via_holo";

/// `psql -c sql` as `key` on database `db`: (success, stdout, stderr).
fn psql(served: &Served, key: &Key, db: &str, sql: &str) -> (bool, String, String) {
    let conninfo = served
        .conninfo(key, &key.secret)
        .replace("dbname=postgres", &format!("dbname={db}"));
    let out = Command::new("psql")
        .args([
            conninfo.as_str(),
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs (apt-get install postgresql-client)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn psql_ok(served: &Served, key: &Key, db: &str, sql: &str) -> String {
    let (ok, out, err) = psql(served, key, db, sql);
    assert!(
        ok,
        "psql {sql:?} failed: {err}\nserver log:\n{}",
        served.log()
    );
    out
}

#[test]
fn alter_database_set_show_and_the_external_read_path() {
    let served = Served::start();
    let root = served.account("1892732288741234");
    served.cli(
        Some(&root),
        &[
            "sql",
            "-e",
            "CREATE PROJECT holo ENCRYPTION ALGORITHM AES256; CREATE PROJECT plain; \
             CREATE TABLE holo.t (id BIGINT); INSERT INTO holo.t VALUES (1), (2);",
        ],
    );
    let show = format!("SHOW {SETTING};");
    assert_eq!(psql_ok(&served, &root, "holo", &show), "true");

    // The direct read path cannot read encrypted files: the manifest says
    // what to run.
    let manifest = ["external-engine", "manifest", "holo.t"];
    let err = served.cli_fails(Some(&root), &manifest);
    assert!(
        err.contains(&format!("ALTER DATABASE holo SET {SETTING} = false")),
        "{err}"
    );

    // A user who is not the project's Super_Administrator may not change it.
    let clerk = served.user(&root, "clerk");
    let alter = format!("ALTER DATABASE holo SET {SETTING} = false;");
    let (ok, _, err) = psql(&served, &clerk, "holo", &alter);
    assert!(!ok && err.contains("Super_Administrator"), "{err}");

    // A session SET of it says where it is set.
    let (ok, _, err) = psql(&served, &root, "holo", &format!("SET {SETTING} = false;"));
    assert!(!ok && err.contains("ALTER DATABASE"), "{err}");

    // The guide's statement, then a new connection shows it.
    psql_ok(&served, &root, "holo", &alter);
    assert_eq!(psql_ok(&served, &root, "holo", &show), "false");
    // Through the CLI too, and on its own project only.
    let out = served.cli(
        Some(&root),
        &["sql", "--project", "holo", "--format", "csv", "-e", &show],
    );
    assert_eq!(out, format!("{SETTING}\nfalse\n"));
    assert_eq!(psql_ok(&served, &root, "plain", &show), "true");

    let m: serde_json::Value =
        serde_json::from_str(&served.cli(Some(&root), &manifest)).expect("json");
    let files = m["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{m}");
    assert_eq!(files[0]["rows"], 2, "{m}");
    assert_eq!(files[0]["encryption"], "AES256", "{m}");

    // Values are checked, unknown settings named, RESET restores the default.
    let (ok, _, err) = psql(
        &served,
        &root,
        "holo",
        &format!("ALTER DATABASE holo SET {SETTING} = maybe;"),
    );
    assert!(!ok && err.contains("true or false"), "{err}");
    let (ok, _, err) = psql(
        &served,
        &root,
        "holo",
        "ALTER DATABASE holo SET hg_no_such_setting = 1;",
    );
    assert!(!ok && err.contains(SETTING), "{err}");
    psql_ok(
        &served,
        &root,
        "holo",
        &format!("ALTER DATABASE holo RESET {SETTING};"),
    );
    assert_eq!(psql_ok(&served, &root, "holo", &show), "true");
    served.cli_fails(Some(&root), &manifest);
}
