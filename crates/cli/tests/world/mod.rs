//! Shared by the `sealhouse iam` / `sealhouse kms` tests: each test's own
//! data directory, configuration directory (the KMS root key's), credentials
//! file and HOME, and helpers to run commands.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use assert_cmd::Command;

/// Each test's own data directory, configuration directory, credentials file
/// and HOME.
pub struct World {
    pub dir: tempfile::TempDir,
}

/// Credentials passed through the environment.
#[derive(Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl World {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the root key lives (`$SEALHOUSE_CONFIG_DIR`).
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    pub fn cmd(&self, creds: Option<&Creds>, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("sealhouse").unwrap();
        cmd.env("SEALHOUSE_DATA_DIR", self.data())
            .env("SEALHOUSE_CONFIG_DIR", self.config())
            .env("SEALHOUSE_CREDENTIALS_FILE", self.credentials_file())
            .env("HOME", self.dir.path())
            .env_remove("SEALHOUSE_ACCESS_KEY_ID")
            .env_remove("SEALHOUSE_ACCESS_KEY_SECRET")
            .env_remove("SEALHOUSE_SECURITY_TOKEN")
            .env_remove("SEALHOUSE_PROFILE")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
            .env_remove("SEALHOUSE_KMS_CACHE_TTL")
            .env_remove("SEALHOUSE_REGION")
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
    pub fn ok(&self, creds: Option<&Creds>, args: &[&str]) -> String {
        let out = self.cmd(creds, args).output().unwrap();
        assert!(
            out.status.success(),
            "sealhouse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    pub fn fails(&self, creds: Option<&Creds>, args: &[&str]) -> String {
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
    pub fn new_key(&self, creds: Option<&Creds>, args: &[&str]) -> Creds {
        let out = fields(&self.ok(creds, args));
        Creds {
            id: out["access_key_id"].clone(),
            secret: out["access_key_secret"].clone(),
            token: None,
        }
    }
}

/// The trust policy the console writes for "Alibaba Cloud Service:
/// MaxCompute": the warehouse may assume the role.
pub const TRUSTS_MAXCOMPUTE: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}"#;

impl World {
    /// Spec 001's role `name` in the account of `creds`: it trusts the
    /// warehouse (MaxCompute) and may use the account's KMS keys
    /// (AliyunKMSCryptoUserAccess).
    pub fn warehouse_kms_role(&self, creds: Option<&Creds>, name: &str) {
        self.ok(
            creds,
            &[
                "iam",
                "create-role",
                "--name",
                name,
                "--trust-policy",
                TRUSTS_MAXCOMPUTE,
            ],
        );
        self.ok(
            creds,
            &[
                "iam",
                "attach-policy",
                "--policy",
                "AliyunKMSCryptoUserAccess",
                "--system",
                "--role",
                name,
            ],
        );
    }
}

/// `name: value` lines.
pub fn fields(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
