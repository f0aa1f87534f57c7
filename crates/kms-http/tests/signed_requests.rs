//! Raw HTTP against the server: tampered, expired, replayed, wrongly signed
//! and unsigned requests are refused with the right status and code, error
//! bodies never carry a secret or a plaintext, and `/health` needs no
//! signature.

#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::Served;
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::ManualClock;
use sealhouse_iam::signing::{Credentials, RequestToSign, SignedRequest, Signer};
use sealhouse_kms::Kms;
use sealhouse_kms::api::CreateKeyRequest;
use sealhouse_kms_http::MAX_BODY_BYTES;
use sealhouse_kms_http::wire::API_VERSION;
use serde_json::Value;
use time::OffsetDateTime;

const PLAINTEXT: &[u8] = b"TOP-SECRET-PLAINTEXT-4111111111111111";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn sign<C: sealhouse_iam::Clock>(
    s: &Served,
    signer: &Signer<C>,
    action: &str,
    body: &[u8],
) -> SignedRequest {
    let host = s.addr.to_string();
    let extra = [("content-type".to_owned(), "application/json".to_owned())];
    signer
        .sign(&RequestToSign {
            action,
            version: API_VERSION,
            host: &host,
            method: "POST",
            path: "/",
            query: &[],
            headers: &extra,
            body,
        })
        .unwrap()
}

/// Sends `headers` and `body`; the status, the body text and its JSON.
fn send(s: &Served, headers: &[(String, String)], body: &[u8]) -> (u16, String, Value) {
    let mut req = agent().post(format!("{}/", s.endpoint()));
    for (n, v) in headers {
        req = req.header(n.as_str(), v.as_str());
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json)
}

fn encrypt_body(key_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "KeyId": key_id,
        "Plaintext": STANDARD.encode(PLAINTEXT),
        "EncryptionContext": {"table": "orders"},
    }))
    .unwrap()
}

/// Checks an error body: the code, a request id, and nothing secret.
fn assert_error(s: &Served, got: &(u16, String, Value), status: u16, code: &str) {
    let (st, text, json) = got;
    assert_eq!((*st, json["Code"].as_str()), (status, Some(code)), "{text}");
    assert!(!json["Message"].as_str().unwrap().is_empty());
    assert!(!json["RequestId"].as_str().unwrap().is_empty());
    for secret in [s.root_key_a.secret.expose(), s.root_key_b.secret.expose()] {
        assert!(!text.contains(secret), "secret in {text}");
    }
    assert!(!text.contains("TOP-SECRET"), "{text}");
    assert!(!text.contains(&STANDARD.encode(PLAINTEXT)), "{text}");
}

fn setup() -> (Served, String) {
    let s = Served::start();
    let key = s
        .root_a()
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    (s, key)
}

#[test]
fn a_correctly_signed_raw_request_works_and_returns_json() {
    let (s, key) = setup();
    let signer = Signer::new(Credentials::from(&s.root_key_a));
    let body = encrypt_body(&key);
    let (status, text, json) = send(&s, &sign(&s, &signer, "Encrypt", &body).headers, &body);
    assert_eq!(status, 200, "{text}");
    assert_eq!(json["KeyId"], key.as_str());
    assert!(json["RequestId"].is_string() && json["KeyVersionId"].is_string());
    assert!(
        STANDARD
            .decode(json["CiphertextBlob"].as_str().unwrap())
            .is_ok()
    );
}

