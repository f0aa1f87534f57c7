//! Tables in an S3 bucket through the real binary and a real S3 server on
//! loopback (s3s-fs, SigV4, conditional writes): `--storage-url` and
//! `$SEALHOUSE_STORAGE_URL`, the AWS_* environment, the data directory
//! remembering its bucket, no plaintext in any object, a killed INSERT
//! leaving the table as it was, manifests of s3:// URLs, and clear errors
//! for wrong credentials, a missing bucket and an unreachable endpoint.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod crash;
mod sandbox;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use sandbox::Sandbox;
use sealhouse_test_s3::TestS3;

const BUCKET: &str = "warehouse";
const PREFIX: &str = "team/cli";
const MARKER: &str = "object-storage-plaintext-marker";

struct World {
    sandbox: Sandbox,
    server: TestS3,
    _s3_root: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let s3_root = tempfile::tempdir().unwrap();
        let server = TestS3::start(s3_root.path(), 0, &[BUCKET]).unwrap();
        Self {
            sandbox: Sandbox::new(),
            server,
            _s3_root: s3_root,
        }
    }

    /// The S3 client environment, and the bucket as the storage URL.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.server.client_env();
        env.push(("SEALHOUSE_STORAGE_URL", format!("s3://{BUCKET}/{PREFIX}")));
        env
    }

    fn sealhouse(&self) -> Command {
        let mut cmd = self.sandbox.command();
        cmd.env("SEALHOUSE_KMS_CACHE_TTL", "0");
        for (name, value) in self.env() {
            cmd.env(name, value);
        }
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.sealhouse().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every object file under the bucket's prefix, with its bytes.
    fn objects(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.server.object_file(BUCKET, PREFIX), &mut out);
        out
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn tables_live_in_the_bucket_hold_no_plaintext_and_the_data_directory_remembers_it() {
    let w = World::new();
    for (project, algorithm) in [
        ("p_plain", None),
        ("p_aes256", Some("AES256")),
        ("p_aesctr", Some("AESCTR")),
        ("p_rc4", Some("RC4")),
    ] {
        let mut args = vec!["project", "create", project];
        if let Some(a) = algorithm {
            args.extend(["--encryption", a]);
        }
        w.ok(&args);
        w.ok(&[
            "sql",
            "--project",
            project,
            "-e",
            &format!(
                "CREATE TABLE t (id BIGINT, v STRING); \
                 INSERT INTO t SELECT value, concat('{MARKER}-', CAST(value AS STRING)) FROM range(1000); \
                 INSERT INTO t VALUES (5000, '{MARKER}-last');"
            ),
        ]);
        let out = w.ok(&[
            "sql",
            "--project",
            project,
            "--format",
            "csv",
            "-e",
            "SELECT count(*) AS n, sum(id) AS s, max(v) AS m FROM t",
        ]);
        assert_eq!(
            out,
            format!("n,s,m\n1001,504500,{MARKER}-last\n"),
            "{project}"
        );
    }
    // The files are objects under the prefix; the data directory has none.
    let objects = w.objects();
    assert_eq!(objects.len(), 8, "two files per table");
    assert!(!w.sandbox.data().join("tables").exists());
    for (path, bytes) in &objects {
        let plain = path.components().any(|c| {
            // The plain project's table is the first created: tables/1.
            c.as_os_str() == "1"
        });
        assert_eq!(
            contains(bytes, MARKER.as_bytes()),
            plain,
            "{}: plaintext only in the plain project's objects",
            path.display()
        );
    }

    // The data directory remembers its bucket: no URL needed, another refused.
    let out = w
        .sealhouse()
        .env_remove("SEALHOUSE_STORAGE_URL")
        .args([
            "sql",
            "--project",
            "p_rc4",
            "--format",
            "csv",
            "-e",
            "SELECT count(*) AS n FROM t",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n1001\n");
    let out = w
        .sealhouse()
        .args([
            "--storage-url",
            "s3://other-bucket",
            "sql",
            "-e",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "keeps its tables at s3://{BUCKET}/{PREFIX}, not s3://other-bucket"
        )),
        "{err}"
    );

    // A manifest names the objects by s3:// URL, for engines with their own
    // credentials.
    let manifest: serde_json::Value =
        serde_json::from_str(&w.ok(&["external-engine", "manifest", "p_plain.t"])).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        let url = f["path"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("s3://{BUCKET}/{PREFIX}/tables/1/")),
            "{url}"
        );
    }

    // DROP TABLE removes the table's objects.
    w.ok(&["sql", "--project", "p_aes256", "-e", "DROP TABLE t"]);
    assert_eq!(w.objects().len(), 6);
}

