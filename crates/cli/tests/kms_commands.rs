//! `sealhouse kms` as a user drives it: the key lifecycle, the cache TTL
//! setting, and `kms serve` on loopback.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;
use world::*;

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
    // The root key is outside the data directory, and kms config says where.
    let key_file = w
        .config()
        .join("root-keys")
        .join(format!("{}.key", out["installation_id"]));
    assert_eq!(out["root_key"], key_file.display().to_string(), "{out:?}");
    assert!(out["root_key_source"].starts_with("default"), "{out:?}");
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
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
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
        .env("SEALHOUSE_CONFIG_DIR", w.config())
        .env_remove("SEALHOUSE_KMS_ROOT_KEY")
        .env_remove("SEALHOUSE_KMS_ROOT_KEY_FILE")
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

/// `material` ready for the EXTERNAL key `key_id`, as a user makes it:
/// GetParametersForImport, then openssl wrapping it under the public key.
/// The import token and the wrapped material's file.
fn wrap_material(
    w: &World,
    key_id: &str,
    material: &[u8],
    dir: &std::path::Path,
) -> (String, std::path::PathBuf) {
    let public_key = dir.join("public.der");
    let params = fields(&w.ok(
        None,
        &[
            "kms",
            "get-parameters-for-import",
            "--key-id",
            key_id,
            "--public-key-out",
            public_key.to_str().unwrap(),
        ],
    ));
    let plain = dir.join("key.bin");
    std::fs::write(&plain, material).unwrap();
    let wrapped = dir.join("key.wrapped");
    let openssl = std::process::Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(&public_key)
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
        ])
        .arg(&plain)
        .arg("-out")
        .arg(&wrapped)
        .output()
        .expect("openssl runs (.ci/run installs it)");
    assert!(
        openssl.status.success(),
        "{}",
        String::from_utf8_lossy(&openssl.stderr)
    );
    (params["import_token"].clone(), wrapped)
}

/// `sealhouse kms import-key-material` of what [`wrap_material`] made.
fn import_command<'a>(
    key_id: &'a str,
    token: &'a str,
    wrapped: &'a std::path::Path,
) -> [&'a str; 8] {
    [
        "kms",
        "import-key-material",
        "--key-id",
        key_id,
        "--import-token",
        token,
        "--encrypted-key-material-file",
        wrapped.to_str().unwrap(),
    ]
}

/// Imports `material` into the EXTERNAL key `key_id` as a user would.
fn import_material(
    w: &World,
    key_id: &str,
    material: &[u8],
    dir: &std::path::Path,
) -> (String, std::path::PathBuf) {
    let (token, wrapped) = wrap_material(w, key_id, material, dir);
    w.ok(None, &import_command(key_id, &token, &wrapped));
    (token, wrapped)
}

/// Issue 21, item 6: DeleteKeyMaterial makes the key unusable until the
/// same material is imported again; what it encrypted then decrypts.
#[test]
fn deleted_key_material_comes_back_only_as_the_same_material() {
    let w = World::new();
    let external = fields(&w.ok(None, &["kms", "create-key", "--origin", "EXTERNAL"]));
    let key_id = external["key_id"].as_str();
    let dir = tempfile::tempdir().unwrap();
    import_material(&w, key_id, &[7; 32], dir.path());
    let blob = w.ok(
        None,
        &["kms", "encrypt", "--key-id", key_id, "--plaintext", "kept"],
    );
    let out = w.ok(None, &["kms", "delete-key-material", "--key-id", key_id]);
    assert!(out.contains("PendingImport"), "{out}");
    let described = fields(&w.ok(None, &["kms", "describe-key", "--key-id", key_id]));
    assert_eq!(described["key_state"], "PendingImport");
    let err = w.fails(None, &["kms", "decrypt", "--ciphertext-blob", blob.trim()]);
    assert!(err.contains("PendingImport"), "{err}");
    let err = w.fails(None, &["kms", "delete-key-material", "--key-id", key_id]);
    assert!(err.contains("holds no material"), "{err}");
    // Other material is refused; the same material brings the key back.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (token, wrapped) = wrap_material(&w, key_id, &[8; 32], &other);
    let err = w.fails(None, &import_command(key_id, &token, &wrapped));
    assert!(err.contains("differs from the material imported"), "{err}");
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    import_material(&w, key_id, &[7; 32], &again);
    let plain = w.ok(None, &["kms", "decrypt", "--ciphertext-blob", blob.trim()]);
    assert_eq!(plain.trim(), "kept");
    // A key whose material the KMS made has none to delete.
    let made = fields(&w.ok(None, &["kms", "create-key"]));
    let err = w.fails(
        None,
        &["kms", "delete-key-material", "--key-id", &made["key_id"]],
    );
    assert!(err.contains("Origin EXTERNAL"), "{err}");
}

