//! Drives `sealhouse iam` and `sealhouse kms` as a user would: the KMS
//! lifecycle, the spec's cross-account role chain built entirely through the
//! CLI (and broken one grant at a time), identities from the environment,
//! profiles and the default, and secrets kept out of output.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// Each test's own data directory, credentials file and HOME.
struct World {
    dir: tempfile::TempDir,
}

/// Credentials passed through the environment.
#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

impl World {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    fn cmd(&self, creds: Option<&Creds>, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("sealhouse").unwrap();
        cmd.env("SEALHOUSE_DATA_DIR", self.data())
            .env("SEALHOUSE_CREDENTIALS_FILE", self.credentials_file())
            .env("HOME", self.dir.path())
            .env_remove("SEALHOUSE_ACCESS_KEY_ID")
            .env_remove("SEALHOUSE_ACCESS_KEY_SECRET")
            .env_remove("SEALHOUSE_SECURITY_TOKEN")
            .env_remove("SEALHOUSE_PROFILE")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_KMS_CACHE_TTL")
            .args(args);
        if let Some(c) = creds {
            cmd.env("SEALHOUSE_ACCESS_KEY_ID", &c.id)
                .env("SEALHOUSE_ACCESS_KEY_SECRET", &c.secret);
            if let Some(t) = &c.token {
                cmd.env("SEALHOUSE_SECURITY_TOKEN", t);
            }
        }
        cmd
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, creds: Option<&Creds>, args: &[&str]) -> String {
        let out = self.cmd(creds, args).output().unwrap();
        assert!(
            out.status.success(),
            "sealhouse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    fn fails(&self, creds: Option<&Creds>, args: &[&str]) -> String {
        let out = self.cmd(creds, args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "sealhouse {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err}");
        err
    }

    /// `create-account` or `create-access-key` output as credentials.
    fn new_key(&self, creds: Option<&Creds>, args: &[&str]) -> Creds {
        let out = fields(&self.ok(creds, args));
        Creds {
            id: out["access_key_id"].clone(),
            secret: out["access_key_secret"].clone(),
            token: None,
        }
    }
}

/// `name: value` lines.
fn fields(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn kms_key_lifecycle_through_the_cli() {
    let w = World::new();
    let key = fields(&w.ok(None, &["kms", "create-key", "--description", "k1"]));
    let key_id = key["key_id"].as_str();
    assert_eq!(key["key_state"], "Enabled");
    assert!(key["arn"].starts_with("acs:kms:cn-hangzhou:"), "{key:?}");

    let blob1 = w.ok(
        None,
        &["kms", "encrypt", "--key-id", key_id, "--plaintext", "hello"],
    );
    let blob1 = blob1.trim();
    let plain = w.ok(None, &["kms", "decrypt", "--ciphertext-blob", blob1]);
    assert_eq!(plain, "hello\n");

    w.ok(None, &["kms", "disable-key", "--key-id", key_id]);
    let err = w.fails(
        None,
        &["kms", "encrypt", "--key-id", key_id, "--plaintext", "x"],
    );
    assert!(err.contains("Rejected.Disabled"), "{err}");
    let err = w.fails(None, &["kms", "decrypt", "--ciphertext-blob", blob1]);
    assert!(err.contains("Rejected.Disabled"), "{err}");
    assert!(err.contains("EnableKey"), "{err}");
    w.ok(None, &["kms", "enable-key", "--key-id", key_id]);

    let v2 = fields(&w.ok(None, &["kms", "rotate", "--key-id", key_id]));
    assert_ne!(v2["key_version_id"], key["primary_key_version"]);
    let described = fields(&w.ok(None, &["kms", "describe-key", "--key-id", key_id]));
    assert_eq!(described["primary_key_version"], v2["key_version_id"]);
    let versions = w.ok(None, &["kms", "list-key-versions", "--key-id", key_id]);
    assert_eq!(versions.lines().count(), 2, "{versions}");

    // The old blob still decrypts; a new one is under version 2.
    assert_eq!(
        w.ok(None, &["kms", "decrypt", "--ciphertext-blob", blob1]),
        "hello\n"
    );
    let blob2 = w.ok(
        None,
        &[
            "kms",
            "encrypt",
            "--key-id",
            key_id,
            "--plaintext",
            "again",
            "--context",
            r#"{"table":"t1"}"#,
        ],
    );
    let err = w.fails(None, &["kms", "decrypt", "--ciphertext-blob", blob2.trim()]);
    assert!(err.contains("InvalidCiphertext"), "{err}");
    let plain = w.ok(
        None,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            blob2.trim(),
            "--context",
            r#"{"table":"t1"}"#,
        ],
    );
    assert_eq!(plain, "again\n");

    // Aliases, data keys, listing.
    w.ok(
        None,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/app",
            "--key-id",
            key_id,
        ],
    );
    let dk = fields(&w.ok(None, &["kms", "generate-data-key", "--key-id", "alias/app"]));
    let unwrapped = w.ok(
        None,
        &[
            "kms",
            "decrypt",
            "--base64",
            "--ciphertext-blob",
            &dk["ciphertext_blob"],
        ],
    );
    assert_eq!(unwrapped.trim(), dk["plaintext"]);
    assert!(w.ok(None, &["kms", "list-keys"]).contains(key_id));
    assert!(w.ok(None, &["kms", "list-aliases"]).contains("alias/app"));

