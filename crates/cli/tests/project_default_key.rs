//! Spec 002: "view the details of this key in the KMS console". A project's
//! default storage key lives in the warehouse's service account; the
//! project's owner (and the owner account's administrators) may describe
//! it, nobody outside the warehouse may use it (issue 21, item 3).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

const OWNER: &str = "1892732288741234";
const OTHER: &str = "1885386054511234";

/// The value of `name` in `sealhouse project describe`'s table.
fn property(table: &str, name: &str) -> String {
    table
        .lines()
        .find_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() >= 3 && cells[1] == name).then(|| cells[2].to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} in {table}"))
}

#[test]
fn the_owner_describes_the_default_key_and_nobody_uses_it() {
    let w = World::new();
    let owner = w.new_key(None, &["iam", "create-account", "--uid", OWNER]);
    let other = w.new_key(None, &["iam", "create-account", "--uid", OTHER]);
    let owner_ = Some(&owner);
    w.ok(
        owner_,
        &["project", "create", "sales", "--encryption", "AES256"],
    );
    let described = w.ok(owner_, &["project", "describe", "sales"]);
    assert_eq!(property(&described, "key_type"), "DEFAULT");
    let arn = property(&described, "key_arn");
    assert!(!arn.contains(OWNER), "the service account holds it: {arn}");

    // The owner sees the key's details, as in the console.
    let key = fields(&w.ok(owner_, &["kms", "describe-key", "--key-id", &arn]));
    assert_eq!(key["arn"], arn);
    assert_eq!(key["key_state"], "Enabled");
    assert!(key["description"].contains("project sales"), "{key:?}");

    // An administrator of the owner's account sees it too; a user whose
    // policies allow no KMS action does not.
    w.ok(owner_, &["iam", "create-user", "--name", "admin"]);
    w.ok(
        owner_,
        &[
            "iam",
            "attach-policy",
            "--policy",
            "AdministratorAccess",
            "--system",
            "--user",
            "admin",
        ],
    );
    let admin = w.new_key(owner_, &["iam", "create-access-key", "--user", "admin"]);
    let key = fields(&w.ok(Some(&admin), &["kms", "describe-key", "--key-id", &arn]));
    assert_eq!(key["arn"], arn);
    w.ok(owner_, &["iam", "create-user", "--name", "clerk"]);
    let clerk = w.new_key(owner_, &["iam", "create-access-key", "--user", "clerk"]);
    let err = w.fails(Some(&clerk), &["kms", "describe-key", "--key-id", &arn]);
    assert!(err.contains("kms:DescribeKey"), "{err}");

    // Seeing is not using: no Encrypt, GenerateDataKey or key change, for
    // the owner or its administrator.
    for who in [owner_, Some(&admin)] {
        let err = w.fails(
            who,
            &["kms", "encrypt", "--key-id", &arn, "--plaintext", "x"],
        );
        assert!(err.contains("access denied"), "{err}");
        let err = w.fails(who, &["kms", "disable-key", "--key-id", &arn]);
        assert!(err.contains("access denied"), "{err}");
    }
    // Another account sees nothing.
    let err = w.fails(Some(&other), &["kms", "describe-key", "--key-id", &arn]);
    assert!(err.contains("access denied"), "{err}");

    // The project still reads and writes with it.
    w.ok(
        owner_,
        &[
            "sql",
            "--project",
            "sales",
            "-e",
            "CREATE TABLE t (v STRING); INSERT INTO t VALUES ('kept');",
        ],
    );
    let out = w.ok(
        owner_,
        &[
            "sql",
            "--project",
            "sales",
            "--format",
            "csv",
            "-e",
            "SELECT v FROM t",
        ],
    );
    assert_eq!(out, "v\nkept\n");
}
