//! The Authorization header:
//! `ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex>`.
//!
//! Parsing is strict, because the header is attacker-controlled input and
//! one spelling is all the SDKs produce: one space after the algorithm, the
//! three fields once each (in any order) separated by `,` without spaces,
//! SignedHeaders lower-case header names sorted without duplicates,
//! Signature exactly 64 lower-case hex digits. Leading and trailing spaces of
//! the whole value are ignored (HTTP strips them).

use std::fmt;

use super::ALGORITHM;
use super::error::SignatureError;

/// Longest Authorization header accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 8192;
/// Most names SignedHeaders may list.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Longest access key id accepted, in bytes.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;

/// A parsed Authorization header.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    access_key_id: String,
    signed_headers: Vec<String>,
    signature: [u8; 32],
}

fn malformed(why: &'static str) -> SignatureError {
    SignatureError::MalformedAuthorization(why)
}

/// RFC 9110 token characters (`tchar`), any case.
pub(super) fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 9110 token characters, lower case only.
fn lower_token_char(b: u8) -> bool {
    token_char(b) && !b.is_ascii_uppercase()
}

fn valid_access_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ACCESS_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b',' | b';' | b'='))
}

impl AuthorizationHeader {
    /// Builds a header from its parts. `signed_headers` must be lower case,
    /// sorted and without duplicates (what [`AuthorizationHeader::parse`]
    /// accepts).
    pub fn new(access_key_id: String, signed_headers: Vec<String>, signature: [u8; 32]) -> Self {
        Self {
            access_key_id,
            signed_headers,
            signature,
        }
    }

    /// Parses a header value (see the module documentation for the rules).
    pub fn parse(value: &str) -> Result<Self, SignatureError> {
        if value.len() > MAX_AUTHORIZATION_LEN {
            return Err(malformed("it is longer than 8192 bytes"));
        }
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        let (algorithm, fields) = value
            .split_once(' ')
            .ok_or(malformed("it has no space after the algorithm"))?;
        if algorithm != ALGORITHM {
            return Err(malformed("the algorithm is not ACS3-HMAC-SHA256"));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for field in fields.split(',') {
            let (name, v) = field
                .split_once('=')
                .ok_or(malformed("a field is not of the form Name=value"))?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => {
                    return Err(malformed(
                        "a field is not Credential, SignedHeaders or Signature",
                    ));
                }
            };
            if slot.replace(v).is_some() {
                return Err(malformed("a field appears twice"));
            }
        }
        let credential = credential.ok_or(malformed("Credential is missing"))?;
        let signed = signed.ok_or(malformed("SignedHeaders is missing"))?;
        let signature = signature.ok_or(malformed("Signature is missing"))?;

        if !valid_access_key_id(credential) {
            return Err(malformed(
                "Credential is not an access key id (1 to 128 printable characters)",
            ));
        }
        if signed.is_empty() {
            return Err(malformed("SignedHeaders is empty"));
        }
        let names: Vec<&str> = signed.split(';').collect();
        if names.len() > MAX_SIGNED_HEADERS {
            return Err(malformed("SignedHeaders lists more than 64 headers"));
        }
        if names
            .iter()
            .any(|n| n.is_empty() || !n.bytes().all(lower_token_char))
        {
            return Err(malformed(
                "SignedHeaders must be lower-case header names separated by ';'",
            ));
        }
        if names.windows(2).any(|w| w[0] >= w[1]) {
            return Err(malformed(
                "SignedHeaders must be sorted and without duplicates",
            ));
        }
        if signature.len() != 64
            || !signature
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(malformed("Signature is not 64 lower-case hex digits"));
        }
        let mut sig = [0u8; 32];
        hex::decode_to_slice(signature, &mut sig)
            .map_err(|_| malformed("Signature is not 64 lower-case hex digits"))?;
        Ok(Self {
            access_key_id: credential.to_owned(),
            signed_headers: names.into_iter().map(str::to_owned).collect(),
            signature: sig,
        })
    }

    /// The access key id (`Credential`).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The signed header names, lower case and sorted.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8; 32] {
        &self.signature
    }
}

