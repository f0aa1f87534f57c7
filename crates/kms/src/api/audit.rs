//! ListAuditEvents: the audit log, filtered. Not an operation of the cloud's
//! KMS (which leaves this to its trail service); named in its style.

use serde::{Deserialize, Serialize};
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

impl Serialize for AuditOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::json_form::parsed(
            d,
            |s| {
                Ok::<_, ()>(match s {
                    "ok" => Self::Ok,
                    code => Self::Error(code.to_owned()),
                })
            },
            String::new,
        )
    }
}

impl OutcomeFilter {
    /// `ok`, `error`, or the error code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::AnyError => "error",
            Self::Code(code) => code.as_str(),
        }
    }

    /// Parses what [`Self::as_str`] prints.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(Self::Ok),
            "error" => Some(Self::AnyError),
            code => ErrorCode::from_code(code).map(Self::Code),
        }
    }
}

impl Serialize for OutcomeFilter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OutcomeFilter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::json_form::parsed(
            d,
            |s| Self::parse(s).ok_or(()),
            || "must be ok, error, or an error code such as Forbidden.NoPermission".to_owned(),
        )
    }
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditEvent {
    /// Position in the log, increasing.
    #[serde(deserialize_with = "super::json_form::i64")]
    pub sequence: i64,
    /// When the call was made.
    #[serde(with = "super::json_form::rfc3339")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListAuditEventsRequest {
    /// Events at or after this time.
    #[serde(with = "super::json_form::opt_rfc3339")]
    pub start_time: Option<OffsetDateTime>,
    /// Events before this time.
    #[serde(with = "super::json_form::opt_rfc3339")]
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
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`, 1 to 1000.
    #[serde(deserialize_with = "super::json_form::u32")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAuditEventsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// The events of this page.
    #[serde(default, with = "super::json_form::events")]
    pub events: Vec<AuditEvent>,
    /// `TotalCount`: matching events on all pages.
    #[serde(deserialize_with = "super::json_form::u64")]
    pub total_count: u64,
    /// `PageNumber`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}