#[test]
fn a_body_changed_after_signing_is_refused() {
    let (s, key) = setup();
    let signer = Signer::new(Credentials::from(&s.root_key_a));
    let body = encrypt_body(&key);
    let signed = sign(&s, &signer, "Encrypt", &body);
    let mut changed = body.clone();
    let at = changed.len() - 3;
    changed[at] ^= 1;
    assert_error(
        &s,
        &send(&s, &signed.headers, &changed),
        400,
        "ContentSHA256Mismatch",
    );
    // With the body hash header recomputed, the signature no longer matches.
    let headers: Vec<(String, String)> = signed
        .headers
        .iter()
        .map(|(n, v)| {
            if n == "x-acs-content-sha256" {
                (
                    n.clone(),
                    sealhouse_iam::signing::canonical::sha256_hex(&changed),
                )
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    assert_error(
        &s,
        &send(&s, &headers, &changed),
        401,
        "SignatureDoesNotMatch",
    );
    // Another action under the same signature: refused too.
    let swapped: Vec<(String, String)> = signed
        .headers
        .iter()
        .map(|(n, v)| {
            if n == "x-acs-action" {
                (n.clone(), "Decrypt".to_owned())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    assert_error(&s, &send(&s, &swapped, &body), 401, "SignatureDoesNotMatch");
}

#[test]
fn a_request_signed_20_minutes_ago_is_expired() {
    let (s, key) = setup();
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(20);
    let signer = Signer::new(Credentials::from(&s.root_key_a)).with_clock(ManualClock::new(past));
    let body = encrypt_body(&key);
    let got = send(&s, &sign(&s, &signer, "Encrypt", &body).headers, &body);
    assert_error(&s, &got, 401, "InvalidTimeStamp.Expired");
    assert!(got.2["Message"].as_str().unwrap().contains("expired"));
    let future = OffsetDateTime::now_utc() + time::Duration::minutes(20);
    let signer = Signer::new(Credentials::from(&s.root_key_a)).with_clock(ManualClock::new(future));
    let got = send(&s, &sign(&s, &signer, "Encrypt", &body).headers, &body);
    assert_error(&s, &got, 401, "InvalidTimeStamp.Expired");
}

#[test]
fn a_replayed_request_is_refused() {
    let (s, key) = setup();
    let signer = Signer::new(Credentials::from(&s.root_key_a));
    let body = encrypt_body(&key);
    let signed = sign(&s, &signer, "Encrypt", &body);
    assert_eq!(send(&s, &signed.headers, &body).0, 200);
    assert_error(
        &s,
        &send(&s, &signed.headers, &body),
        401,
        "SignatureNonceUsed",
    );
}

#[test]
fn wrong_secrets_unknown_keys_and_unsigned_requests_are_refused() {
    let (s, key) = setup();
    let body = encrypt_body(&key);
    let wrong = Signer::new(Credentials::new(
        s.root_key_a.id.clone(),
        SecretBytes::from_slice(b"not-the-secret-at-all-000000"),
    ));
    let got = send(&s, &sign(&s, &wrong, "Encrypt", &body).headers, &body);
    assert_error(&s, &got, 401, "SignatureDoesNotMatch");
    // A's id with B's secret.
    let crossed = Signer::new(Credentials::new(
        s.root_key_a.id.clone(),
        SecretBytes::from_slice(s.root_key_b.secret.expose_bytes()),
    ));
    let got = send(&s, &sign(&s, &crossed, "Encrypt", &body).headers, &body);
    assert_error(&s, &got, 401, "SignatureDoesNotMatch");
    let unknown = Signer::new(Credentials::new(
        "LTAI00000000000000000000",
        SecretBytes::from_slice(b"whatever"),
    ));
    let got = send(&s, &sign(&s, &unknown, "Encrypt", &body).headers, &body);
    assert_error(&s, &got, 401, "InvalidAccessKeyId.NotFound");

    let plain = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-acs-action".to_owned(), "Encrypt".to_owned()),
        ("x-acs-version".to_owned(), API_VERSION.to_owned()),
    ];
    assert_error(&s, &send(&s, &plain, &body), 400, "MissingAuthorization");
}

#[test]
fn action_version_body_and_size_are_checked_after_the_signature() {
    let (s, key) = setup();
    let signer = Signer::new(Credentials::from(&s.root_key_a));
    let body = encrypt_body(&key);

    let got = send(&s, &sign(&s, &signer, "encrypt", &body).headers, &body);
    assert_error(&s, &got, 404, "InvalidAction.NotFound");
    assert!(got.2["Message"].as_str().unwrap().contains("Decrypt"));

    let host = s.addr.to_string();
    let old = signer
        .sign(&RequestToSign {
            action: "Encrypt",
            version: "2015-01-01",
            host: &host,
            method: "POST",
            path: "/",
            query: &[],
            headers: &[],
            body: &body,
        })
        .unwrap();
    let got = send(&s, &old.headers, &body);
    assert_error(&s, &got, 400, "InvalidParameter");
    assert!(got.2["Message"].as_str().unwrap().contains(API_VERSION));

    let not_json = br#"{"KeyId": "x", "Plaintext": TOP-SECRET"#;
    let got = send(
        &s,
        &sign(&s, &signer, "Encrypt", not_json).headers,
        not_json,
    );
    assert_error(&s, &got, 400, "InvalidParameter");

    let bad_b64 = br#"{"KeyId": "k", "Plaintext": "TOP-SECRET not base64!"}"#;
    let got = send(&s, &sign(&s, &signer, "Encrypt", bad_b64).headers, bad_b64);
    assert_error(&s, &got, 400, "InvalidParameter");
    assert!(got.2["Message"].as_str().unwrap().contains("Plaintext"));

    let missing = br#"{"Plaintext": "AAAA"}"#;
    let got = send(&s, &sign(&s, &signer, "Encrypt", missing).headers, missing);
    assert_error(&s, &got, 400, "InvalidParameter");
    assert!(got.2["Message"].as_str().unwrap().contains("KeyId"));

    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let got = send(&s, &sign(&s, &signer, "Encrypt", &huge).headers, &huge);
    assert_error(&s, &got, 413, "RequestTooLarge");
}

#[test]
fn health_needs_no_signature() {
    let s = Served::start();
    let mut resp = agent()
        .get(format!("{}/health", s.endpoint()))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body_mut().read_to_string().unwrap(), "ok");
}
