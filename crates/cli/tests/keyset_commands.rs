//! Drives the real `sealhouse` binary through the keyset workflow.

use std::path::Path;

use assert_cmd::Command;

fn sealhouse(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sealhouse").expect("binary built");
    cmd.current_dir(dir);
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn stderr_of_failure(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        !out.status.success(),
        "unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("utf-8")
}

const DOCUMENTED_HEX: &str = "0A1072384D715A414541385044643351534C12580A330A0B4145532D47434D2D323536122026A8FB1126DF4F5B5DD03C180E6919565D7716CBB291815EFB5BBF30F8BEF9AF1801200210011A1072384D715A414541385044643351534C20022A0B68656C6C6F20776F726C64";

#[test]
fn create_add_rotate_encrypt_decrypt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    stdout(sealhouse(d).args([
        "keyset",
        "new",
        "--description",
        "my first keyset",
        "--out",
        "ks.json",
    ]));
    stdout(sealhouse(d).args([
        "keyset",
        "add-key",
        "--in",
        "ks.json",
        "--algorithm",
        "AES-SIV-CMAC-128",
        "--key-hex",
        "b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d",
        "--out",
        "ks.json",
    ]));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ks.json")).expect("read"))
            .expect("json");
    assert_eq!(json["key"].as_array().expect("keys").len(), 2);
    assert_eq!(
        json["key"][1]["key_meta_data"]["value"],
        "t1WFzzIc3K1CRRaQzbe/xJwmCS9g+FTnLUMkTFViCj0="
    );
    assert_eq!(json["primary_key_id"], json["key"][1]["key_id"]);

    // Deterministic primary: the same plaintext gives the same ciphertext.
    let enc =
        || stdout(sealhouse(d).args(["encrypt", "--keyset", "ks.json", "--text", "13900001234"]));
    let (a, b) = (enc(), enc());
    assert_eq!(a, b);

    stdout(sealhouse(d).args([
        "keyset",
        "rotate",
        "--in",
        "ks.json",
        "--out",
        "ks.hex",
        "--out-format",
        "hex",
    ]));
    let list = stdout(sealhouse(d).args(["keyset", "list", "--in", "ks.hex"]));
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        !list.contains("t1WFzzIc3K1CRRaQzbe"),
        "list never shows material"
    );

    let plain = stdout(sealhouse(d).args(["decrypt", "--keyset", "ks.hex", "--base64", a.trim()]));
    assert_eq!(plain, "13900001234\n");
    let wrong_aad = stderr_of_failure(sealhouse(d).args([
        "decrypt",
        "--keyset",
        "ks.hex",
        "--base64",
        a.trim(),
        "--aad",
        "x",
    ]));
    assert!(
        wrong_aad.starts_with("error: decryption failed"),
        "{wrong_aad}"
    );
}

#[test]
fn converts_the_documented_keyset_and_decrypts_its_ciphertext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("doc.hex"), DOCUMENTED_HEX).expect("write");
    let json = stdout(sealhouse(d).args([
        "keyset",
        "convert",
        "--in",
        "doc.hex",
        "--out-format",
        "json",
    ]));
    assert!(json.contains("\"key_id\": \"r8MqZAEA8PDd3QSL\""), "{json}");
    std::fs::write(d.join("doc.json"), &json).expect("write");
    let hex = stdout(sealhouse(d).args([
        "keyset",
        "convert",
        "--in",
        "doc.json",
        "--out-format",
        "hex",
    ]));
    assert_eq!(hex.trim(), DOCUMENTED_HEX);
    let plain = stdout(sealhouse(d).args([
        "decrypt",
        "--keyset",
        "doc.json",
        "--base64",
        "nLcdDFdjO2T4aATtirvDMVeBD8oSuu4BfM3t+Y8ny0kwQjJlAQAwkVhYOocPQll8LmdzSwkRf3v2iTow+TAmnQ==",
    ]));
    assert_eq!(plain, "0001\n");
}

#[test]
fn key_status_commands_update_the_file_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    stdout(sealhouse(d).args(["keyset", "new", "--out", "ks.bin", "--out-format", "binary"]));
    let first = stdout(sealhouse(d).args(["keyset", "list", "--in", "ks.bin"]));
    let old_id = first
        .lines()
        .nth(1)
        .expect("key row")
        .split_whitespace()
        .next()
        .expect("id")
        .to_owned();
    let ct = stdout(sealhouse(d).args(["encrypt", "--keyset", "ks.bin", "--text", "v"]));
    stdout(sealhouse(d).args(["keyset", "rotate", "--in", "ks.bin", "--out", "ks.bin"]));

    let refused = stderr_of_failure(sealhouse(d).args([
        "keyset",
        "destroy",
        "--in",
        "ks.bin",
        "--key-id",
        "AAAAAAAAAAAAAAAA",
    ]));
    assert!(
        refused.contains("no key with id AAAAAAAAAAAAAAAA"),
        "{refused}"
    );

    stdout(sealhouse(d).args([
        "keyset", "disable", "--in", "ks.bin", "--key-id", &old_id, "--out", "ks.bin",
    ]));
    stderr_of_failure(sealhouse(d).args(["decrypt", "--keyset", "ks.bin", "--base64", ct.trim()]));
    stdout(sealhouse(d).args([
        "keyset", "enable", "--in", "ks.bin", "--key-id", &old_id, "--out", "ks.bin",
    ]));
    assert_eq!(
        stdout(sealhouse(d).args(["decrypt", "--keyset", "ks.bin", "--base64", ct.trim()])),
        "v\n"
    );
    stdout(sealhouse(d).args([
        "keyset", "destroy", "--in", "ks.bin", "--key-id", &old_id, "--out", "ks.bin",
    ]));
    let list = stdout(sealhouse(d).args(["keyset", "list", "--in", "ks.bin"]));
    assert!(list.contains("DESTROYED"), "{list}");
    stderr_of_failure(sealhouse(d).args(["decrypt", "--keyset", "ks.bin", "--base64", ct.trim()]));
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_files_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    stdout(sealhouse(d).args(["keyset", "new", "--out", "ks.json"]));
    let before = std::fs::read(d.join("ks.json")).expect("read");
    let err = stderr_of_failure(sealhouse(d).args([
        "keyset",
        "rotate",
        "--in",
        "ks.json",
        "--algorithm",
        "AES-CBC",
        "--out",
        "ks.json",
    ]));
    assert!(
        err.contains("unknown key algorithm 'AES-CBC'; valid algorithms are"),
        "{err}"
    );
    let err = stderr_of_failure(sealhouse(d).args([
        "keyset",
        "add-key",
        "--in",
        "ks.json",
        "--algorithm",
        "AES-SIV-CMAC-256",
        "--key-hex",
        "00ff",
        "--out",
        "ks.json",
    ]));
    assert!(
        err.contains("takes a 64-byte key, but the key supplied is 2 bytes"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(d.join("ks.json")).expect("read"),
        before,
        "a failed command changes nothing"
    );
    std::fs::write(d.join("junk"), b"\x0a\xff\xff").expect("write");
    let err = stderr_of_failure(sealhouse(d).args(["keyset", "list", "--in", "junk"]));
    assert!(
        err.contains("reading keyset junk: malformed keyset bytes"),
        "{err}"
    );
    let err = stderr_of_failure(sealhouse(d).args(["keyset", "list", "--in", "missing.json"]));
    assert!(
        err.contains("cannot read keyset file missing.json"),
        "{err}"
    );
}