    // Deletion is scheduled (7 to 30 days) and cancelled.
    let err = w.fails(
        None,
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            key_id,
            "--days",
            "3",
        ],
    );
    assert!(err.contains("InvalidParameter"), "{err}");
    let sched = fields(&w.ok(
        None,
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            key_id,
            "--days",
            "7",
        ],
    ));
    assert!(sched.contains_key("delete_date"), "{sched:?}");
    let err = w.fails(None, &["kms", "decrypt", "--ciphertext-blob", blob1]);
    assert!(err.contains("Rejected.PendingDeletion"), "{err}");
    w.ok(None, &["kms", "cancel-key-deletion", "--key-id", key_id]);
    assert_eq!(
        w.ok(None, &["kms", "decrypt", "--ciphertext-blob", blob1]),
        "hello\n"
    );

    // The audit log recorded the refused calls, with their codes.
    let audit = w.ok(
        None,
        &["kms", "audit", "--key-id", key_id, "--outcome", "error"],
    );
    assert!(audit.contains("Rejected.Disabled"), "{audit}");
    assert!(!audit.contains("\tok"), "{audit}");
    let audit = w.ok(None, &["kms", "audit", "--action", "Decrypt"]);
    assert!(audit.lines().count() >= 5, "{audit}");

    // Unknown keys name the code.
    let err = w.fails(None, &["kms", "describe-key", "--key-id", "key-nope"]);
    assert!(err.contains("Forbidden.KeyNotFound"), "{err}");
}

#[test]
fn kms_config_shows_the_cache_ttl() {
    let w = World::new();
    let out = fields(&w.ok(None, &["kms", "config"]));
    assert!(out["key_cache_ttl"].starts_with("24h (default"), "{out:?}");
    assert_eq!(out["region"], "cn-hangzhou");
    assert!(out["root_key"].ends_with("kms/root.key"), "{out:?}");
    let out = w
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_CACHE_TTL", "30s")
        .output()
        .unwrap();
    let out = fields(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(out["key_cache_ttl"], "30s (from $SEALHOUSE_KMS_CACHE_TTL)");
    let out = w
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_CACHE_TTL", "0")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 (no caching)"));
    let out = w
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_CACHE_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEALHOUSE_KMS_CACHE_TTL"));

    // The root key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.data().join("kms/root.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

const A: &str = "1892732288741234";
const B: &str = "1885386054511234";

