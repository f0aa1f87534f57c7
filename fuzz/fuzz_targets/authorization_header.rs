#![no_main]
//! Request-signing parsers of `sealhouse-iam`: the Authorization header, and
//! the canonical forms built from attacker-controlled parts (path, query
//! string, `x-acs-date`). None may panic; whatever parses prints back to
//! something that parses to the same value.

use libfuzzer_sys::fuzz_target;
use sealhouse_iam::signing::{AuthorizationHeader, canonical, format_date, parse_date};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(header) = AuthorizationHeader::parse(text) {
        let printed = header.to_string();
        let again = AuthorizationHeader::parse(&printed).expect("a printed header parses");
        assert!(again == header, "parse(print(h)) != h");
        let names = header.signed_headers();
        assert!(!names.is_empty());
        assert!(names.windows(2).all(|w| w[0] < w[1]), "SignedHeaders not sorted");
        assert!(names.iter().all(|n| !n.is_empty() && !n.bytes().any(|b| b.is_ascii_uppercase())));
        assert!(!header.access_key_id().is_empty());
    }

    let uri = canonical::canonical_uri(text);
    assert!(uri.starts_with('/') || !text.starts_with('/'));
    assert!(canonical::canonical_uri(&uri) == uri, "canonical URI not idempotent");

    if let Ok(mut pairs) = canonical::parse_query(text) {
        let query = canonical::canonical_query_string(&pairs);
        let mut back = canonical::parse_query(&query).expect("a canonical query string parses");
        pairs.sort();
        back.sort();
        assert!(back == pairs, "query pairs changed through the canonical string");
        assert!(canonical::canonical_query_string(&back) == query);
    }

    if let Some(t) = parse_date(text) {
        assert!(format_date(t) == text, "date does not print back the same");
    }
});
