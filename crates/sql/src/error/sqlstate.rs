//! SQLSTATE codes, from the error's variant: what PostgreSQL drivers and
//! tools branch on (retry a serialization failure, show a permission
//! problem as one, tell a typo in a name from a syntax error).
//!
//! Codes are PostgreSQL's (Appendix A of its manual). Where PostgreSQL has no
//! exact equivalent the nearest class is used: a decryption failure is
//! 39000 as pgcrypto's "Wrong key or corrupt data" is, a KMS refusal by key
//! state is 55000 (object not in prerequisite state).

use sealhouse_kms::ErrorCode;
use sealhouse_storage::StorageError;

use super::{ObjectKind, SqlError};

impl SqlError {
    /// The SQLSTATE a PostgreSQL client receives for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "42601",
            Self::NotFound { kind, .. } => match kind {
                ObjectKind::Project => "3F000",
                ObjectKind::Table => "42P01",
                ObjectKind::Column => "42703",
                ObjectKind::Function => "42883",
                ObjectKind::Role | ObjectKind::User | ObjectKind::Variable => "42704",
            },
            Self::Duplicate { kind, .. } => match kind {
                ObjectKind::Project => "42P06",
                ObjectKind::Table => "42P07",
                ObjectKind::Column => "42701",
                ObjectKind::Function => "42723",
                ObjectKind::Role | ObjectKind::User | ObjectKind::Variable => "42710",
            },
            Self::Plan(_) => "42000",
            Self::Unsupported(_) => "0A000",
            Self::InvalidInput(_) => "22023",
            Self::AccessDenied(_) => "42501",
            Self::Kms { code, .. } => kms(*code),
            Self::DecryptionFailed(_) => "39000",
            Self::Execution(_) | Self::Internal(_) => "XX000",
            Self::Storage(e) => storage(e),
            Self::TooComplex(_) => "54001",
            Self::OutOfMemory(_) => "53200",
        }
    }
}

fn kms(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NoPermission => "42501",
        ErrorCode::KeyNotFound | ErrorCode::AliasNotFound => "42704",
        ErrorCode::AliasAlreadyExists => "42710",
        ErrorCode::Disabled
        | ErrorCode::PendingDeletion
        | ErrorCode::PendingImport
        | ErrorCode::StateModifiedFailed => "55000",
        ErrorCode::InvalidCiphertext => "39000",
        ErrorCode::InvalidParameter
        | ErrorCode::UnsupportedOrigin
        | ErrorCode::InvalidImportToken
        | ErrorCode::ExpiredImportToken
        | ErrorCode::InvalidKeyMaterial => "22023",
        // InternalFailure, and codes added later: the service failed.
        _ => "58000",
    }
}