// The spec's policy documents, verbatim, with `****` filled with 1234.
const PASS_MF_SECR: &str = r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/mf-secr" } ], "Version": "1" }"#;
const ASSUME_MF_SECR2B: &str = r#"{ "Version": "1", "Statement": [ { "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "acs:ram:*:1892732288741234:role/mf-secr2b" } ] }"#;
const PASS_B_SECR: &str = r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/b-secr" } ], "Version": "1" }"#;
// The trust policies the console writes ("Alibaba Cloud Service: MaxCompute",
// "Other Alibaba Cloud Account: USER_B").
const TRUSTS_MAXCOMPUTE: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}"#;
const TRUSTS_B: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::1885386054511234:root"]}}],"Version":"1"}"#;
const TRUSTS_HOLOGRES: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["hologres.aliyuncs.com"]}}],"Version":"1"}"#;
const TRUSTS_OTHER: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::1111222233334444:root"]}}],"Version":"1"}"#;

struct CrossAccount {
    w: World,
    a: Creds,
    b: Creds,
    user_b: Creds,
    key_arn: String,
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
        w.ok(
            a_,
            &[
                "iam",
                "create-role",
                "--name",
                "mf-secr",
                "--trust-policy",
                TRUSTS_MAXCOMPUTE,
            ],
        );
        w.ok(
            a_,
            &[
                "iam",
                "attach-policy",
                "--policy",
                "AliyunKMSCryptoUserAccess",
                "--system",
                "--role",
                "mf-secr",
            ],
        );
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
        let args = self.check_args();
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
fn identities_from_env_profiles_and_default() {
    let w = World::new();
    // Default: the local account's root, the same every time.
    let me = w.ok(None, &["iam", "whoami"]);
    assert!(
        me.starts_with("acs:ram::") && me.trim_end().ends_with(":root"),
        "{me}"
    );
    let uid = me
        .trim()
        .trim_start_matches("acs:ram::")
        .trim_end_matches(":root");
    assert_eq!(uid.len(), 16, "{me}");
    assert!(uid.bytes().all(|b| b.is_ascii_digit()), "{me}");
    assert_eq!(w.ok(None, &["iam", "whoami"]), me);

    // Environment.
    let root = w.new_key(None, &["iam", "create-account", "--uid", "7"]);
    assert_eq!(w.ok(Some(&root), &["iam", "whoami"]), "acs:ram::7:root\n");

    // Profiles: written 0600 by --write-profile, refused when others can read.
    let out = w.ok(Some(&root), &["iam", "create-user", "--name", "alice"]);
    assert_eq!(out, "acs:ram::7:user/alice\n");
    let out = w.ok(
        Some(&root),
        &[
            "iam",
            "create-access-key",
            "--user",
            "alice",
            "--write-profile",
            "alice",
        ],
    );
    assert!(!out.contains("access_key_secret"), "{out}");
    let file = w.credentials_file();
    assert_eq!(
        w.ok(None, &["iam", "whoami", "--profile", "alice"]),
        "acs:ram::7:user/alice\n"
    );
    assert_eq!(
        w.ok(None, &["iam", "--profile", "alice", "whoami"]),
        "acs:ram::7:user/alice\n"
    );
    let via_env = w
        .cmd(None, &["iam", "whoami"])
        .env("SEALHOUSE_PROFILE", "alice")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&via_env.stdout),
        "acs:ram::7:user/alice\n"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = w.fails(None, &["iam", "whoami", "--profile", "alice"]);
        assert!(
            err.contains(&format!("chmod 600 {}", file.display())),
            "{err}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        w.ok(None, &["iam", "whoami", "--profile", "alice"]);
    }
    let err = w.fails(None, &["iam", "whoami", "--profile", "bob"]);
    assert!(err.contains("no profile [bob]"), "{err}");

