//! Project and table names: case-insensitive identifiers, stored lowercase,
//! and safe to use as directory names.

use crate::StorageError;

/// Checks a name and returns its canonical (lowercase) form.
pub fn normalize_name(kind: &'static str, name: &str) -> Result<String, StorageError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(StorageError::InvalidName {
            kind,
            name: name.chars().take(140).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_checked() {
        assert_eq!(
            normalize_name("table", "MF_Test_Data").expect("valid"),
            "mf_test_data"
        );
        for bad in ["", "1abc", "a-b", "a.b", "../x", "a b", &"x".repeat(129)] {
            assert!(normalize_name("table", bad).is_err(), "{bad:?}");
        }
    }
}
