//! Where the KMS root key lives (issue 18): outside the data directory, so
//! that a copy of the directory alone decrypts nothing; named by `kms
//! config`; a legacy `kms/root.key` moved out with a message; never a fresh
//! key for a data directory that already holds sealed keys.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod world;

use std::path::{Path, PathBuf};

use world::*;

/// A root key in `$SEALHOUSE_KMS_ROOT_KEY`'s form (32 zero bytes).
const ZERO_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// An AESCTR project with a row, and a KMS ciphertext of "hello": data that
/// only the root key opens.
fn make_encrypted_data(w: &World) -> String {
    w.ok(
        None,
        &[
            "sql",
            "-e",
            "CREATE PROJECT p ENCRYPTION ALGORITHM AESCTR; \
             CREATE TABLE p.t (id BIGINT, tel STRING); \
             INSERT INTO p.t VALUES (1, '13900001234');",
        ],
    );
    let key = fields(&w.ok(None, &["kms", "create-key"]));
    let blob = w.ok(
        None,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &key["key_id"],
            "--plaintext",
            "hello",
        ],
    );
    blob.trim().to_owned()
}

/// Requires that the encrypted data of [`make_encrypted_data`] opens.
fn assert_encrypted_data_opens(w: &World, blob: &str) {
    let rows = w.ok(
        None,
        &["sql", "--format", "csv", "-e", "SELECT tel FROM p.t"],
    );
    assert_eq!(rows, "tel\n13900001234\n");
    let plain = w.ok(None, &["kms", "decrypt", "--ciphertext-blob", blob]);
    assert_eq!(plain, "hello\n");
}

fn root_key_file(w: &World) -> PathBuf {
    PathBuf::from(&fields(&w.ok(None, &["kms", "config"]))["root_key"])
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_data_directory_keeps_no_root_key_inside_and_kms_config_names_it() {
    let w = World::new();
    let blob = make_encrypted_data(&w);
    let config = fields(&w.ok(None, &["kms", "config"]));
    let id = std::fs::read_to_string(w.data().join("kms/installation-id")).unwrap();
    assert_eq!(config["installation_id"], id.trim());
    let key_file = w.config().join(format!("root-keys/{}.key", id.trim()));
    assert_eq!(config["root_key"], key_file.display().to_string());
    assert!(
        config["root_key_source"].contains("outside the data directory"),
        "{config:?}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&key_file), 0o600);
        assert_eq!(mode(&w.config().join("root-keys")), 0o700);
    }

    // No file in the data directory is, or holds, the root key.
    let key = std::fs::read(&key_file).unwrap();
    assert_eq!(key.len(), 32);
    assert!(!w.data().join("kms/root.key").exists());
    for file in files_under(&w.data()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(key.len())
                .any(|window| window == key.as_slice()),
            "{} holds the root key",
            file.display()
        );
    }
    assert_encrypted_data_opens(&w, &blob);
}

