//! Why a request was not signed or not accepted.
//!
//! No variant carries a secret, a security token, the expected signature or
//! the signature presented: messages name headers, access key ids (shown as
//! the identity service shows them) and times only.

use time::OffsetDateTime;

use crate::error::{AuthError, Error};

use super::format_date;

/// Why a signed request was refused.
///
/// A wrong secret and a tampered request are the same error,
/// [`SignatureError::SignatureMismatch`]: the server cannot tell them apart,
/// and must not try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No Authorization header.
    #[error("the request has no Authorization header; sign it with ACS3-HMAC-SHA256")]
    MissingAuthorization,
    /// The Authorization header does not parse.
    #[error(
        "malformed Authorization header: {0}; expected 'ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<64 hex digits>'"
    )]
    MalformedAuthorization(&'static str),
    /// A header that must be present (and signed) is not in the request, or a
    /// header named in SignedHeaders is not in the request.
    #[error("the request has no {0} header, which must be present and signed")]
    MissingHeader(String),
    /// A header is in the request but not in SignedHeaders: every `x-acs-*`
    /// header, `host` and `content-type` must be signed.
    #[error(
        "the header {0} is not in SignedHeaders; every x-acs-* header, host and content-type must be signed"
    )]
    UnsignedHeader(String),
    /// A header's value is unusable.
    #[error("the header {name} is invalid: {reason}")]
    InvalidHeader {
        /// The header.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The query string does not decode.
    #[error("invalid query string: {0}")]
    InvalidQuery(&'static str),
    /// The body's SHA-256 is not the signed `x-acs-content-sha256`.
    #[error("the body does not match x-acs-content-sha256: the body was changed or hashed wrongly")]
    BodyHashMismatch,
    /// `x-acs-date` is older than the window allows.
    #[error(
        "the request expired: x-acs-date {} is more than {window_seconds} s before the server time {}; check the client clock and sign again",
        format_date(*.date), format_date(*.now)
    )]
    Expired {
        /// The request's date.
        date: OffsetDateTime,
        /// The server's time.
        now: OffsetDateTime,
        /// The window, in seconds.
        window_seconds: i64,
    },
    /// `x-acs-date` is further in the future than the window allows.
    #[error(
        "the request is not yet valid: x-acs-date {} is more than {window_seconds} s after the server time {}; check the client clock",
        format_date(*.date), format_date(*.now)
    )]
    NotYetValid {
        /// The request's date.
        date: OffsetDateTime,
        /// The server's time.
        now: OffsetDateTime,
        /// The window, in seconds.
        window_seconds: i64,
    },
    /// The nonce was already used with this access key within the window.
    #[error(
        "the signature nonce was already used by access key id {access_key_id}: the request is a replay; sign each request with a fresh x-acs-signature-nonce"
    )]
    ReplayedNonce {
        /// The access key id of the request.
        access_key_id: String,
    },
    /// The replay cache is full of unexpired nonces; the request is refused
    /// rather than admitted unchecked.
    #[error("too many signed requests within the replay window; try again later")]
    ReplayCacheFull,
    /// The nonce ledger could not be read or written; the request is
    /// refused rather than admitted unchecked.
    #[error("the replay check is unavailable ({0}); try again later")]
    NonceLedgerUnavailable(String),
    /// The request was signed for another endpoint.
    #[error(
        "the request was signed for host '{signed}', which is not this endpoint ({}); sign requests for the address they are sent to",
        expected.join(", ")
    )]
    WrongHost {
        /// The signed `host` header (at most 100 characters of it).
        signed: String,
        /// The hosts this endpoint answers to.
        expected: Vec<String>,
    },
    /// No such access key id.
    #[error(transparent)]
    UnknownAccessKey(AuthError),
    /// The access key exists but cannot be used: inactive, expired STS
    /// credentials, or its owner is gone.
    #[error(transparent)]
    AccessKeyNotUsable(AuthError),
    /// The security token is missing, wrong, or sent with a long-lived key.
    #[error(transparent)]
    BadSecurityToken(AuthError),
    /// The signature does not match: the request was changed after signing,
    /// or signed with another secret.
    #[error(
        "the signature does not match the request: it was changed after signing, or signed with a secret that is not the access key's"
    )]
    SignatureMismatch,
    /// Looking the credential up failed for a reason other than the
    /// credential (the store or the sealer): the request is refused.
    #[error("the credential could not be looked up: {0}")]
    Internal(Box<Error>),
}

impl SignatureError {
    /// An error code in the style of the cloud's API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthorization => "MissingAuthorization",
            Self::MalformedAuthorization(_) => "IncompleteSignature",
            Self::MissingHeader(_) => "MissingHeader",
            Self::UnsignedHeader(_) => "IncompleteSignature",
            Self::InvalidHeader { .. } => "InvalidHeader",
            Self::InvalidQuery(_) => "InvalidParameter",
            Self::BodyHashMismatch => "ContentSHA256Mismatch",
            Self::Expired { .. } => "InvalidTimeStamp.Expired",
            Self::NotYetValid { .. } => "InvalidTimeStamp.Expired",
            Self::ReplayedNonce { .. } => "SignatureNonceUsed",
            Self::ReplayCacheFull => "Throttling",
            Self::NonceLedgerUnavailable(_) => "InternalError",
            Self::WrongHost { .. } => "InvalidHost",
            Self::UnknownAccessKey(_) => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyNotUsable(AuthError::Expired { .. }) => "InvalidSecurityToken.Expired",
            Self::AccessKeyNotUsable(_) => "InvalidAccessKeyId.Inactive",
            Self::BadSecurityToken(_) => "InvalidSecurityToken.MismatchWithAccessKey",
            Self::SignatureMismatch => "SignatureDoesNotMatch",
            Self::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status an API answers with: 400 for a malformed request, 401
    /// for a refused signature or credential, 503 when the replay cache is
    /// full, 500 when the lookup failed.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingAuthorization
            | Self::MalformedAuthorization(_)
            | Self::MissingHeader(_)
            | Self::UnsignedHeader(_)
            | Self::InvalidHeader { .. }
            | Self::InvalidQuery(_)
            | Self::BodyHashMismatch => 400,
            Self::ReplayCacheFull => 503,
            Self::Internal(_) | Self::NonceLedgerUnavailable(_) => 500,
            _ => 401,
        }
    }

    /// Whether the refusal is the server's fault (answer 500, and log it).
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Internal(_) | Self::NonceLedgerUnavailable(_))
    }

    /// Maps what a credential lookup returned.
    pub(crate) fn from_lookup(e: Error) -> Self {
        match e {
            Error::Authentication(a @ AuthError::UnknownAccessKey { .. }) => {
                Self::UnknownAccessKey(a)
            }
            Error::Authentication(a @ AuthError::BadSecurityToken { .. }) => {
                Self::BadSecurityToken(a)
            }
            Error::Authentication(a) => Self::AccessKeyNotUsable(a),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Why a request could not be signed: the caller's input, never the
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A part of the request breaks its rule.
    #[error("cannot sign the request: {what} {reason}")]
    InvalidInput {
        /// Which part.
        what: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A header the signer sets itself was given among the extra headers.
    #[error("cannot sign the request: the header {0} is set by the signer; do not pass it")]
    ReservedHeader(String),
    /// The nonce source failed.
    #[error("cannot sign the request: no signature nonce: {0}")]
    Nonce(String),
}
