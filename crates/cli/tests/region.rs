//! The region (issue 21, item 4): the specs' ARNs name cn-beijing and
//! cn-shanghai. `--region` / `$SEALHOUSE_REGION` chooses it when a data
//! directory is first used; it is kept, shown by `kms config`, and ARNs of
//! another region are refused by the KMS and the warehouse.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

#[test]
fn a_data_directory_keeps_its_region_and_refuses_arns_of_others() {
    let w = World::new();
    let key = fields(&w.ok(None, &["--region", "cn-beijing", "kms", "create-key"]));
    let arn = key["arn"].clone();
    assert!(arn.starts_with("acs:kms:cn-beijing:"), "{arn}");
    // Kept: later commands need not repeat it; kms config shows it.
    let config = fields(&w.ok(None, &["kms", "config"]));
    assert_eq!(config["region"], "cn-beijing");
    let config = fields(
        &w.cmd(None, &["kms", "config"])
            .env("SEALHOUSE_REGION", "cn-beijing")
            .output()
            .map(|o| String::from_utf8(o.stdout).unwrap())
            .unwrap(),
    );
    assert_eq!(config["region"], "cn-beijing");
    // Another region for the same directory is refused, saying which it is.
    let out = w
        .cmd(None, &["kms", "list-keys"])
        .env("SEALHOUSE_REGION", "cn-shanghai")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("holds its keys in region cn-beijing") && err.contains("--region cn-beijing"),
        "{err}"
    );

    // The KMS refuses a key ARN of another region, naming both.
    let elsewhere = arn.replace(":cn-beijing:", ":cn-shanghai:");
    let err = w.fails(None, &["kms", "describe-key", "--key-id", &elsewhere]);
    assert!(
        err.contains("names region 'cn-shanghai'") && err.contains("serves region cn-beijing"),
        "{err}"
    );

    // The warehouse: storage encryption with the spec's cn-beijing ARN
    // works, another region's is refused.
    w.ok(
        None,
        &[
            "sql",
            "-e",
            &format!("CREATE PROJECT bj ENCRYPTION ALGORITHM AES256 KEY '{arn}'"),
        ],
    );
    let err = w.fails(
        None,
        &[
            "sql",
            "-e",
            &format!("CREATE PROJECT sh ENCRYPTION ALGORITHM AES256 KEY '{elsewhere}'"),
        ],
    );
    assert!(err.contains("names region 'cn-shanghai'"), "{err}");
    // Column encryption: a CMK ARN of another region is refused before any
    // role is assumed.
    let uid = arn.split(':').nth(3).unwrap().to_owned();
    let err = w.fails(
        None,
        &[
            "sql",
            "-e",
            &format!(
                "SELECT NEW_WRAPPED_KEYSET('{elsewhere}', 'acs:ram::{uid}:role/mf-secr', \
                 'AES-GCM-256', 'd')"
            ),
        ],
    );
    assert!(
        err.contains("names region cn-shanghai") && err.contains("region cn-beijing"),
        "{err}"
    );
    // Warehouse resources are named in the region too.
    let out = w.ok(None, &["sql", "-e", "DESC PROJECT bj"]);
    assert!(out.contains(&arn), "{out}");
}

#[test]
fn a_region_name_is_checked() {
    let w = World::new();
    let err = w.fails(None, &["--region", "Beijing!", "kms", "config"]);
    assert!(err.contains("is not a region name"), "{err}");
}
