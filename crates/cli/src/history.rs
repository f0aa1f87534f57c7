//! What the interactive shell keeps in its history file.
//!
//! History is filtered, not off (issue 18): recalling earlier queries is
//! what makes the shell worth using, and the lines that carry secrets are
//! recognisable, so those, and only those, are never written. A statement
//! is not kept when
//!
//! - it calls an encryption, decryption or keyset function (a name holding
//!   `ENCRYPT`, `DECRYPT` or `KEYSET`: `ENHANCED_SYM_ENCRYPT`, `SYM_DECRYPT`,
//!   `KEYSET_FROM_JSON`, `ADD_KEY_TO_KEYSET`, `NEW_WRAPPED_KEYSET`, ...):
//!   their arguments are keys, keysets and the plaintexts to encrypt;
//! - it assigns a script variable (`@x := ...`), the way keysets and values
//!   reach those functions in a script;
//! - it holds something shaped like raw key material: 32 or more hex digits
//!   in a row, or 22 or more base64 characters mixing at least two of upper
//!   case, lower case and digits (a 16-byte key is 32 hex digits or 22
//!   base64 characters; key ids, uids and ordinary words stay below);
//! - it starts with a space: a way to keep any statement out, as shells do.
//!
//! Entries already in the file that fail these rules (typed under an
//! earlier version) are removed from it when the shell starts. The rules
//! over-reach rather than miss: a statement left out only costs retyping.
//! Literal data in other statements (an `INSERT ... VALUES` of plaintext)
//! is kept, as in any SQL shell; start such a line with a space.

use std::path::Path;

use rustyline::history::{FileHistory, History};

/// Whether the statement `entry` (as typed, all its lines) may be kept.
pub(crate) fn may_keep(entry: &str) -> bool {
    !(entry.starts_with(char::is_whitespace)
        || calls_a_crypto_function(entry)
        || assigns_a_variable(entry)
        || holds_key_shaped_text(entry))
}

/// Loads the history file into `editor`, leaving out what [`may_keep`]
/// refuses; if it left anything out, rewrites the file without it at once.
/// Returns how many entries were left out.
pub(crate) fn load<H: rustyline::Helper>(
    editor: &mut rustyline::Editor<H, FileHistory>,
    path: &Path,
) -> usize {
    let mut stored = FileHistory::new();
    if stored.load(path).is_err() {
        return 0;
    }
    let mut dropped = 0;
    for entry in stored.iter() {
        if may_keep(entry) {
            let _ = editor.add_history_entry(entry.as_str());
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        if editor.history().is_empty() {
            let _ = std::fs::remove_file(path);
        } else {
            save(editor, path);
        }
    }
    dropped
}

/// Writes the history file (mode 0600).
pub(crate) fn save<H: rustyline::Helper>(
    editor: &mut rustyline::Editor<H, FileHistory>,
    path: &Path,
) {
    if editor.save_history(path).is_ok() {
        restrict_permissions(path);
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

/// A name holding ENCRYPT, DECRYPT or KEYSET followed by `(`.
fn calls_a_crypto_function(entry: &str) -> bool {
    let upper = entry.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !is_name(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let name = &upper[start..i];
        let called = upper[i..].trim_start().starts_with('(');
        if called
            && ["ENCRYPT", "DECRYPT", "KEYSET"]
                .iter()
                .any(|w| name.contains(w))
        {
            return true;
        }
    }
    false
}

/// `@name :=` anywhere.
fn assigns_a_variable(entry: &str) -> bool {
    entry.match_indices('@').any(|(at, _)| {
        let rest = &entry[at + 1..];
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        name_len > 0 && rest[name_len..].trim_start().starts_with(":=")
    })
}

/// 32+ hex digits, or 22+ base64 characters of at least two kinds, in a row.
fn holds_key_shaped_text(entry: &str) -> bool {
    let base64_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    entry.split(|c: char| !base64_char(c)).any(|run| {
        let hex = run.len() >= 32 && run.chars().all(|c| c.is_ascii_hexdigit());
        let kinds = [
            run.chars().any(|c| c.is_ascii_uppercase()),
            run.chars().any(|c| c.is_ascii_lowercase()),
            run.chars().any(|c| c.is_ascii_digit()),
        ];
        let mixed = run.len() >= 22 && kinds.iter().filter(|k| **k).count() >= 2;
        hex || mixed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_encryption_calls_are_left_out() {
        let refused = [
            "SELECT ENHANCED_SYM_ENCRYPT(@ks, 'my plaintext');",
            "select enhanced_sym_decrypt(k, c) from t;",
            "SELECT sym_encrypt('13900001234', 'k' , 'AES-GCM-256');",
            "SELECT Try_Enhanced_Sym_Decrypt (k, c) FROM t;",
            "SELECT KEYSET_TO_JSON(KEYSET_FROM_JSON('{}'));",
            "SELECT ADD_KEY_TO_KEYSET(k, 'AES-GCM-256', x, 'd') FROM keys;",
            "SELECT NEW_WRAPPED_KEYSET('acs:kms:cn-hangzhou:1:key/key-a', 'acs:ram::1:role/r', 'AES-GCM-256', 'd');",
            "SELECT USE_WRAPPED_KEYSET(a, b, c) FROM w;",
            "SELECT NEW_KEYSET('AES-GCM-256', 'x');",
            "@plain := '13900001234';",
            "@ks:=x;",
            // Raw keys, whatever carries them.
            "SELECT UNHEX('b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d');",
            "SELECT X'B75585CF321CDCAD42451690CDB7BFC4';",
            "SELECT 'q2vL8+3Xk0a9Zb1cD4eF5g==' AS k;",
            "SELECT 'q2vL8Xk0a9Zb1cD4eF5gHi' AS k;",
            "SELECT '{\"value\": \"JqaP+xEm31s2XdA8GA5pGVZ3FsuykYFe+1u/MPi++a8=\"}';",
            // Multi-line: the whole statement counts.
            "SELECT id,\n ENHANCED_SYM_ENCRYPT(k, tel)\nFROM t;",
            // A leading space keeps anything out.
            " SELECT 1;",
        ];
        for entry in refused {
            assert!(!may_keep(entry), "kept: {entry}");
        }
    }

    #[test]
    fn ordinary_statements_are_kept() {
        let kept = [
            "SELECT 1;",
            "SELECT count(*) FROM encrypted_orders WHERE encryption_flag = 1;",
            "CREATE PROJECT p ENCRYPTION ALGORITHM AESCTR;",
            "CREATE TABLE orders (id BIGINT, tel BINARY);",
            "SELECT * FROM t WHERE email = 'someone@example.com';",
            "SELECT 'acs:kms:cn-hangzhou:1892732288741234:key/key-bjj6527b6c6465hsf1234';",
            "SELECT '550e8400-e29b-41d4-a716-446655440000';",
            "SELECT '/home/someone/projects/warehouse/exports';",
            "SELECT 'internationalization_of_things_everywhere';",
            "SELECT HEX(c) FROM t LIMIT 3;",
            "SET datafusion.execution.batch_size = 8192;",
        ];
        for entry in kept {
            assert!(may_keep(entry), "left out: {entry}");
        }
    }
}
