//! The canonical request of `ACS3-HMAC-SHA256` and the steps around it.
//!
//! Rules, from the public documentation ("Request syntax and signature method
//! V3", Step 1 to Step 3), with the choices it leaves open:
//!
//! - **Percent encoding** (URI segments, query names and values): RFC 3986;
//!   `A-Z a-z 0-9 - _ . ~` stay, every other byte of the UTF-8 text becomes
//!   `%XY` with upper-case hex. So a space is `%20` (never `+`), `*` is `%2A`
//!   and `~` stays `~`.
//! - **CanonicalURI**: the path, each `/`-separated segment percent-decoded
//!   and encoded again, so a path given encoded (as an HTTP server receives
//!   it) and the same path given decoded sign alike; `%2F` inside a segment
//!   stays `%2F`. A `%` not followed by two hex digits is a literal `%`. An
//!   empty path is `/` (the RPC style's URI).
//! - **CanonicalQueryString**: the pairs sorted by name, then value (byte
//!   order of the decoded UTF-8), each `enc(name)=enc(value)` (a parameter
//!   without a value is `name=`), joined by `&`; empty when there is no
//!   query.
//! - **CanonicalHeaders**: for each signed header name (lower case, sorted),
//!   `name:value\n`, where the value is trimmed of spaces and tabs; a header
//!   sent more than once contributes all its values, trimmed, sorted and
//!   joined by `,` (what the Alibaba Cloud SDKs do). Values with control
//!   characters are refused: they could forge line breaks in the canonical
//!   request.
//! - **SignedHeaders**: the signed names joined by `;`.
//! - **HashedRequestPayload**: lower-case hex SHA-256 of the body (of the
//!   empty string when there is none), equal to `x-acs-content-sha256`.
//! - **StringToSign**: `ACS3-HMAC-SHA256\n` + lower-case hex SHA-256 of the
//!   canonical request; **Signature**: lower-case hex HMAC-SHA256 keyed by the
//!   AccessKey secret bytes.

use std::fmt;

use ring::digest::{SHA256, digest};
use ring::hmac;

use super::ALGORITHM;
use super::error::SignatureError;

