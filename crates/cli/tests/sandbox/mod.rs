//! A test's own data directory and configuration directory (where the KMS
//! root key lives), side by side in one temporary directory, so that no test
//! reads or writes the real ones under HOME.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// `<temp>/data` and `<temp>/config`, removed with the value.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Variables every command of the sandbox gets (an S3 server's, say).
    env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            env: Vec::new(),
        }
    }

    /// The sandbox, its commands given `vars` too.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The binary, pointed at this sandbox, with no inherited root key settings.
    pub fn command(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_command())
    }

    /// As [`Sandbox::command`], for spawning.
    pub fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("sealhouse"));
        self.configure(&mut cmd);
        cmd
    }

    /// Points `cmd` (the binary, or a program that runs it) at this sandbox.
    pub fn configure<'a>(
        &self,
        cmd: &'a mut std::process::Command,
    ) -> &'a mut std::process::Command {
        cmd.env("SEALHOUSE_DATA_DIR", self.data())
            .env("SEALHOUSE_CONFIG_DIR", self.config())
            .env("HOME", self.dir.path())
            .env_remove("SEALHOUSE_KMS_ROOT_KEY")
            .env_remove("SEALHOUSE_REGION")
            .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
    }
}
