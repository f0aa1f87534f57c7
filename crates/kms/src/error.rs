//! The KMS error: a code from the original cloud KMS's API, and a message that
//! names the key (its ARN), its state and what to do.
//!
//! One error type serves every operation, because the HTTP API carries exactly
//! this pair (`Code`, `Message`) plus the request id, and the HTTP client must be
//! able to rebuild the same value from it ([`ErrorCode::from_code`]). The codes
//! and HTTP statuses are the cloud's public ones (see `docs/kms.md`); the two
//! that are ours are marked so.
//!
//! No message ever holds key material or plaintext: they name key ids, ARNs,
//! states, dates and lengths. Caller-supplied strings appear only when they look
//! like names ([`printable`]). Decryption failures are one opaque message.

use std::fmt;

use sealhouse_iam::AccessDenied;
use time::OffsetDateTime;

use crate::api::KeyState;

/// The error codes, as strings in the cloud's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InvalidParameter` (400): a request value is missing, malformed or out of range.
    InvalidParameter,
    /// `Forbidden.KeyNotFound` (404): no such key (or it was deleted).
    KeyNotFound,
    /// `Forbidden.AliasNotFound` (404): no such alias in the caller's account.
    AliasNotFound,
    /// `Forbidden.NoPermission` (403): authorisation refused.
    NoPermission,
    /// `Rejected.Disabled` (409): the key is Disabled.
    Disabled,
    /// `Rejected.PendingDeletion` (409): the key is scheduled for deletion.
    PendingDeletion,
    /// `Rejected.PendingImport` (409): the key has no key material yet (BYOK).
    PendingImport,
    /// `Rejected.StateModifiedFailed` (409): a management operation that the
    /// key's state does not allow (enabling a key pending deletion, ...).
    StateModifiedFailed,
    /// `AliasAlreadyExists` (400): the alias name is taken in this account.
    AliasAlreadyExists,
    /// `Unsupported.Origin` (400): the operation does not apply to keys of this
    /// origin (importing into a KMS-generated key, rotating a BYOK key).
    UnsupportedOrigin,
    /// `InvalidImportToken` (400): the import token is unknown, used, or for another key.
    InvalidImportToken,
    /// `ExpiredImportToken` (400): the import token is older than 24 hours.
    ExpiredImportToken,
    /// `InvalidKeyMaterial` (400): the wrapped material does not unwrap to a
    /// 32-byte key, or differs from the key's earlier material.
    InvalidKeyMaterial,
    /// `InvalidCiphertext` (400, ours): the ciphertext blob was not made by
    /// this KMS, was modified, or the encryption context differs. Deliberately
    /// says nothing more (no oracle).
    InvalidCiphertext,
    /// `InternalFailure` (500): the service failed (storage, audit log,
    /// randomness); nothing was returned.
    InternalFailure,
}

/// Code, text and HTTP status of each [`ErrorCode`].
const CODES: [(ErrorCode, &str, u16); 15] = [
    (ErrorCode::InvalidParameter, "InvalidParameter", 400),
    (ErrorCode::KeyNotFound, "Forbidden.KeyNotFound", 404),
    (ErrorCode::AliasNotFound, "Forbidden.AliasNotFound", 404),
    (ErrorCode::NoPermission, "Forbidden.NoPermission", 403),
    (ErrorCode::Disabled, "Rejected.Disabled", 409),
    (ErrorCode::PendingDeletion, "Rejected.PendingDeletion", 409),
    (ErrorCode::PendingImport, "Rejected.PendingImport", 409),
    (
        ErrorCode::StateModifiedFailed,
        "Rejected.StateModifiedFailed",
        409,
    ),
    (ErrorCode::AliasAlreadyExists, "AliasAlreadyExists", 400),
    (ErrorCode::UnsupportedOrigin, "Unsupported.Origin", 400),
    (ErrorCode::InvalidImportToken, "InvalidImportToken", 400),
    (ErrorCode::ExpiredImportToken, "ExpiredImportToken", 400),
    (ErrorCode::InvalidKeyMaterial, "InvalidKeyMaterial", 400),
    (ErrorCode::InvalidCiphertext, "InvalidCiphertext", 400),
    (ErrorCode::InternalFailure, "InternalFailure", 500),
];

