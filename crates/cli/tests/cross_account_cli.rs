//! The spec's cross-account role chain built entirely through the CLI, and
//! broken one grant at a time.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

const A: &str = "1892732288741234";
const B: &str = "1885386054511234";

// The spec's policy documents, verbatim, with `****` filled with 1234.
const PASS_MF_SECR: &str = r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/mf-secr" } ], "Version": "1" }"#;
const ASSUME_MF_SECR2B: &str = r#"{ "Version": "1", "Statement": [ { "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "acs:ram:*:1892732288741234:role/mf-secr2b" } ] }"#;
const PASS_B_SECR: &str = r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/b-secr" } ], "Version": "1" }"#;
// The trust policies the console writes ("Alibaba Cloud Service: MaxCompute",
// "Other Alibaba Cloud Account: USER_B").
const TRUSTS_B: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::1885386054511234:root"]}}],"Version":"1"}"#;
const TRUSTS_HOLOGRES: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["hologres.aliyuncs.com"]}}],"Version":"1"}"#;
const TRUSTS_OTHER: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::1111222233334444:root"]}}],"Version":"1"}"#;

struct CrossAccount {
    w: World,
    a: Creds,
    b: Creds,
    user_b: Creds,
    key_arn: String,
    /// When set, the probe is this SQL run by USER_B's user (printing
    /// `secret-tel`), not `iam check-role-chain`.
    sql_probe: Option<String>,
}

impl CrossAccount {
    /// Both accounts, built step by step as the spec's guide does.
    fn build() -> Self {
        let w = World::new();
        let a = w.new_key(None, &["iam", "create-account", "--uid", A]);
        let b = w.new_key(None, &["iam", "create-account", "--uid", B]);
        let a_ = Some(&a);
        let b_ = Some(&b);
        assert_eq!(
            w.ok(a_, &["iam", "whoami"]).trim(),
            format!("acs:ram::{A}:root")
        );

        // USER_A: mf-secr trusts MaxCompute and may use KMS.
        w.warehouse_kms_role(a_, "mf-secr");
        // USER_A: mf-secr2b trusts USER_B's account and may pass mf-secr.
        // (The document goes in as @file here, inline elsewhere.)
        let doc = w.dir.path().join("pass-mf-secr.json");
        std::fs::write(&doc, PASS_MF_SECR).unwrap();
        w.ok(
            a_,
            &[
                "iam",
                "create-role",
                "--name",
                "mf-secr2b",
                "--trust-policy",
                TRUSTS_B,
            ],
        );
        w.ok(
            a_,
            &[
                "iam",
                "create-policy",
                "--name",
                "pass-mf-secr",
                "--document",
                &format!("@{}", doc.display()),
            ],
        );
        w.ok(
            a_,
            &[
                "iam",
                "attach-policy",
                "--policy",
                "pass-mf-secr",
                "--role",
                "mf-secr2b",
            ],
        );
        // USER_A's key.
        let key = fields(&w.ok(a_, &["kms", "create-key", "--description", "USER_A's CMK"]));
        let key_arn = key["arn"].clone();
        assert!(key_arn.contains(&format!(":{A}:key/")), "{key_arn}");

        // USER_B: b-secr trusts MaxCompute and may assume mf-secr2b.
        w.ok(
            b_,
            &[
                "iam",
                "create-role",
                "--name",
                "b-secr",
                "--trust-policy",
                TRUSTS_MAXCOMPUTE,
            ],
        );
        w.ok(
            b_,
            &[
                "iam",
                "create-policy",
                "--name",
                "assume-mf-secr2b",
                "--document",
                ASSUME_MF_SECR2B,
            ],
        );
        w.ok(
            b_,
            &[
                "iam",
                "attach-policy",
                "--policy",
                "assume-mf-secr2b",
                "--role",
                "b-secr",
            ],
        );
        // USER_B: a RAM user allowed to pass b-secr, with an access key.
        w.ok(b_, &["iam", "create-user", "--name", "analyst"]);
        w.ok(
            b_,
            &[
                "iam",
                "create-policy",
                "--name",
                "pass-b-secr",
                "--document",
                PASS_B_SECR,
            ],
        );
        w.ok(
            b_,
            &[
                "iam",
                "attach-policy",
                "--policy",
                "pass-b-secr",
                "--user",
                "analyst",
            ],
        );
        let user_b = w.new_key(b_, &["iam", "create-access-key", "--user", "analyst"]);
        assert_eq!(
            w.ok(Some(&user_b), &["iam", "whoami"]).trim(),
            format!("acs:ram::{B}:user/analyst")
        );
        Self {
            w,
            a,
            b,
            user_b,
            key_arn,
            sql_probe: None,
        }
    }

