//! Request signing and verification: Alibaba Cloud's V3 signature,
//! `ACS3-HMAC-SHA256`, as the KMS HTTP API speaks it.
//!
//! The scheme (public documentation: "Request syntax and signature method V3",
//! <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>):
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//!                    CanonicalHeaders \n SignedHeaders \n HashedRequestPayload
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA-256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//! Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex>
//! ```
//!
//! - [`canonical`]: the canonical request and the primitives (percent
//!   encoding, canonical URI, query string and headers, string to sign,
//!   signature), pure functions.
//! - [`Signer`]: the client side. It adds `host`, `x-acs-action`,
//!   `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`,
//!   `x-acs-content-sha256`, `x-acs-security-token` (STS credentials) and
//!   `Authorization` to a request, with an injectable clock and nonce source.
//! - [`Verifier`]: the server side. It parses the Authorization header,
//!   checks which headers are signed, the body hash, the date window and the
//!   signature (constant time), looks the secret up through a
//!   [`CredentialLookup`] (such as [`crate::Iam`]), checks an STS security
//!   token, and refuses a nonce it has seen within the window ([`ReplayCache`]).
//!
//! Nothing here knows an HTTP library: a request is a method, a path, decoded
//! query pairs, headers as (name, value) pairs and the body bytes
//! ([`RequestParts`]), so an axum server and a blocking client share it.
//!
//! `docs/iam.md` ("Request signing") records the decisions.

pub mod canonical;
mod error;
mod header;
mod replay;
mod signer;
mod verifier;

#[cfg(test)]
mod kat_tests;
#[cfg(test)]
mod verifier_tests;

pub use error::{SignError, SignatureError};
pub use header::{
    AuthorizationHeader, MAX_ACCESS_KEY_ID_LEN, MAX_AUTHORIZATION_LEN, MAX_SIGNED_HEADERS,
};
pub use replay::{DEFAULT_REPLAY_CAPACITY, NonceDigest, NonceLedger, Refusal, ReplayCache};
pub use signer::{Credentials, NonceSource, RandomNonce, RequestToSign, SignedRequest, Signer};
pub use verifier::{CredentialLookup, DEFAULT_WINDOW, LookupFn, Verified, Verifier};

use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// The signature algorithm, the first word of the Authorization header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Header names (lower case, as they appear in `SignedHeaders`).
pub mod headers {
    /// The request's endpoint.
    pub const HOST: &str = "host";
    /// The API operation, such as `Decrypt`.
    pub const ACTION: &str = "x-acs-action";
    /// The API version, such as `2016-01-20`.
    pub const VERSION: &str = "x-acs-version";
    /// The request time, ISO 8601 in UTC: `2023-10-26T10:22:32Z`.
    pub const DATE: &str = "x-acs-date";
    /// A value unique to the request, against replay.
    pub const NONCE: &str = "x-acs-signature-nonce";
    /// Lower-case hex SHA-256 of the body.
    pub const CONTENT_SHA256: &str = "x-acs-content-sha256";
    /// The STS security token, for temporary credentials.
    pub const SECURITY_TOKEN: &str = "x-acs-security-token";
    /// The body's media type; signed when present.
    pub const CONTENT_TYPE: &str = "content-type";
    /// The signature itself.
    pub const AUTHORIZATION: &str = "authorization";
}

/// The longest signature nonce accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 128;

/// A request as the signature sees it, independent of any HTTP library.
///
/// - `method`: as sent, upper case (`POST`); it is not case-folded.
/// - `path`: the resource path, percent-encoded as on the wire or not: each
///   segment is percent-decoded and encoded again ([`canonical::canonical_uri`]),
///   so both forms sign the same. An empty path is `/`.
/// - `query`: the decoded (name, value) pairs, in any order;
///   [`canonical::parse_query`] makes them from a raw query string.
/// - `headers`: every header received (or to send), names in any case.
/// - `body`: the body bytes.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The resource path.
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Header names and values.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for RequestParts<'_> {
    // Header values can hold a security token; show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field(
                "header_names",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Formats a time as `x-acs-date` wants it: `yyyy-MM-ddTHH:mm:ssZ`, UTC,
/// whole seconds.
pub fn format_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an `x-acs-date` value: exactly `yyyy-MM-ddTHH:mm:ssZ` (UTC, no
/// fractions, no offsets), as the documentation specifies.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 20 {
        return None;
    }
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
    };
    let year = i32::try_from(num(0..4)).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)).ok()?).ok()?;
    let day = u8::try_from(num(8..10)).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(
        u8::try_from(num(11..13)).ok()?,
        u8::try_from(num(14..16)).ok()?,
        u8::try_from(num(17..19)).ok()?,
    )
    .ok()?;
    Some(date.with_time(time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_and_parse_strictly() {
        let t = parse_date("2023-10-26T10:22:32Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_698_315_752);
        assert_eq!(format_date(t), "2023-10-26T10:22:32Z");
        let with_nanos = t + time::Duration::nanoseconds(999_999_999);
        assert_eq!(format_date(with_nanos), "2023-10-26T10:22:32Z");
        let offset = t.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(format_date(offset), "2023-10-26T10:22:32Z");
        for bad in [
            "",
            "2023-10-26T10:22:32",
            "2023-10-26T10:22:32+00:00",
            "2023-10-26T10:22:32.5Z",
            "2023-10-26 10:22:32Z",
            "2023-13-26T10:22:32Z",
            "2023-02-30T10:22:32Z",
            "2023-10-26T24:00:00Z",
            "2023-10-26T10:60:00Z",
            "2023-10-26t10:22:32z",
            "+023-10-26T10:22:32Z",
            "２023-10-26T10:22:32Z",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn request_parts_debug_shows_no_header_values() {
        let headers = vec![("x-acs-security-token".to_owned(), "tok-SECRET".to_owned())];
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"secret body",
        };
        let shown = format!("{parts:?}");
        assert!(!shown.contains("tok-SECRET") && !shown.contains("secret body"));
        assert!(shown.contains("x-acs-security-token"));
    }
}
