//! Identities from the environment, profiles and the default, and secrets
//! kept out of every output.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

mod world;
use world::*;

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