/// Whether a header takes part in the signature whenever it is present: every
/// `x-acs-*` header, `host` and `content-type` (the set the documentation and
/// the SDKs sign). `name` must be lower case.
pub fn must_be_signed(name: &str) -> bool {
    name.starts_with("x-acs-") || name == "host" || name == "content-type"
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// RFC 3986 percent encoding of bytes: unreserved characters stay, every
/// other byte becomes `%XY` (upper-case hex).
pub fn percent_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XY` escapes (either case); a `%` without two hex digits after it
/// is kept as it is. `+` is not a space here (RFC 3986, not form encoding).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex_value),
                b.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push((hi << 4) | lo);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The CanonicalURI of a path (see the module documentation).
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(|segment| percent_encode(&percent_decode(segment)))
        .collect::<Vec<_>>()
        .join("/")
}

/// The CanonicalQueryString of decoded (name, value) pairs. It is also the
/// query string a client should send, so that the server decodes exactly
/// these pairs.
pub fn canonical_query_string(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes())));
    sorted
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                percent_encode(name.as_bytes()),
                percent_encode(value.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Splits a raw query string (what follows `?`, as received) into decoded
/// pairs: `&`-separated, empty parts skipped, a part without `=` has an empty
/// value, `%XY` decoded, `+` kept as `+`. Refused when a decoded name or value
/// is not UTF-8.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, SignatureError> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                String::from_utf8(percent_decode(s)).map_err(|_| {
                    SignatureError::InvalidQuery("a decoded parameter is not UTF-8 text")
                })
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Why canonical headers could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// A signed header is not in the request.
    Missing(String),
    /// A signed header's value holds a control character.
    ControlCharacter(String),
}

impl From<HeaderProblem> for SignatureError {
    fn from(p: HeaderProblem) -> Self {
        match p {
            HeaderProblem::Missing(name) => Self::MissingHeader(name),
            HeaderProblem::ControlCharacter(name) => Self::InvalidHeader {
                name,
                reason: "its value holds a control character",
            },
        }
    }
}

fn trim_ows(v: &str) -> &str {
    v.trim_matches(|c| c == ' ' || c == '\t')
}

/// The CanonicalHeaders for `signed` (lower-case names, sorted, no
/// duplicates), taking values from `headers` (names in any case).
pub fn canonical_headers(
    headers: &[(String, String)],
    signed: &[&str],
) -> Result<String, HeaderProblem> {
    let mut out = String::new();
    for &name in signed {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_ows(v))
            .collect();
        if values.is_empty() {
            return Err(HeaderProblem::Missing(name.to_owned()));
        }
        if values.iter().any(|v| v.chars().any(char::is_control)) {
            return Err(HeaderProblem::ControlCharacter(name.to_owned()));
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

/// A canonical request. It can hold a security token (a signed header), so
/// its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalRequest(String);

impl CanonicalRequest {
    /// Joins the six parts with `\n` (Step 1 of the documentation).
    pub fn from_parts(
        method: &str,
        canonical_uri: &str,
        canonical_query: &str,
        canonical_headers: &str,
        signed_headers: &str,
        hashed_payload: &str,
    ) -> Self {
        Self(format!(
            "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}"
        ))
    }

    /// Takes a canonical request built elsewhere (for known-answer tests of
    /// other implementations' conventions).
    pub fn from_string(s: String) -> Self {
        Self(s)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request (Step 2).
    pub fn string_to_sign(&self) -> String {
        format!("{ALGORITHM}\n{}", sha256_hex(self.0.as_bytes()))
    }

    /// The signature under `secret` (Step 3).
    pub fn signature(&self, secret: &[u8]) -> [u8; 32] {
        signature(secret, &self.string_to_sign())
    }
}

impl fmt::Debug for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalRequest({} bytes, not shown)", self.0.len())
    }
}

/// HMAC-SHA256 of the string to sign, keyed by the secret bytes.
pub fn signature(secret: &[u8], string_to_sign: &str) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, string_to_sign.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn percent_encoding_follows_rfc_3986() {
        assert_eq!(percent_encode(b"AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode(b" ~/*-+"), "%20~%2F%2A-%2B");
        assert_eq!(percent_encode("é\"".as_bytes()), "%C3%A9%22");
        assert_eq!(percent_encode(&[0, 0xff]), "%00%FF");
        // The Alibaba Cloud SDKs' own unit vectors (getEncodeParam, and the
        // Python SDK's get_canonical_query_string).
        assert_eq!(percent_encode(b"a/b/c/ test"), "a%2Fb%2Fc%2F%20test");
        assert_eq!(
            canonical_query_string(&pairs(&[("test", " ~/*-+")])),
            "test=%20~%2F%2A-%2B"
        );
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%20b%2fc"), b"a b/c");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%"), b"%");
        assert_eq!(percent_decode("a+b"), b"a+b");
    }

    #[test]
    fn canonical_uri_encodes_segments_either_way() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/path/ test"), "/path/%20test");
        assert_eq!(canonical_uri("/path/%20test"), "/path/%20test");
        assert_eq!(canonical_uri("/a%2Fb/c"), "/a%2Fb/c");
        assert_eq!(canonical_uri("/keys/%2a"), "/keys/%2A");
        assert_eq!(canonical_uri("/100%"), "/100%25");
        assert_eq!(
            canonical_uri("/clusters/c1/resources"),
            "/clusters/c1/resources"
        );
    }

    #[test]
    fn query_strings_sort_and_encode() {
        assert_eq!(canonical_query_string(&[]), "");
        assert_eq!(
            canonical_query_string(&pairs(&[
                ("RegionId", "cn-shanghai"),
                (
                    "ImageId",
                    "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"
                ),
            ])),
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        assert_eq!(
            canonical_query_string(&pairs(&[("b", "2"), ("a", ""), ("b", "1"), ("a b", "x y")])),
            "a=&a%20b=x%20y&b=1&b=2"
        );
    }

    #[test]
    fn parse_query_inverts_the_canonical_string() {
        let p = pairs(&[("a b", "x+y&z"), ("empty", ""), ("ü", "~*")]);
        let raw = canonical_query_string(&p);
        let mut back = parse_query(&raw).unwrap();
        back.sort();
        let mut want = p.clone();
        want.sort();
        assert_eq!(back, want);
        assert_eq!(parse_query("").unwrap(), vec![]);
        assert_eq!(
            parse_query("a&&b=1=2").unwrap(),
            pairs(&[("a", ""), ("b", "1=2")])
        );
        assert_eq!(parse_query("a=1+2").unwrap(), pairs(&[("a", "1+2")]));
        assert!(matches!(
            parse_query("a=%ff"),
            Err(SignatureError::InvalidQuery(_))
        ));
    }

    #[test]
    fn canonical_headers_merge_trim_and_refuse_control_characters() {
        let h = pairs(&[
            ("Host", " example.com\t"),
            ("X-Acs-Test", "https"),
            ("x-acs-test", "http"),
            ("user-agent", "ignored"),
        ]);
        assert_eq!(
            canonical_headers(&h, &["host", "x-acs-test"]).unwrap(),
            "host:example.com\nx-acs-test:http,https\n"
        );
        assert_eq!(
            canonical_headers(&h, &["x-acs-date"]),
            Err(HeaderProblem::Missing("x-acs-date".into()))
        );
        let bad = pairs(&[("x-acs-action", "Decrypt\nx-acs-version:1")]);
        assert_eq!(
            canonical_headers(&bad, &["x-acs-action"]),
            Err(HeaderProblem::ControlCharacter("x-acs-action".into()))
        );
    }

    #[test]
    fn signable_headers() {
        for n in ["host", "content-type", "x-acs-action", "x-acs-anything"] {
            assert!(must_be_signed(n), "{n}");
        }
        for n in ["authorization", "user-agent", "accept", "x-acsfoo"] {
            assert!(!must_be_signed(n), "{n}");
        }
    }

    #[test]
    fn canonical_request_debug_hides_its_text() {
        let cr = CanonicalRequest::from_parts(
            "GET",
            "/",
            "",
            "x-acs-security-token:TOKEN\n",
            "x-acs-security-token",
            "",
        );
        assert!(!format!("{cr:?}").contains("TOKEN"));
    }
}