impl fmt::Display for AuthorizationHeader {
    /// The header value, as the SDKs write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM} Credential={},SignedHeaders={},Signature={}",
            self.access_key_id,
            self.signed_headers.join(";"),
            hex::encode(self.signature)
        )
    }
}

impl fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationHeader")
            .field("access_key_id", &self.access_key_id)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"(32 bytes, not shown)")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0";

    fn doc_header() -> String {
        format!(
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={SIG}"
        )
    }

    #[test]
    fn parses_and_prints_the_documented_header() {
        let h = AuthorizationHeader::parse(&doc_header()).unwrap();
        assert_eq!(h.access_key_id(), "YourAccessKeyId");
        assert_eq!(
            h.signed_headers(),
            [
                "host",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-version"
            ]
        );
        assert_eq!(hex::encode(h.signature()), SIG);
        assert_eq!(h.to_string(), doc_header());
        assert_eq!(
            AuthorizationHeader::parse(&format!("  {}\t", doc_header())).unwrap(),
            h
        );
        let reordered =
            format!("ACS3-HMAC-SHA256 Signature={SIG},Credential=STS.abc,SignedHeaders=host");
        let r = AuthorizationHeader::parse(&reordered).unwrap();
        assert_eq!(r.access_key_id(), "STS.abc");
        assert_eq!(r.signed_headers(), ["host"]);
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "no space"),
            ("ACS3-HMAC-SHA256".into(), "no space"),
            (doc_header().replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"), "algorithm"),
            (doc_header().replace("ACS3-HMAC-SHA256 ", "acs3-hmac-sha256 "), "algorithm"),
            (doc_header().replace(",Signed", ", Signed"), "not Credential"),
            (doc_header().replace("Credential=YourAccessKeyId,", ""), "Credential is missing"),
            (doc_header().replace("SignedHeaders=", "Signed="), "not Credential"),
            (doc_header().replace(&format!(",Signature={SIG}"), ""), "Signature is missing"),
            (format!("{},Signature={SIG}", doc_header()), "twice"),
            (format!("{},", doc_header()), "Name=value"),
            (doc_header().replace("YourAccessKeyId", ""), "access key id"),
            (doc_header().replace("YourAccessKeyId", "a b"), "access key id"),
            (doc_header().replace("YourAccessKeyId", &"k".repeat(129)), "access key id"),
            (doc_header().replace("host;x-acs-action", "x-acs-action;host"), "sorted"),
            (doc_header().replace("host;", "host;host;"), "sorted"),
            (doc_header().replace("host;", "Host;"), "lower-case"),
            (doc_header().replace("host;", ";"), "lower-case"),
            (
                doc_header().replace(
                    "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
                    "SignedHeaders=",
                ),
                "empty",
            ),
            (doc_header().replace(SIG, &SIG.to_uppercase()), "64 lower-case"),
            (doc_header().replace(SIG, &SIG[..63]), "64 lower-case"),
            (doc_header().replace(SIG, &format!("{SIG}0")), "64 lower-case"),
            (doc_header().replace(SIG, &SIG.replace('a', "g")), "64 lower-case"),
            (format!("{} ", doc_header()) + &"x".repeat(9000), "longer"),
        ];
        for (value, reason) in cases {
            match AuthorizationHeader::parse(&value) {
                Err(SignatureError::MalformedAuthorization(why)) => {
                    assert!(why.contains(reason), "{value:?}: {why}");
                }
                other => panic!("{value:?} gave {other:?}"),
            }
        }
        let many: Vec<String> = (0..65).map(|i| format!("x-acs-h{i:03}")).collect();
        let value = format!(
            "ACS3-HMAC-SHA256 Credential=k,SignedHeaders={},Signature={SIG}",
            many.join(";")
        );
        assert_eq!(
            AuthorizationHeader::parse(&value),
            Err(malformed("SignedHeaders lists more than 64 headers"))
        );
    }

    #[test]
    fn debug_does_not_show_the_signature() {
        let h = AuthorizationHeader::parse(&doc_header()).unwrap();
        assert!(!format!("{h:?}").contains(SIG));
    }
}
