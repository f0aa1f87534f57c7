//! The wire format, in the cloud's RPC style.
//!
//! A request is `POST /` with the operation in the `x-acs-action` header, the
//! API version ([`API_VERSION`]) in `x-acs-version`, and the parameters as a
//! JSON object in the body, under the API's PascalCase names (`KeyId`,
//! `Plaintext`, `CiphertextBlob`, `EncryptionContext`, ...). Bytes are
//! standard base64 with padding; times RFC 3339 in UTC
//! (`2024-05-20T06:34:21Z`); an encryption context is a JSON object of
//! strings (or a string holding one, as the cloud's SDKs send it).
//!
//! A response is a JSON object with `RequestId` and the operation's fields;
//! an error is [`ErrorBody`] (`Code`, `Message`, `RequestId`) with the HTTP
//! status of its code. `docs/kms.md` ("HTTP API") shows each by example.

mod json;

use std::fmt;

use sealhouse_kms::{ErrorCode, KmsError};
use serde::{Deserialize, Serialize};

pub(crate) use json::{from_body, from_value, to_value};

/// The API version this server speaks (`x-acs-version`): the cloud KMS's.
pub const API_VERSION: &str = "2016-01-20";

/// The `Action` enum from the list of operations in `sealhouse-kms`.
macro_rules! actions {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        /// An operation of the API, as named in `x-acs-action`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $( $(#[$data_doc])* $data_action, )*
            $( $(#[$admin_doc])* $admin_action, )*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Self] = &[$(Self::$data_action,)* $(Self::$admin_action,)*];

            /// The action's name, such as `Decrypt`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$data_action => stringify!($data_action),)*
                    $(Self::$admin_action => stringify!($admin_action),)*
                }
            }
        }
    };
}

sealhouse_kms::kms_operations!(actions);

impl Action {
    /// The action named `name` (case matters, as in the cloud).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// The error code: a KMS code such as `Rejected.Disabled`
    /// ([`ErrorCode`]), a signature code such as `SignatureDoesNotMatch`, or
    /// a transport code (`InvalidAction.NotFound`, `RequestTooLarge`, ...).
    pub code: String,
    /// What went wrong and what to do; never a secret or a plaintext.
    pub message: String,
    /// The request id (the audit log's, when the KMS handled the call).
    pub request_id: String,
}

impl ErrorBody {
    /// The [`KmsError`] a client reports for this body answered with
    /// `status`: the KMS code when it is one, otherwise the closest
    /// ([`ErrorCode::InvalidParameter`] for 4xx other than 401/403,
    /// [`ErrorCode::NoPermission`] for 401 and 403,
    /// [`ErrorCode::InternalFailure`] otherwise) with the server's code
    /// kept at the start of the message.
    pub fn into_kms_error(self, status: u16) -> KmsError {
        let error = match ErrorCode::from_code(&self.code) {
            Some(code) => KmsError::new(code, self.message),
            None => {
                let code = match status {
                    401 | 403 => ErrorCode::NoPermission,
                    400..=499 => ErrorCode::InvalidParameter,
                    _ => ErrorCode::InternalFailure,
                };
                KmsError::new(code, format!("{}: {}", self.code, self.message))
            }
        };
        if self.request_id.is_empty() {
            error
        } else {
            error.with_request_id(self.request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_their_names_only() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::ALL.len(), 22);
        assert_eq!(Action::parse("decrypt"), None);
    }

    #[test]
    fn error_bodies_map_back_to_kms_errors() {
        let body = |code: &str| ErrorBody {
            code: code.to_owned(),
            message: "m".to_owned(),
            request_id: "r".to_owned(),
        };
        let e = body("Rejected.Disabled").into_kms_error(409);
        assert_eq!(e.code(), ErrorCode::Disabled);
        assert_eq!((e.message(), e.request_id()), ("m", Some("r")));
        let e = body("SignatureDoesNotMatch").into_kms_error(401);
        assert_eq!(e.code(), ErrorCode::NoPermission);
        assert_eq!(e.message(), "SignatureDoesNotMatch: m");
        assert_eq!(
            body("RequestTooLarge").into_kms_error(413).code(),
            ErrorCode::InvalidParameter
        );
        assert_eq!(
            body("Throttling").into_kms_error(503).code(),
            ErrorCode::InternalFailure
        );
        let json = serde_json::to_value(body("X")).unwrap();
        assert_eq!(json["Code"], "X");
        assert_eq!(json["RequestId"], "r");
    }
}