    fn check_args(&self) -> Vec<String> {
        [
            "iam",
            "check-role-chain",
            "--role-arn",
            &format!("acs:ram::{A}:role/mf-secr"),
            "--role-chain",
            &format!("acs:ram::{B}:role/b-secr,acs:ram::{A}:role/mf-secr2b"),
            "--service",
            "odps.aliyuncs.com",
            "--action",
            "kms:Decrypt",
            "--resource",
            &self.key_arn,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn check(&self) -> Result<String, String> {
        let args = match &self.sql_probe {
            Some(sql) => vec![
                "sql".to_owned(),
                "--format".into(),
                "csv".into(),
                "-e".into(),
                sql.clone(),
            ],
            None => self.check_args(),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.w.cmd(Some(&self.user_b), &args).output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            assert_eq!(out.status.code(), Some(1));
            Err(String::from_utf8(out.stderr).unwrap())
        }
    }

    /// Runs `remove`, checks the chain fails naming every needle, runs `restore`.
    fn fails_without(&self, who: &Creds, remove: &[&str], restore: &[&str], needles: &[&str]) {
        self.w.ok(Some(who), remove);
        let err = self.check().expect_err("a grant was removed");
        for needle in needles {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        self.w.ok(Some(who), restore);
        self.check().expect("restored");
    }
}

#[test]
fn the_spec_cross_account_chain_through_the_cli() {
    let x = CrossAccount::build();
    let out = x.check().expect("the full setup works");
    assert!(
        out.contains(&format!(
            "acs:ram::{A}:assumed-role/mf-secr/sealhouse-warehouse"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("allowed: kms:Decrypt on {}", x.key_arn)),
        "{out}"
    );

    // USER_B's user cannot use A's key directly, nor administer B.
    let err = x.w.fails(
        Some(&x.user_b),
        &["kms", "describe-key", "--key-id", &x.key_arn],
    );
    assert!(err.contains("Forbidden.NoPermission"), "{err}");
    let err =
        x.w.fails(Some(&x.user_b), &["iam", "create-user", "--name", "eve"]);
    for needle in [
        format!("acs:ram::{B}:user/analyst"),
        "ram:CreateUser".to_owned(),
        format!("acs:ram::{B}:user/eve"),
    ] {
        assert!(err.contains(&needle), "{needle} in {err}");
    }
    // A root administers only its own account, and cannot create accounts.
    let err =
        x.w.fails(Some(&x.a), &["iam", "create-account", "--uid", "42"]);
    assert!(err.contains("only the local account's root"), "{err}");

    each_grant_is_needed(&x);

    // Listing shows the restored grants.
    let listed =
        x.w.ok(Some(&x.a), &["iam", "list-policies", "--role", "mf-secr"]);
    assert!(
        listed.contains("AliyunKMSCryptoUserAccess (system)"),
        "{listed}"
    );
    let role =
        x.w.ok(Some(&x.a), &["iam", "get-role", "--name", "mf-secr2b"]);
    assert!(role.contains("pass-mf-secr"), "{role}");
    assert!(role.contains(B), "{role}");
}

#[test]
fn user_b_uses_user_a_wrapped_keyset_in_sql_through_the_role_chain() {
    let mut x = CrossAccount::build();
    let role = format!("acs:ram::{A}:role/mf-secr");
    let chain = format!("acs:ram::{B}:role/b-secr,acs:ram::{A}:role/mf-secr2b");
    // USER_A (its root may pass its own roles) makes the wrapped keyset.
    let made = x.w.ok(
        Some(&x.a),
        &[
            "sql",
            "--format",
            "csv",
            "-e",
            &format!(
                "SELECT HEX(NEW_WRAPPED_KEYSET('{}', '{role}', 'AES-GCM-256', 'shared with B'))",
                x.key_arn
            ),
        ],
    );
    let hex = made.lines().nth(1).unwrap().to_owned();
    let use_ks = format!(
        "USE_WRAPPED_KEYSET('{}', '{role}', UNHEX('{hex}'), '{chain}')",
        x.key_arn
    );
    // USER_B's user may use B's warehouse projects.
    x.w.ok(
        Some(&x.b),
        &[
            "iam",
            "create-policy",
            "--name",
            "warehouse-b",
            "--document",
            &format!(
                r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"odps:*","Resource":"acs:odps:*:{B}:projects/*"}}]}}"#
            ),
        ],
    );
    x.w.ok(
        Some(&x.b),
        &[
            "iam",
            "attach-policy",
            "--policy",
            "warehouse-b",
            "--user",
            "analyst",
        ],
    );
    // USER_B's user encrypts a table with it and decrypts it again, in a
    // project of B's.
    let script = format!(
        "CREATE PROJECT b_work;\n\
         USE b_work;\n\
         CREATE TABLE b_data (id STRING, tel STRING);\n\
         INSERT INTO b_data VALUES ('1', '13900001234'), ('2', '13900001111');\n\
         CREATE TABLE b_enc AS SELECT id, ENHANCED_SYM_ENCRYPT({use_ks}, tel) AS tel FROM b_data;\n\
         SELECT id, CAST(ENHANCED_SYM_DECRYPT({use_ks}, tel) AS STRING) AS tel FROM b_enc ORDER BY id;"
    );
    let out =
        x.w.ok(Some(&x.user_b), &["sql", "--format", "csv", "-e", &script]);
    assert!(out.contains("1,13900001234\n2,13900001111"), "{out}");
    // The same with the role and the chain spelled as spec 001 writes them
    // ('acs:ram:${<UserId>}:role/${<roleName>}', one colon after ram).
    let spec_ks = format!(
        "USE_WRAPPED_KEYSET('{}', 'acs:ram:{A}:role/mf-secr', UNHEX('{hex}'), \
         'acs:ram:{B}:role/b-secr,acs:ram:{A}:role/mf-secr2b')",
        x.key_arn
    );
    let out = x.w.ok(
        Some(&x.user_b),
        &[
            "sql",
            "--project",
            "b_work",
            "--format",
            "csv",
            "-e",
            &format!(
                "SELECT id, CAST(ENHANCED_SYM_DECRYPT({spec_ks}, tel) AS STRING) AS tel \
                 FROM b_enc ORDER BY id"
            ),
        ],
    );
    assert!(out.contains("1,13900001234\n2,13900001111"), "{out}");
    let stored = x.w.ok(
        Some(&x.user_b),
        &[
            "sql",
            "--project",
            "b_work",
            "--format",
            "csv",
            "-e",
            "SELECT HEX(tel) FROM b_enc",
        ],
    );
    assert!(!stored.contains("13900001234"), "{stored}");
    // Without the role chain, USER_B's user may not pass A's role.
    let err = x.w.fails(
        Some(&x.user_b),
        &[
            "sql",
            "-e",
            &format!(
                "SELECT USE_WRAPPED_KEYSET('{}', '{role}', UNHEX('{hex}'))",
                x.key_arn
            ),
        ],
    );
    assert!(err.contains("role chain step 1 (PassRole"), "{err}");
    assert!(err.contains(&role), "{err}");

    x.sql_probe = Some(format!(
        "SELECT CAST(ENHANCED_SYM_DECRYPT({use_ks}, ENHANCED_SYM_ENCRYPT({use_ks}, 'secret-tel')) AS STRING)"
    ));
    assert!(x.check().unwrap().contains("secret-tel"));
    each_grant_is_needed(&x);
}