#[test]
fn an_insert_killed_mid_write_leaves_the_table_as_it_was() {
    let w = World::new();
    for algorithm in ["AES256", "AESCTR"] {
        let project = format!("crash_{}", algorithm.to_lowercase());
        w.ok(&["project", "create", &project, "--encryption", algorithm]);
        w.ok(&[
            "sql",
            "--project",
            &project,
            "-e",
            "CREATE TABLE t (id BIGINT, tel STRING); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        ]);
        crash::kill_an_insert_mid_write_with(&w.sandbox, Some(&project), &w.env());
        let out = w.ok(&[
            "sql",
            "--project",
            &project,
            "--format",
            "csv",
            "-e",
            "SELECT count(*) AS n, sum(id) AS s, max(tel) AS m FROM t",
        ]);
        assert_eq!(out, "n,s,m\n3,6,c\n", "{algorithm}");
    }
}

#[test]
fn wrong_credentials_a_missing_bucket_and_no_server_are_clear_errors_not_hangs() {
    let w = World::new();
    let try_with = |edit: &dyn Fn(&mut Command)| {
        let mut cmd = w.sealhouse();
        edit(&mut cmd);
        let started = Instant::now();
        let out = cmd.args(["sql", "-e", "SELECT 1"]).output().unwrap();
        assert!(!out.status.success());
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "took {:?}",
            started.elapsed()
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = try_with(&|c| {
        c.env("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    });
    assert!(
        err.contains(&format!("object storage s3://{BUCKET}/{PREFIX}"))
            && err.contains("access refused"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");
    let err = try_with(&|c| {
        c.env("SEALHOUSE_STORAGE_URL", "s3://no-such-bucket/x");
    });
    assert!(
        err.contains("object storage s3://no-such-bucket/x"),
        "{err}"
    );
    let err = try_with(&|c| {
        c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    });
    assert!(
        err.contains(&format!("object storage s3://{BUCKET}/{PREFIX}")),
        "{err}"
    );
    let err = try_with(&|c| {
        c.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
    });
    assert!(
        err.contains("no credentials: set AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    let err = try_with(&|c| {
        c.env("SEALHOUSE_STORAGE_URL", "https://example.com/bucket");
    });
    assert!(err.contains("is not an s3:// URL"), "{err}");
    // None of them recorded anything: the bucket still opens.
    w.ok(&["sql", "-e", "SELECT 1"]);
}

#[test]
fn the_recorded_bucket_cannot_be_changed_or_removed_without_the_catalog_key() {
    let w = World::new();
    w.ok(&[
        "sql",
        "-e",
        "CREATE TABLE t (id BIGINT); INSERT INTO t VALUES (1)",
    ]);
    let db = rusqlite::Connection::open(w.sandbox.data().join("catalog.db")).unwrap();
    let recorded: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'storage_url'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, format!("s3://{BUCKET}/{PREFIX}"));
    // An attacker who can write the data directory points it at their
    // bucket, or back at the local disk: every command refuses to open it.
    for edit in [
        "UPDATE meta SET value = 's3://attacker-bucket' WHERE key = 'storage_url'",
        "DELETE FROM meta WHERE key = 'storage_url'",
    ] {
        db.execute_batch(edit).unwrap();
        for env_url in [None, Some("s3://attacker-bucket")] {
            let mut cmd = w.sealhouse();
            match env_url {
                Some(url) => cmd.env("SEALHOUSE_STORAGE_URL", url),
                None => cmd.env_remove("SEALHOUSE_STORAGE_URL"),
            };
            let out = cmd
                .args(["sql", "-e", "INSERT INTO t VALUES (2)"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{edit}: opened");
            assert!(err.contains("fails its integrity check"), "{edit}: {err}");
        }
        db.execute_batch("DELETE FROM meta WHERE key = 'storage_url'")
            .unwrap();
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('storage_url', ?1)",
            [&recorded],
        )
        .unwrap();
    }
    let out = w.ok(&[
        "sql",
        "--format",
        "csv",
        "-e",
        "SELECT count(*) AS n FROM t",
    ]);
    assert_eq!(out, "n\n1\n");
}