impl ErrorCode {
    fn entry(self) -> (ErrorCode, &'static str, u16) {
        CODES
            .iter()
            .copied()
            .find(|(code, _, _)| *code == self)
            // Invariant: CODES lists every variant (checked by a test).
            .unwrap_or((self, "InternalFailure", 500))
    }

    /// The code as the API spells it, such as `Rejected.Disabled`.
    pub fn as_str(self) -> &'static str {
        self.entry().1
    }

    /// The HTTP status the API answers with.
    pub fn http_status(self) -> u16 {
        self.entry().2
    }

    /// The code for an API code string (for the HTTP client).
    pub fn from_code(code: &str) -> Option<Self> {
        CODES
            .iter()
            .find(|(_, s, _)| *s == code)
            .map(|(c, _, _)| *c)
    }

    /// The code that refuses use of a key in `state` (Enabled has none).
    pub(crate) fn for_state(state: KeyState) -> Self {
        match state {
            KeyState::Enabled => Self::StateModifiedFailed,
            KeyState::Disabled => Self::Disabled,
            KeyState::PendingDeletion => Self::PendingDeletion,
            KeyState::PendingImport => Self::PendingImport,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed KMS call: a code, a message, and the request id of the call (set
/// by the service; absent for errors made before a call started).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct KmsError {
    code: ErrorCode,
    message: String,
    request_id: Option<String>,
}

impl KmsError {
    /// An error with `code` and `message` (for implementations of
    /// [`crate::Kms`] such as the HTTP client, which rebuild server errors).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            request_id: None,
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The id of the request that failed, as recorded in the audit log.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The same error carrying `request_id`.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalFailure, message)
    }

    /// The one decryption failure.
    pub(crate) fn invalid_ciphertext() -> Self {
        Self::new(
            ErrorCode::InvalidCiphertext,
            "the ciphertext blob cannot be decrypted: it was not made by this KMS, it was \
             modified, or the encryption context given is not the one it was encrypted with",
        )
    }

    pub(crate) fn key_not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::KeyNotFound,
            format!(
                "key {what} does not exist in this region; list your keys with ListKeys, \
                 or check the id, ARN or alias"
            ),
        )
    }

    pub(crate) fn key_deleted(arn: &str, deleted_at: Option<OffsetDateTime>) -> Self {
        let when = deleted_at
            .map(|d| format!(" at {}", date(d)))
            .unwrap_or_default();
        Self::new(
            ErrorCode::KeyNotFound,
            format!(
                "key {arn} was deleted{when}: its key material is destroyed, so nothing \
                 encrypted under it can ever be decrypted again"
            ),
        )
    }

    /// A key in `state` refused for cryptographic use (`operation`).
    pub(crate) fn unusable(
        arn: &str,
        state: KeyState,
        operation: &str,
        delete_date: Option<OffsetDateTime>,
    ) -> Self {
        let what_to_do = match (state, delete_date) {
            (KeyState::Disabled, _) => "enable it with EnableKey to use it again".to_owned(),
            (KeyState::PendingDeletion, Some(d)) => format!(
                "it will be deleted at {}; cancel the deletion with CancelKeyDeletion to use it \
                 again",
                date(d)
            ),
            (KeyState::PendingDeletion, None) => {
                "cancel the deletion with CancelKeyDeletion to use it again".to_owned()
            }
            (KeyState::PendingImport, _) => "it has no key material: import it with \
                 GetParametersForImport and ImportKeyMaterial"
                .to_owned(),
            (KeyState::Enabled, _) => "retry".to_owned(),
        };
        Self::new(
            ErrorCode::for_state(state),
            format!("key {arn} is {state}, so it cannot be used for {operation}; {what_to_do}"),
        )
    }

    /// A management operation the key's state does not allow.
    pub(crate) fn state_conflict(arn: &str, state: KeyState, operation: &str, fix: &str) -> Self {
        Self::new(
            ErrorCode::StateModifiedFailed,
            format!("cannot {operation} key {arn} while it is {state}; {fix}"),
        )
    }

    pub(crate) fn denied(denied: &AccessDenied) -> Self {
        let code = if denied.is_internal() {
            ErrorCode::InternalFailure
        } else {
            ErrorCode::NoPermission
        };
        Self::new(code, denied.to_string())
    }
}

