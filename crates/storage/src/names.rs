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

/// Project names that are PostgreSQL system schemas: a project by one of
/// these names would be shadowed for PostgreSQL clients of `sealhouse serve`.
pub const RESERVED_PROJECT_NAMES: &[&str] = &["pg_catalog", "information_schema"];

/// Checks a name for a new project: a valid name that is not reserved.
pub(crate) fn new_project_name(name: &str) -> Result<String, StorageError> {
    let name = normalize_name("project", name)?;
    if RESERVED_PROJECT_NAMES.contains(&name.as_str()) {
        return Err(StorageError::ReservedName(name));
    }
    Ok(name)
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
        assert!(matches!(
            new_project_name("PG_Catalog"),
            Err(StorageError::ReservedName(_))
        ));
        assert_eq!(new_project_name("sales").expect("valid"), "sales");
        for bad in ["", "1abc", "a-b", "a.b", "../x", "a b", &"x".repeat(129)] {
            assert!(normalize_name("table", bad).is_err(), "{bad:?}");
        }
    }
}