#[test]
fn a_copied_data_directory_decrypts_nothing_and_the_original_still_works() {
    let original = World::new();
    let blob = make_encrypted_data(&original);
    let key_file = root_key_file(&original);

    // The copy, on a machine (or account) whose configuration directory is
    // not the original's.
    let copy = World::new();
    copy_dir(&original.data(), &copy.data());
    let err = copy.fails(
        None,
        &["sql", "--format", "csv", "-e", "SELECT tel FROM p.t"],
    );
    let looked_at = copy
        .config()
        .join("root-keys")
        .join(key_file.file_name().unwrap());
    assert!(err.contains("no KMS root key"), "{err}");
    assert!(err.contains(&looked_at.display().to_string()), "{err}");
    assert!(
        err.contains("copy of the directory alone decrypts nothing"),
        "{err}"
    );
    assert!(err.contains("SEALHOUSE_KMS_ROOT_KEY_FILE"), "{err}");
    assert!(!err.contains("13900001234"), "{err}");
    let err = copy.fails(None, &["kms", "decrypt", "--ciphertext-blob", &blob]);
    assert!(err.contains("no KMS root key"), "{err}");
    // No new key was made, here or in the data directory.
    assert_eq!(files_under(&copy.config()), Vec::<PathBuf>::new());
    assert!(!copy.data().join("kms/root.key").exists());

    // The original still opens everything.
    assert_encrypted_data_opens(&original, &blob);

    // Pointed at the key, as the error says, the copy opens too.
    let out = copy
        .cmd(None, &["kms", "decrypt", "--ciphertext-blob", &blob])
        .env("SEALHOUSE_KMS_ROOT_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
}

/// Makes `w`'s data directory look as builds before issue 18 left it: the
/// root key in `kms/root.key`, no installation id. Returns the key's bytes.
fn make_legacy(w: &World) -> Vec<u8> {
    let key_file = root_key_file(w);
    let key = std::fs::read(&key_file).unwrap();
    std::fs::rename(&key_file, w.data().join("kms/root.key")).unwrap();
    std::fs::remove_file(w.data().join("kms/installation-id")).unwrap();
    key
}

#[test]
fn a_legacy_root_key_is_moved_out_of_the_data_directory_with_a_message() {
    let w = World::new();
    let blob = make_encrypted_data(&w);
    let key = make_legacy(&w);
    let legacy = w.data().join("kms/root.key");

    let out = w
        .cmd(
            None,
            &["sql", "--format", "csv", "-e", "SELECT tel FROM p.t"],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tel\n13900001234\n");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("moved the KMS root key out of the data directory"),
        "{stderr}"
    );
    assert!(stderr.contains(&legacy.display().to_string()), "{stderr}");
    assert!(stderr.contains("back that file up separately"), "{stderr}");

    let key_file = root_key_file(&w);
    assert!(
        key_file.starts_with(w.config().join("root-keys")),
        "{key_file:?}"
    );
    assert!(stderr.contains(&key_file.display().to_string()), "{stderr}");
    assert_eq!(std::fs::read(&key_file).unwrap(), key);
    #[cfg(unix)]
    assert_eq!(mode(&key_file), 0o600);
    assert!(!legacy.exists());

    // Said once: the next run is quiet, and everything still decrypts.
    let out = w.cmd(None, &["kms", "config"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_encrypted_data_opens(&w, &blob);
}

#[test]
fn processes_racing_to_move_a_legacy_key_agree_on_one_key() {
    let w = World::new();
    let blob = make_encrypted_data(&w);
    let key = make_legacy(&w);
    let outputs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| w.cmd(None, &["kms", "config"]).output().unwrap()))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let keys = files_under(&w.config().join("root-keys"));
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(std::fs::read(&keys[0]).unwrap(), key);
    assert!(!w.data().join("kms/root.key").exists());
    assert_encrypted_data_opens(&w, &blob);
}

#[test]
fn a_legacy_key_that_differs_from_the_one_outside_is_refused_untouched() {
    let w = World::new();
    let key_file = root_key_file(&w);
    let other = World::new();
    let other_key = root_key_file(&other);
    let legacy = w.data().join("kms/root.key");
    std::fs::copy(&other_key, &legacy).unwrap();

    let err = w.fails(None, &["kms", "config"]);
    assert!(err.contains("hold different keys"), "{err}");
    assert!(err.contains("neither was changed"), "{err}");
    assert_eq!(
        std::fs::read(&legacy).unwrap(),
        std::fs::read(&other_key).unwrap()
    );
    assert_ne!(
        std::fs::read(&key_file).unwrap(),
        std::fs::read(&legacy).unwrap()
    );
}

#[test]
fn the_root_key_file_and_variable_settings() {
    // An explicit file: created there for a new data directory.
    let w = World::new();
    let explicit = w.dir.path().join("secrets/sealhouse.key");
    std::fs::create_dir(w.dir.path().join("secrets")).unwrap();
    let run = |args: &[&str]| {
        w.cmd(None, args)
            .env("SEALHOUSE_KMS_ROOT_KEY_FILE", &explicit)
            .output()
            .unwrap()
    };
    let out = run(&["kms", "config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = fields(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(config["root_key"], explicit.display().to_string());
    assert_eq!(config["root_key_source"], "$SEALHOUSE_KMS_ROOT_KEY_FILE");
    assert_eq!(std::fs::read(&explicit).unwrap().len(), 32);
    assert_eq!(files_under(&w.config()), Vec::<PathBuf>::new());

    // Without the setting, the data directory (which now holds sealed
    // keys) is refused rather than given a new key.
    let err = w.fails(None, &["kms", "config"]);
    assert!(err.contains("no KMS root key"), "{err}");
    assert_eq!(files_under(&w.config()), Vec::<PathBuf>::new());

    // Both settings at once: refused, whichever would win.
    let out = w
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_ROOT_KEY_FILE", &explicit)
        .env("SEALHOUSE_KMS_ROOT_KEY", ZERO_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set only one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The variable: no file anywhere.
    let v = World::new();
    let out = v
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_ROOT_KEY", ZERO_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = fields(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(config["root_key"], "$SEALHOUSE_KMS_ROOT_KEY");
    assert_eq!(files_under(&v.config()), Vec::<PathBuf>::new());
    assert!(!v.data().join("kms/root.key").exists());

    // A legacy key file beside the variable is left alone, but warned about.
    let legacy = v.data().join("kms/root.key");
    std::fs::copy(&explicit, &legacy).unwrap();
    let out = v
        .cmd(None, &["kms", "config"])
        .env("SEALHOUSE_KMS_ROOT_KEY", ZERO_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(stderr.contains("left by an earlier version"), "{stderr}");
    assert_eq!(
        std::fs::read(&legacy).unwrap(),
        std::fs::read(&explicit).unwrap()
    );
}

/// Turns the data directory's catalog into one an earlier version made:
/// schema version 1, no seal, no MACs.
fn make_legacy_catalog(w: &World) {
    let db = rusqlite::Connection::open(w.data().join("catalog.db")).unwrap();
    db.execute_batch(
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'; \
         DELETE FROM meta WHERE key = 'seal'; \
         UPDATE tables SET mac = NULL; UPDATE projects SET mac = NULL;",
    )
    .unwrap();
}

#[test]
fn a_legacy_catalog_is_sealed_when_its_root_key_moves_out_and_refused_otherwise() {
    let w = World::new();
    let blob = make_encrypted_data(&w);
    make_legacy_catalog(&w);
    // The catalog looks old, but this data directory's root key already
    // lives outside it: nobody vouches for the catalog, so it is refused.
    let err = w.fails(None, &["sql", "-e", "SELECT tel FROM p.t"]);
    assert!(
        err.contains("predates integrity protection")
            && err.contains("SEALHOUSE_SEAL_LEGACY_CATALOG=1"),
        "{err}"
    );
    // The upgrade from an earlier version: its root key is moved out, and
    // its catalog sealed as found.
    make_legacy(&w);
    assert_encrypted_data_opens(&w, &blob);
    // Sealed now: an edit is caught, naming the table.
    let db = rusqlite::Connection::open(w.data().join("catalog.db")).unwrap();
    db.execute("UPDATE files SET rows = rows + 1", []).unwrap();
    let err = w.fails(None, &["sql", "-e", "SELECT count(*) FROM p.t"]);
    assert!(
        err.contains("table 'p.t'") && err.contains("integrity check"),
        "{err}"
    );
}

#[test]
fn a_legacy_catalog_is_sealed_when_the_variable_vouches_for_it() {
    let w = World::new();
    let blob = make_encrypted_data(&w);
    make_legacy_catalog(&w);
    let out = w
        .cmd(None, &["sql", "-e", "SELECT 1"])
        .env("SEALHOUSE_SEAL_LEGACY_CATALOG", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_encrypted_data_opens(&w, &blob);
}