    // STS: assume a role, then act as its session (the token is required).
    let trust = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::7:root"]}}],"Version":"1"}"#;
    w.ok(
        Some(&root),
        &[
            "iam",
            "create-role",
            "--name",
            "ops",
            "--trust-policy",
            trust,
        ],
    );
    let sts = fields(&w.ok(
        Some(&root),
        &[
            "iam",
            "assume-role",
            "--role-arn",
            "acs:ram::7:role/ops",
            "--session-name",
            "s1",
        ],
    ));
    assert_eq!(sts["assumed_role"], "acs:ram::7:assumed-role/ops/s1");
    let mut session = Creds {
        id: sts["access_key_id"].clone(),
        secret: sts["access_key_secret"].clone(),
        token: Some(sts["security_token"].clone()),
    };
    assert_eq!(
        w.ok(Some(&session), &["iam", "whoami"]),
        "acs:ram::7:assumed-role/ops/s1\n"
    );
    session.token = None;
    let err = w.fails(Some(&session), &["iam", "whoami"]);
    assert!(err.contains("SEALHOUSE_SECURITY_TOKEN"), "{err}");
    w.ok(
        Some(&root),
        &[
            "iam",
            "assume-role",
            "--role-arn",
            "acs:ram::7:role/ops",
            "--session-name",
            "s2",
            "--write-profile",
            "ops",
        ],
    );
    assert_eq!(
        w.ok(None, &["iam", "whoami", "--profile", "ops"]),
        "acs:ram::7:assumed-role/ops/s2\n"
    );
}

#[test]
fn secrets_are_not_printed_by_whoami_or_errors() {
    let w = World::new();
    let root = w.new_key(None, &["iam", "create-account", "--uid", "8"]);
    w.ok(Some(&root), &["iam", "create-user", "--name", "bob"]);
    let bob = w.new_key(Some(&root), &["iam", "create-access-key", "--user", "bob"]);
    let secrets = [root.secret.as_str(), bob.secret.as_str()];
    let check = |out: &std::process::Output| {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            for s in secrets {
                assert!(!text.contains(s), "a secret leaked: {text}");
            }
        }
    };
    check(&w.cmd(Some(&bob), &["iam", "whoami"]).output().unwrap());
    // A wrong secret: refused, neither secret shown.
    let wrong = Creds {
        id: bob.id.clone(),
        secret: root.secret.clone(),
        token: None,
    };
    let out = w.cmd(Some(&wrong), &["iam", "whoami"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("secret does not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&out);
    // The secret given in place of the id is not echoed.
    let swapped = Creds {
        id: bob.secret.clone(),
        secret: bob.id.clone(),
        token: None,
    };
    let out = w.cmd(Some(&swapped), &["iam", "whoami"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    check(&out);
    // A refused administration call.
    let out = w
        .cmd(Some(&bob), &["iam", "create-user", "--name", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    check(&out);
    // The id without its secret.
    let out = w
        .cmd(None, &["iam", "whoami", "--access-key-id", &bob.id])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SEALHOUSE_ACCESS_KEY_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&out);
    // A profile file with a bad line does not echo the line.
    std::fs::write(w.credentials_file(), format!("[p]\n{}\n", bob.secret)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(w.credentials_file(), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let out = w
        .cmd(None, &["iam", "whoami", "--profile", "p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    check(&out);
    // Nothing under the data directory holds a secret in the clear.
    for entry in walk(&w.data()) {
        let bytes = std::fs::read(&entry).unwrap();
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|win| win == s.as_bytes()),
                "{} holds a secret",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn kms_serve_listens_on_loopback_only_unless_told() {
    use std::io::{BufRead, BufReader, Read, Write};
    let w = World::new();
    let err = w.fails(None, &["kms", "serve", "--listen", "0.0.0.0:0"]);
    assert!(err.contains("--allow-remote"), "{err}");

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sealhouse"))
        .args(["kms", "serve", "--listen", "127.0.0.1:0"])
        .env("SEALHOUSE_DATA_DIR", w.data())
        .env_remove("SEALHOUSE_KMS_ROOT_KEY")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let result = (|| {
        let addr = line
            .trim()
            .strip_prefix("sealhouse kms: listening on http://")
            .ok_or_else(|| format!("unexpected: {line}"))?;
        let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut response = String::new();
        s.read_to_string(&mut response).map_err(|e| e.to_string())?;
        Ok::<_, String>(response)
    })();
    child.kill().unwrap();
    child.wait().unwrap();
    let response = result.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
}