/// Removes each of the chain's seven grants in turn: the probe must fail
/// naming the step (or the KMS refusal), and work again once it is restored.
fn each_grant_is_needed(x: &CrossAccount) {
    let user_b_arn = format!("acs:ram::{B}:user/analyst");
    let b_secr = format!("acs:ram::{B}:role/b-secr");
    let b_session = format!("acs:ram::{B}:assumed-role/b-secr/sealhouse-warehouse");
    let mf_secr2b = format!("acs:ram::{A}:role/mf-secr2b");
    let mf_secr2b_session = format!("acs:ram::{A}:assumed-role/mf-secr2b/sealhouse-warehouse");
    let mf_secr = format!("acs:ram::{A}:role/mf-secr");
    let mf_session = format!("acs:ram::{A}:assumed-role/mf-secr/sealhouse-warehouse");
    let warehouse = "service sealhouse-warehouse (odps.aliyuncs.com)";

    // 1. USER_B's user may not pass b-secr.
    x.fails_without(
        &x.b,
        &[
            "iam",
            "detach-policy",
            "--policy",
            "pass-b-secr",
            "--user",
            "analyst",
        ],
        &[
            "iam",
            "attach-policy",
            "--policy",
            "pass-b-secr",
            "--user",
            "analyst",
        ],
        &[
            "role chain step 1 (PassRole",
            &user_b_arn,
            "ram:PassRole",
            &b_secr,
        ],
    );
    // 2. b-secr does not trust MaxCompute.
    x.fails_without(
        &x.b,
        &[
            "iam",
            "update-role",
            "--name",
            "b-secr",
            "--trust-policy",
            TRUSTS_HOLOGRES,
        ],
        &[
            "iam",
            "update-role",
            "--name",
            "b-secr",
            "--trust-policy",
            TRUSTS_MAXCOMPUTE,
        ],
        &[
            "role chain step 2 (trust of role",
            warehouse,
            "sts:AssumeRole",
            &b_secr,
        ],
    );
    // 3. b-secr may not assume mf-secr2b.
    x.fails_without(
        &x.b,
        &[
            "iam",
            "detach-policy",
            "--policy",
            "assume-mf-secr2b",
            "--role",
            "b-secr",
        ],
        &[
            "iam",
            "attach-policy",
            "--policy",
            "assume-mf-secr2b",
            "--role",
            "b-secr",
        ],
        &[
            "role chain step 3 (AssumeRole",
            &b_session,
            "sts:AssumeRole",
            &mf_secr2b,
        ],
    );
    // 4. mf-secr2b does not trust USER_B's account.
    x.fails_without(
        &x.a,
        &[
            "iam",
            "update-role",
            "--name",
            "mf-secr2b",
            "--trust-policy",
            TRUSTS_OTHER,
        ],
        &[
            "iam",
            "update-role",
            "--name",
            "mf-secr2b",
            "--trust-policy",
            TRUSTS_B,
        ],
        &[
            "role chain step 3 (AssumeRole",
            &b_session,
            "sts:AssumeRole",
            &mf_secr2b,
        ],
    );
    // 5. mf-secr2b may not pass mf-secr.
    x.fails_without(
        &x.a,
        &[
            "iam",
            "detach-policy",
            "--policy",
            "pass-mf-secr",
            "--role",
            "mf-secr2b",
        ],
        &[
            "iam",
            "attach-policy",
            "--policy",
            "pass-mf-secr",
            "--role",
            "mf-secr2b",
        ],
        &[
            "role chain step 4 (PassRole",
            &mf_secr2b_session,
            "ram:PassRole",
            &mf_secr,
        ],
    );
    // 6. mf-secr does not trust MaxCompute.
    x.fails_without(
        &x.a,
        &[
            "iam",
            "update-role",
            "--name",
            "mf-secr",
            "--trust-policy",
            TRUSTS_B,
        ],
        &[
            "iam",
            "update-role",
            "--name",
            "mf-secr",
            "--trust-policy",
            TRUSTS_MAXCOMPUTE,
        ],
        &[
            "role chain step 5 (trust of role",
            warehouse,
            "sts:AssumeRole",
            &mf_secr,
        ],
    );
    // 7. mf-secr may not use KMS.
    x.fails_without(
        &x.a,
        &[
            "iam",
            "detach-policy",
            "--policy",
            "AliyunKMSCryptoUserAccess",
            "--system",
            "--role",
            "mf-secr",
        ],
        &[
            "iam",
            "attach-policy",
            "--policy",
            "AliyunKMSCryptoUserAccess",
            "--system",
            "--role",
            "mf-secr",
        ],
        &[
            &mf_session,
            "kms:Decrypt",
            &x.key_arn,
            "no policy allows it",
        ],
    );
}