/// Issue 21, item 6: bring your own key material as a user would, with
/// openssl wrapping it; then ReEncrypt, UpdateRotationPolicy and DeleteAlias.
#[test]
fn byok_import_with_openssl_and_the_remaining_key_commands() {
    let w = World::new();
    let external = fields(&w.ok(None, &["kms", "create-key", "--origin", "EXTERNAL"]));
    let key_id = external["key_id"].as_str();
    assert_eq!(external["key_state"], "PendingImport");

    let dir = tempfile::tempdir().unwrap();
    let (token, wrapped) = import_material(&w, key_id, &[0x42; 32], dir.path());
    let described = fields(&w.ok(None, &["kms", "describe-key", "--key-id", key_id]));
    assert_eq!(described["key_state"], "Enabled");
    // The token is used once.
    let err = w.fails(
        None,
        &[
            "kms",
            "import-key-material",
            "--key-id",
            key_id,
            "--import-token",
            &token,
            "--encrypted-key-material-file",
            wrapped.to_str().unwrap(),
        ],
    );
    assert!(err.contains("ImportKeyMaterial"), "{err}");

    // Encrypt under the imported key, ReEncrypt to another key with a new
    // context, and decrypt there.
    let blob = w.ok(
        None,
        &["kms", "encrypt", "--key-id", key_id, "--plaintext", "moved"],
    );
    let other = fields(&w.ok(None, &["kms", "create-key"]));
    let moved = w.ok(
        None,
        &[
            "kms",
            "re-encrypt",
            "--ciphertext-blob",
            blob.trim(),
            "--destination-key-id",
            &other["arn"],
            "--destination-context",
            r#"{"table":"t1"}"#,
        ],
    );
    assert_ne!(moved.trim(), blob.trim());
    let plain = w.ok(
        None,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            moved.trim(),
            "--context",
            r#"{"table":"t1"}"#,
        ],
    );
    assert_eq!(plain, "moved\n");
    let err = w.fails(None, &["kms", "decrypt", "--ciphertext-blob", moved.trim()]);
    assert!(err.contains("Decrypt"), "{err}");

    // Automatic rotation on, then off.
    let on = fields(&w.ok(
        None,
        &[
            "kms",
            "update-rotation-policy",
            "--key-id",
            &other["key_id"],
            "--rotation-interval",
            "30d",
        ],
    ));
    assert_eq!(on["automatic_rotation"], "Enabled", "{on:?}");
    assert!(on.contains_key("rotation_interval"), "{on:?}");
    let off = fields(&w.ok(
        None,
        &[
            "kms",
            "update-rotation-policy",
            "--key-id",
            &other["key_id"],
            "--disable",
        ],
    ));
    assert_eq!(off["automatic_rotation"], "Disabled", "{off:?}");

    // An alias deleted no longer names its key; the key stays.
    w.ok(
        None,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/moving",
            "--key-id",
            &other["key_id"],
        ],
    );
    w.ok(None, &["kms", "describe-key", "--key-id", "alias/moving"]);
    w.ok(
        None,
        &["kms", "delete-alias", "--alias-name", "alias/moving"],
    );
    let err = w.fails(None, &["kms", "describe-key", "--key-id", "alias/moving"]);
    assert!(err.contains("AliasNotFound"), "{err}");
    w.ok(None, &["kms", "describe-key", "--key-id", &other["key_id"]]);
}

/// Import tokens are base64url and one in 64 starts with '-': such a token
/// is the option's value, not a flag (it was a usage error, exit 2, which
/// made the test above fail now and then).
#[test]
fn an_import_token_starting_with_a_dash_is_a_value() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-file");
    let err = w.fails(
        None,
        &import_command("key-none", "-MhFNsNAX4Y4C6UKYK_Ae7d2ADMd4ECT", &missing),
    );
    assert!(!err.contains("unexpected argument"), "{err}");
}