fn storage(error: &StorageError) -> &'static str {
    match error {
        StorageError::ProjectNotFound(_) => "3F000",
        StorageError::TableNotFound { .. } => "42P01",
        StorageError::ProjectExists(_) => "42P06",
        StorageError::TableExists { .. } => "42P07",
        StorageError::InvalidName { .. } | StorageError::ReservedName(_) => "42602",
        // PostgreSQL's "unrecognized configuration parameter".
        StorageError::InvalidSetting(_) => "42704",
        StorageError::ProjectNotEmpty(_) => "2BP01",
        StorageError::UnsupportedType { .. } => "0A000",
        // Retrying the statement is the remedy, as for a serialization failure.
        StorageError::TableChanged { .. } => "40001",
        StorageError::EncryptionFixed { .. } | StorageError::Unsealed => "55000",
        StorageError::Tampered { .. } | StorageError::Corrupt(_) | StorageError::DamagedFile(_) => {
            "XX001"
        }
        StorageError::Kms { code, .. } => kms(*code),
        StorageError::Io { .. } | StorageError::ObjectStore { .. } => "58030",
        StorageError::Sqlite(_) | StorageError::WrongCatalogKey => "58000",
        _ => "XX000",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::error::Denial;

    fn storage(e: StorageError) -> SqlError {
        SqlError::Storage(e)
    }

    fn kms(code: ErrorCode) -> SqlError {
        SqlError::Kms {
            code,
            message: String::new(),
        }
    }

    fn not_found(kind: ObjectKind) -> SqlError {
        SqlError::NotFound {
            kind,
            message: String::new(),
        }
    }

    fn duplicate(kind: ObjectKind) -> SqlError {
        SqlError::Duplicate {
            kind,
            message: String::new(),
        }
    }

    /// One row per mapping: the error, and the code a client must see.
    #[test]
    fn each_kind_of_error_has_its_sqlstate() {
        let s = String::new;
        let cases: Vec<(SqlError, &str)> = vec![
            (SqlError::Syntax(s()), "42601"),
            (not_found(ObjectKind::Project), "3F000"),
            (not_found(ObjectKind::Table), "42P01"),
            (not_found(ObjectKind::Column), "42703"),
            (not_found(ObjectKind::Function), "42883"),
            (not_found(ObjectKind::Role), "42704"),
            (not_found(ObjectKind::User), "42704"),
            (not_found(ObjectKind::Variable), "42704"),
            (duplicate(ObjectKind::Project), "42P06"),
            (duplicate(ObjectKind::Table), "42P07"),
            (duplicate(ObjectKind::Column), "42701"),
            (duplicate(ObjectKind::Function), "42723"),
            (duplicate(ObjectKind::Role), "42710"),
            (SqlError::Plan(s()), "42000"),
            (SqlError::Unsupported(s()), "0A000"),
            (SqlError::InvalidInput(s()), "22023"),
            (
                SqlError::AccessDenied(Box::new(Denial {
                    principal: s(),
                    action: s(),
                    resource: s(),
                    message: s(),
                })),
                "42501",
            ),
            (kms(ErrorCode::NoPermission), "42501"),
            (kms(ErrorCode::KeyNotFound), "42704"),
            (kms(ErrorCode::AliasNotFound), "42704"),
            (kms(ErrorCode::AliasAlreadyExists), "42710"),
            (kms(ErrorCode::Disabled), "55000"),
            (kms(ErrorCode::PendingDeletion), "55000"),
            (kms(ErrorCode::PendingImport), "55000"),
            (kms(ErrorCode::StateModifiedFailed), "55000"),
            (kms(ErrorCode::InvalidCiphertext), "39000"),
            (kms(ErrorCode::InvalidParameter), "22023"),
            (kms(ErrorCode::UnsupportedOrigin), "22023"),
            (kms(ErrorCode::InvalidImportToken), "22023"),
            (kms(ErrorCode::ExpiredImportToken), "22023"),
            (kms(ErrorCode::InvalidKeyMaterial), "22023"),
            (kms(ErrorCode::InternalFailure), "58000"),
            (SqlError::DecryptionFailed(s()), "39000"),
            (SqlError::Execution(s()), "XX000"),
            (SqlError::Internal(s()), "XX000"),
            (SqlError::TooComplex(s()), "54001"),
            (SqlError::OutOfMemory(s()), "53200"),
            (storage(StorageError::ProjectNotFound(s())), "3F000"),
            (
                storage(StorageError::TableNotFound {
                    project: s(),
                    table: s(),
                }),
                "42P01",
            ),
            (storage(StorageError::ProjectExists(s())), "42P06"),
            (
                storage(StorageError::TableExists {
                    project: s(),
                    table: s(),
                }),
                "42P07",
            ),
            (
                storage(StorageError::InvalidName {
                    kind: "table",
                    name: s(),
                }),
                "42602",
            ),
            (storage(StorageError::ReservedName(s())), "42602"),
            (storage(StorageError::InvalidSetting(s())), "42704"),
            (storage(StorageError::ProjectNotEmpty(s())), "2BP01"),
            (
                storage(StorageError::UnsupportedType {
                    column: s(),
                    data_type: s(),
                }),
                "0A000",
            ),
            (
                storage(StorageError::TableChanged {
                    project: s(),
                    table: s(),
                }),
                "40001",
            ),
            (
                storage(StorageError::EncryptionFixed {
                    project: s(),
                    algorithm: "AES256",
                    key_arn: s(),
                }),
                "55000",
            ),
            (storage(StorageError::Unsealed), "55000"),
            (storage(StorageError::Tampered { what: s() }), "XX001"),
            (storage(StorageError::Corrupt(s())), "XX001"),
            (storage(StorageError::DamagedFile(s())), "XX001"),
            (
                storage(StorageError::Kms {
                    code: ErrorCode::Disabled,
                    message: s(),
                }),
                "55000",
            ),
            (
                storage(StorageError::Io {
                    action: "read",
                    path: "f".into(),
                    source: Arc::new(std::io::Error::other("x")),
                }),
                "58030",
            ),
            (
                storage(StorageError::ObjectStore {
                    url: s(),
                    what: s(),
                }),
                "58030",
            ),
            (
                storage(StorageError::from(rusqlite::Error::InvalidQuery)),
                "58000",
            ),
            (storage(StorageError::WrongCatalogKey), "58000"),
        ];
        for (error, code) in cases {
            assert_eq!(error.sqlstate(), code, "{error:?}");
        }
    }
}
