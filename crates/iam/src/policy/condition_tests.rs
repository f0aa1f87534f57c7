use super::*;
use crate::policy::context::{CURRENT_TIME, SOURCE_IP};

fn cond(json: &str) -> Vec<Condition> {
    parse_block(&serde_json::from_str(json).unwrap(), "Condition").unwrap()
}

fn holds(json: &str, ctx: &RequestContext) -> bool {
    cond(json).iter().all(|c| c.holds(ctx))
}

#[test]
fn string_operators() {
    let ctx = RequestContext::new().with("acs:UserAgent", "Sealhouse/1.0");
    assert!(holds(
        r#"{"StringEquals":{"acs:UserAgent":"Sealhouse/1.0"}}"#,
        &ctx
    ));
    assert!(!holds(
        r#"{"StringEquals":{"acs:UserAgent":"sealhouse/1.0"}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"acs:useragent":"SEALHOUSE/1.0"}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"StringNotEquals":{"acs:UserAgent":["a","b"]}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"StringLike":{"acs:UserAgent":["x*","Seal*/?.0"]}}"#,
        &ctx
    ));
    assert!(!holds(
        r#"{"StringNotLike":{"acs:UserAgent":"Seal*"}}"#,
        &ctx
    ));
    assert!(!holds(
        r#"{"StringNotEqualsIgnoreCase":{"acs:UserAgent":"sealhouse/1.0"}}"#,
        &ctx
    ));
}

#[test]
fn missing_keys() {
    let empty = RequestContext::new();
    assert!(!holds(r#"{"StringEquals":{"k":"v"}}"#, &empty));
    assert!(!holds(
        r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        &empty
    ));
    assert!(!holds(r#"{"Bool":{"k":true}}"#, &empty));
    assert!(holds(
        r#"{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        &empty
    ));
    assert!(holds(r#"{"StringNotEquals":{"k":"v"}}"#, &empty));
    assert!(holds(r#"{"StringEqualsIfExists":{"k":"v"}}"#, &empty));
    let present = RequestContext::new().with("k", "w");
    assert!(!holds(r#"{"StringEqualsIfExists":{"k":"v"}}"#, &present));
}

#[test]
fn ip_numeric_date_bool() {
    let ctx = RequestContext::new()
        .with(SOURCE_IP, "2001:db8::7")
        .with("n", "10")
        .with(CURRENT_TIME, "2026-03-01T00:00:00Z")
        .with("acs:SecureTransport", "TRUE");
    assert!(holds(
        r#"{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"NumericLessThan":{"n":11},"NumericGreaterThanEquals":{"n":"10"}}"#,
        &ctx
    ));
    assert!(!holds(r#"{"NumericGreaterThan":{"n":10}}"#, &ctx));
    assert!(holds(
        r#"{"NumericEquals":{"n":10.0},"NumericNotEquals":{"n":9}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"DateLessThan":{"acs:CurrentTime":"2026-03-01T08:00:01+08:00"}}"#,
        &ctx
    ));
    assert!(!holds(
        r#"{"DateGreaterThan":{"acs:CurrentTime":"2026-03-01T00:00:00Z"}}"#,
        &ctx
    ));
    assert!(holds(
        r#"{"DateGreaterThanEquals":{"acs:CurrentTime":"2026-03-01T00:00:00Z"}}"#,
        &ctx
    ));
    assert!(holds(r#"{"Bool":{"acs:SecureTransport":"true"}}"#, &ctx));
    let junk = RequestContext::new()
        .with("n", "ten")
        .with(SOURCE_IP, "nope");
    assert!(!holds(r#"{"NumericLessThan":{"n":11}}"#, &junk));
    assert!(!holds(
        r#"{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}"#,
        &junk
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"acs:SourceIp":"0.0.0.0/0"}}"#,
        &junk
    ));
}

#[test]
fn bad_blocks_say_what_and_where() {
    let cases = [
        (
            r#"{"StringEqual":{"k":"v"}}"#,
            "unknown condition operator 'StringEqual'",
        ),
        (
            r#"{"stringequals":{"k":"v"}}"#,
            "did you mean StringEquals?",
        ),
        (
            r#"{"StringEquals":{"k":[]}}"#,
            "Condition.StringEquals.k: the list of values is empty",
        ),
        (
            r#"{"StringEquals":{"k":null}}"#,
            "string, number or boolean",
        ),
        (r#"{"StringEquals":{}}"#, "names no condition key"),
        (r#"{"StringEquals":"v"}"#, "an operator takes an object"),
        (
            r#"{"NumericLessThan":{"k":"x"}}"#,
            "'x' is not a finite number",
        ),
        (r#"{"DateLessThan":{"k":"yesterday"}}"#, "RFC 3339"),
        (r#"{"Bool":{"k":"yes"}}"#, "true or false"),
        (r#"{"IpAddress":{"k":"10.0.0.0/40"}}"#, "0 to 32"),
        (r#"[]"#, "Condition must be an object"),
    ];
    for (json, needle) in cases {
        let err = parse_block(&serde_json::from_str(json).unwrap(), "Condition")
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
}
