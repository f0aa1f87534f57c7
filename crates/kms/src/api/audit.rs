//! ListAuditEvents: the audit log, filtered. Not an operation of the cloud's
//! KMS (which leaves this to its trail service); named in its style.

use time::OffsetDateTime;

use crate::error::ErrorCode;

/// How a call ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It succeeded.
    Ok,
    /// It failed with this error code (`Forbidden.NoPermission`, ...).
    Error(String),
}

impl AuditOutcome {
    /// `ok` or the error code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::Error(code) => code,
        }
    }
}

/// Which outcomes ListAuditEvents returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// Successful calls.
    Ok,
    /// Failed calls, whatever the code.
    AnyError,
    /// Calls that failed with this code.
    Code(ErrorCode),
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the log, increasing.
    pub sequence: i64,
    /// When the call was made.
    pub time: OffsetDateTime,
    /// `RequestId` of the call.
    pub request_id: String,
    /// The caller's ARN (`service <name>` for a service; `kms` for the
    /// service's own maintenance: deletion after the window, automatic
    /// rotation, material expiry).
    pub principal: String,
    /// The operation, such as `Decrypt`.
    pub action: String,
    /// The key's ARN, when the call named or found one.
    pub key_arn: Option<String>,
    /// The second key of ReEncrypt (the destination).
    pub other_key_arn: Option<String>,
    /// How the call ended.
    pub outcome: AuditOutcome,
    /// `acs:SourceIp` of the request, when the HTTP layer set it.
    pub source_ip: Option<String>,
}

/// ListAuditEvents: events of the caller's account (calls made by its
/// principals, and calls on its keys by anyone), oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAuditEventsRequest {
    /// Events at or after this time.
    pub start_time: Option<OffsetDateTime>,
    /// Events before this time.
    pub end_time: Option<OffsetDateTime>,
    /// Only calls by this principal ARN.
    pub principal: Option<String>,
    /// Only calls on this key: a key id or key ARN.
    pub key_id: Option<String>,
    /// Only this operation (`Decrypt` or `kms:Decrypt`).
    pub action: Option<String>,
    /// Only these outcomes.
    pub outcome: Option<OutcomeFilter>,
    /// `PageNumber`, from 1.
    pub page_number: u32,
    /// `PageSize`, 1 to 1000.
    pub page_size: u32,
}

impl Default for ListAuditEventsRequest {
    fn default() -> Self {
        Self {
            start_time: None,
            end_time: None,
            principal: None,
            key_id: None,
            action: None,
            outcome: None,
            page_number: 1,
            page_size: 100,
        }
    }
}

/// ListAuditEvents' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAuditEventsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// The events of this page.
    pub events: Vec<AuditEvent>,
    /// `TotalCount`: matching events on all pages.
    pub total_count: u64,
    /// `PageNumber`.
    pub page_number: u32,
    /// `PageSize`.
    pub page_size: u32,
}