/// Why the KMS could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data directory could not be created or read.
    #[error("cannot create or open the KMS data directory {}: {source}", .path.display())]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A database could not be opened or set up.
    #[error("cannot open the KMS database {}: {detail}", .path.display())]
    Database {
        /// The database file.
        path: std::path::PathBuf,
        /// What failed.
        detail: String,
    },
    /// A database written by a newer program.
    #[error(
        "the KMS database {} has schema version {found}, newer than this program's \
         {supported}; use a newer sealhouse",
        .path.display()
    )]
    TooNew {
        /// The database file.
        path: std::path::PathBuf,
        /// Its version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// The root key does not open this database.
    #[error(
        "the root key given is not the one the KMS database {} was created with; supply the \
         original root key (its file, or SEALHOUSE_KMS_ROOT_KEY): under another key no stored \
         key can be used",
        .path.display()
    )]
    WrongRootKey {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// A configuration value that is not valid.
    #[error("invalid KMS configuration: {0}")]
    Config(String),
}

/// A date as the API prints it: RFC 3339 in UTC, seconds precision.
pub(crate) fn date(d: OffsetDateTime) -> String {
    let d = d.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// A caller-supplied value for a message ([`sealhouse_crypto::printable()`],
/// long enough for a key ARN or alias ARN), so that a secret passed in the
/// wrong parameter does not reach a log.
pub(crate) fn printable(value: &str) -> String {
    sealhouse_crypto::printable(value, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_string_and_round_trips() {
        for (code, text, status) in CODES {
            assert_eq!(code.as_str(), text);
            assert_eq!(code.http_status(), status);
            assert_eq!(ErrorCode::from_code(text), Some(code));
        }
        assert_eq!(ErrorCode::from_code("Nope"), None);
    }

    #[test]
    fn state_errors_name_the_key_the_state_and_the_fix() {
        let arn = "acs:kms:cn-hangzhou:1:key/key-abc";
        let e = KmsError::unusable(arn, KeyState::Disabled, "Encrypt", None);
        assert_eq!(e.code().as_str(), "Rejected.Disabled");
        assert!(e.message().contains(arn) && e.message().contains("EnableKey"));
        let d = OffsetDateTime::from_unix_timestamp(86_400).unwrap();
        let e = KmsError::unusable(arn, KeyState::PendingDeletion, "Decrypt", Some(d));
        assert!(e.message().contains("1970-01-02T00:00:00Z"), "{e}");
        assert!(e.message().contains("CancelKeyDeletion"));
    }

    #[test]
    fn printable_hides_long_or_binary_values() {
        assert_eq!(printable("alias/x"), "'alias/x'");
        assert!(printable("x y").contains("not shown"));
        assert!(!printable("x y").contains("x y"));
        assert!(!printable(&"k".repeat(400)).contains("kkk"));
    }

    #[test]
    fn display_is_code_then_message() {
        let e = KmsError::invalid("bad").with_request_id("r1");
        assert_eq!(e.to_string(), "InvalidParameter: bad");
        assert_eq!(e.request_id(), Some("r1"));
    }
}
