//! Signing and verification against the identity service: round trips and
//! every refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sealhouse_crypto::SecretBytes;
use time::Duration;

use super::canonical::parse_query;
use super::*;
use crate::policy::trust::TrustPolicy;
use crate::testutil::{A, acct, iam};
use crate::{
    AccessKeyStatus, Arn, AuthError, Clock, Iam, ManualClock, NewAccessKey, Principal,
    RequestContext, StoreError,
};

/// A request as sent and received: the signer's output plus what the test
/// does to it on the way.
struct Wire {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn header_mut(&mut self, name: &str) -> &mut String {
        &mut self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap()
            .1
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

struct World {
    iam: Iam,
    clock: Arc<ManualClock>,
    root_key: NewAccessKey,
    nonce: Arc<AtomicU64>,
}

fn world() -> World {
    let (iam, clock) = iam();
    let root_key = iam
        .create_access_key(&Principal::Root { account: acct(A) })
        .unwrap();
    World {
        iam,
        clock,
        root_key,
        nonce: Arc::new(AtomicU64::new(0)),
    }
}

impl World {
    fn signer(&self, credentials: Credentials) -> Signer<Arc<ManualClock>, impl NonceSource> {
        let n = self.nonce.clone();
        Signer::new(credentials)
            .with_clock(self.clock.clone())
            .with_nonce_source(move || format!("nonce-{}", n.fetch_add(1, Ordering::Relaxed)))
    }

    fn verifier(&self) -> Verifier<&Iam, Arc<ManualClock>> {
        Verifier::new(&self.iam).with_clock(self.clock.clone())
    }

    fn send(&self, credentials: Credentials) -> Wire {
        self.send_with(credentials, "Decrypt", br#"{"CiphertextBlob":"AAEC"}"#)
    }

    fn send_with(&self, credentials: Credentials, action: &str, body: &[u8]) -> Wire {
        let query = vec![("KeyId".to_owned(), "alias/my key".to_owned())];
        let extra = vec![("content-type".to_owned(), "application/json".to_owned())];
        let signed = self
            .signer(credentials)
            .sign(&RequestToSign {
                action,
                version: "2016-01-20",
                host: "127.0.0.1:8443",
                method: "POST",
                path: "/",
                query: &query,
                headers: &extra,
                body,
            })
            .unwrap();
        Wire {
            method: "POST".into(),
            path: signed.path.clone(),
            query: parse_query(&signed.query).unwrap(),
            headers: signed.headers,
            body: body.to_vec(),
        }
    }
}

fn root_creds(w: &World) -> Credentials {
    Credentials::from(&w.root_key)
}

#[test]
fn round_trip_with_a_long_lived_key() {
    let w = world();
    let wire = w.send(root_creds(&w));
    let v = w.verifier().verify(&wire.parts()).unwrap();
    assert_eq!(v.access_key_id, w.root_key.id);
    assert_eq!(v.principal, Principal::Root { account: acct(A) });
    assert_eq!(v.action.as_deref(), Some("Decrypt"));
    assert_eq!(v.version.as_deref(), Some("2016-01-20"));
    assert_eq!(v.expiration, None);
    assert_eq!(v.date, w.clock.now().replace_nanosecond(0).unwrap());
}

#[test]
fn round_trip_with_a_user_key_an_odd_path_and_an_empty_body() {
    let w = world();
    let user = w.iam.create_user(&acct(A), "alice").unwrap();
    let key = w.iam.create_access_key(&user.principal()).unwrap();
    let query = vec![
        ("b".to_owned(), "2".to_owned()),
        ("a".to_owned(), String::new()),
        ("ü ~*".to_owned(), "x+y/z&=".to_owned()),
    ];
    let signed = w
        .signer(Credentials::from(&key))
        .sign(&RequestToSign {
            action: "ListKeys",
            version: "2016-01-20",
            host: "localhost",
            method: "GET",
            path: "/keys/a b/%2F",
            query: &query,
            headers: &[],
            body: b"",
        })
        .unwrap();
    assert_eq!(signed.path, "/keys/a%20b/%2F");
    // Received with the path as sent (encoded) or as a router decodes it.
    for path in [signed.path.as_str(), "/keys/a b/%2F"] {
        let v = w
            .verifier()
            .verify(&RequestParts {
                method: "GET",
                path,
                query: &parse_query(&signed.query).unwrap(),
                headers: &signed.headers,
                body: b"",
            })
            .unwrap();
        assert_eq!(v.principal, user.principal());
    }
}

#[test]
fn tampering_with_any_signed_part_is_refused() {
    let w = world();
    let v = w.verifier();
    type Tamper = fn(&mut Wire);
    let cases: [(&str, Tamper, SignatureError); 11] = [
        (
            "action",
            |r| *r.header_mut("x-acs-action") = "Encrypt".into(),
            SignatureError::SignatureMismatch,
        ),
        (
            "version",
            |r| *r.header_mut("x-acs-version") = "2016-01-21".into(),
            SignatureError::SignatureMismatch,
        ),
        (
            "host",
            |r| *r.header_mut("host") = "127.0.0.1:8444".into(),
            SignatureError::SignatureMismatch,
        ),
        (
            "content-type",
            |r| *r.header_mut("content-type") = "text/plain".into(),
            SignatureError::SignatureMismatch,
        ),
        (
            "nonce",
            |r| r.header_mut("x-acs-signature-nonce").push('x'),
            SignatureError::SignatureMismatch,
        ),
        (
            "query value",
            |r| r.query[0].1.push('x'),
            SignatureError::SignatureMismatch,
        ),
        (
            "query added",
            |r| r.query.push(("Extra".into(), "1".into())),
            SignatureError::SignatureMismatch,
        ),
        (
            "path",
            |r| r.path = "/other".into(),
            SignatureError::SignatureMismatch,
        ),
        (
            "method",
            |r| r.method = "PUT".into(),
            SignatureError::SignatureMismatch,
        ),
        ("body", |r| r.body[0] ^= 1, SignatureError::BodyHashMismatch),
        (
            "body and its hash",
            |r| {
                r.body = b"{}".to_vec();
                *r.header_mut("x-acs-content-sha256") = canonical::sha256_hex(b"{}");
            },
            SignatureError::SignatureMismatch,
        ),
    ];
    for (what, tamper, want) in cases {
        let mut wire = w.send(root_creds(&w));
        tamper(&mut wire);
        assert_eq!(v.verify(&wire.parts()), Err(want), "{what}");
    }
    // Nothing was recorded by the refused requests: the genuine ones verify.
    let wire = w.send(root_creds(&w));
    v.verify(&wire.parts()).unwrap();
    assert_eq!(v.replay_cache().len(), 1);
}

#[test]
fn a_date_change_inside_the_window_is_tampering() {
    let w = world();
    let mut wire = w.send(root_creds(&w));
    let later = format_date(w.clock.now() + Duration::seconds(60));
    *wire.header_mut("x-acs-date") = later;
    assert_eq!(
        w.verifier().verify(&wire.parts()),
        Err(SignatureError::SignatureMismatch)
    );
}

#[test]
fn expired_and_future_dated_requests_are_refused() {
    let w = world();
    let v = w.verifier();
    // Exactly at the edge of the window: accepted.
    let wire = w.send(root_creds(&w));
    w.clock.advance(DEFAULT_WINDOW);
    v.verify(&wire.parts()).unwrap();

    let wire = w.send(root_creds(&w));
    w.clock.advance(DEFAULT_WINDOW + Duration::seconds(1));
    let err = v.verify(&wire.parts()).unwrap_err();
    assert!(
        matches!(
            err,
            SignatureError::Expired {
                window_seconds: 900,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("more than 900 s before"), "{err}");
    assert_eq!(err.code(), "InvalidTimeStamp.Expired");

    // A client whose clock runs 16 minutes fast.
    let fast = Arc::new(ManualClock::new(w.clock.now() + Duration::minutes(16)));
    let signed = Signer::new(root_creds(&w))
        .with_clock(fast)
        .sign(&RequestToSign {
            action: "Decrypt",
            version: "2016-01-20",
            host: "h",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[],
            body: b"",
        })
        .unwrap();
    let err = v
        .verify(&RequestParts {
            method: "POST",
            path: "/",
            query: &[],
            headers: &signed.headers,
            body: b"",
        })
        .unwrap_err();
    assert!(matches!(err, SignatureError::NotYetValid { .. }), "{err:?}");
    assert!(err.to_string().contains("after the server time"), "{err}");
}

#[test]
fn the_window_is_configurable() {
    let w = world();
    let v = w.verifier().with_window(Duration::minutes(5));
    assert_eq!(v.window(), Duration::minutes(5));
    let wire = w.send(root_creds(&w));
    w.clock.advance(Duration::minutes(6));
    assert!(matches!(
        v.verify(&wire.parts()),
        Err(SignatureError::Expired {
            window_seconds: 300,
            ..
        })
    ));
    assert_eq!(
        w.verifier().with_window(Duration::ZERO).window(),
        Duration::seconds(1)
    );
    assert_eq!(
        w.verifier().with_window(Duration::days(3)).window(),
        Duration::hours(24)
    );
}

#[test]
fn replays_are_refused_within_the_window_and_expired_after_it() {
    let w = world();
    let v = w.verifier();
    let wire = w.send(root_creds(&w));
    v.verify(&wire.parts()).unwrap();
    let err = v.verify(&wire.parts()).unwrap_err();
    assert_eq!(
        err,
        SignatureError::ReplayedNonce {
            access_key_id: w.root_key.id.clone()
        }
    );
    assert_eq!(err.code(), "SignatureNonceUsed");
    // A different request with the same nonce is a replay of the nonce.
    let reused = Signer::new(root_creds(&w))
        .with_clock(w.clock.clone())
        .with_nonce_source(|| "nonce-0".to_owned())
        .sign(&RequestToSign {
            action: "Encrypt",
            version: "2016-01-20",
            host: "h",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[],
            body: b"",
        })
        .unwrap();
    let reused = RequestParts {
        method: "POST",
        path: "/",
        query: &[],
        headers: &reused.headers,
        body: b"",
    };
    assert!(matches!(
        v.verify(&reused),
        Err(SignatureError::ReplayedNonce { .. })
    ));
    // Late in the window, still refused; past it, refused as expired, and the
    // cache has let the nonce go.
    w.clock.advance(Duration::minutes(14));
    assert!(matches!(
        v.verify(&wire.parts()),
        Err(SignatureError::ReplayedNonce { .. })
    ));
    w.clock.advance(Duration::minutes(2));
    assert!(matches!(
        v.verify(&wire.parts()),
        Err(SignatureError::Expired { .. })
    ));
    let fresh = w.send(root_creds(&w));
    v.verify(&fresh.parts()).unwrap();
    assert_eq!(v.replay_cache().len(), 1);
}

#[test]
fn a_full_replay_cache_refuses() {
    let w = world();
    let v = w.verifier().with_replay_capacity(1);
    v.verify(&w.send(root_creds(&w)).parts()).unwrap();
    let err = v.verify(&w.send(root_creds(&w)).parts()).unwrap_err();
    assert_eq!(err, SignatureError::ReplayCacheFull);
    assert_eq!(err.http_status(), 503);
}

#[test]
fn a_wrong_secret_is_a_signature_mismatch() {
    let w = world();
    let wrong = Credentials::new(
        w.root_key.id.clone(),
        SecretBytes::from_slice(b"not-the-secret-at-all-0000000000"),
    );
    let err = w.verifier().verify(&w.send(wrong).parts()).unwrap_err();
    assert_eq!(err, SignatureError::SignatureMismatch);
    assert_eq!(
        (err.code(), err.http_status()),
        ("SignatureDoesNotMatch", 401)
    );
}

#[test]
fn unknown_and_inactive_keys_are_refused() {
    let w = world();
    let unknown = Credentials::new("LTAI00000000000000000000", SecretBytes::from_slice(b"x"));
    let err = w.verifier().verify(&w.send(unknown).parts()).unwrap_err();
    assert!(
        matches!(err, SignatureError::UnknownAccessKey(_)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("'LTAI00000000000000000000' does not exist"),
        "{err}"
    );
    assert_eq!(err.code(), "InvalidAccessKeyId.NotFound");

    w.iam
        .set_access_key_status(&w.root_key.id, AccessKeyStatus::Inactive)
        .unwrap();
    let err = w
        .verifier()
        .verify(&w.send(root_creds(&w)).parts())
        .unwrap_err();
    assert_eq!(
        err,
        SignatureError::AccessKeyNotUsable(AuthError::AccessKeyInactive {
            id: w.root_key.id.clone()
        })
    );
    assert_eq!(err.code(), "InvalidAccessKeyId.Inactive");
}

#[test]
fn missing_and_unsigned_headers_are_refused() {
    let w = world();
    let v = w.verifier();
    for name in [
        "host",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        let mut wire = w.send(root_creds(&w));
        wire.remove_header(name);
        assert_eq!(
            v.verify(&wire.parts()),
            Err(SignatureError::MissingHeader(name.into())),
            "{name}"
        );
        // Present but left out of SignedHeaders.
        let mut wire = w.send(root_creds(&w));
        let auth = wire.header_mut("authorization");
        *auth = auth
            .replace(&format!("{name};"), "")
            .replace(&format!(";{name}"), "");
        assert_eq!(
            v.verify(&wire.parts()),
            Err(SignatureError::UnsignedHeader(name.into())),
            "{name}"
        );
    }
    // A signed header that is not there.
    let mut wire = w.send(root_creds(&w));
    wire.remove_header("x-acs-action");
    assert_eq!(
        v.verify(&wire.parts()),
        Err(SignatureError::MissingHeader("x-acs-action".into()))
    );
    // Headers added after signing that must be signed.
    for name in ["X-Acs-Extra", "Content-Type", "x-acs-security-token"] {
        let mut wire = w.send(root_creds(&w));
        if name == "Content-Type" {
            wire.remove_header(name);
        }
        wire.headers.push((name.into(), "v".into()));
        let want = name.to_ascii_lowercase();
        let got = v.verify(&wire.parts());
        if name == "Content-Type" {
            // content-type is signed here; a changed one is a mismatch.
            assert_eq!(got, Err(SignatureError::SignatureMismatch));
        } else {
            assert_eq!(got, Err(SignatureError::UnsignedHeader(want)), "{name}");
        }
    }
    // Headers outside the signed set may be added freely.
    let mut wire = w.send(root_creds(&w));
    wire.headers.push(("User-Agent".into(), "curl".into()));
    wire.headers.push(("Accept".into(), "*/*".into()));
    v.verify(&wire.parts()).unwrap();
}

#[test]
fn malformed_requests_get_clear_errors() {
    let w = world();
    let v = w.verifier();

    let mut wire = w.send(root_creds(&w));
    wire.remove_header("authorization");
    assert_eq!(
        v.verify(&wire.parts()),
        Err(SignatureError::MissingAuthorization)
    );
    assert_eq!(SignatureError::MissingAuthorization.http_status(), 400);

    let mut wire = w.send(root_creds(&w));
    *wire.header_mut("authorization") = "Bearer abc".into();
    assert!(matches!(
        v.verify(&wire.parts()),
        Err(SignatureError::MalformedAuthorization(_))
    ));

    let mut wire = w.send(root_creds(&w));
    let auth = wire.header_mut("authorization").clone();
    wire.headers.push(("Authorization".into(), auth));
    assert_eq!(
        v.verify(&wire.parts()),
        Err(SignatureError::MalformedAuthorization(
            "the request has more than one Authorization header"
        ))
    );

    let mut wire = w.send(root_creds(&w));
    let date = wire.header_mut("x-acs-date").clone();
    wire.headers.push(("X-Acs-Date".into(), date));
    assert_eq!(
        v.verify(&wire.parts()),
        Err(SignatureError::InvalidHeader {
            name: "x-acs-date".into(),
            reason: "it appears more than once"
        })
    );

    for (name, value, reason) in [
        ("x-acs-date", "2026-05-28T20:26:40", "yyyy-MM-ddTHH:mm:ssZ"),
        (
            "x-acs-date",
            "Thu, 28 May 2026 20:26:40 GMT",
            "yyyy-MM-ddTHH:mm:ssZ",
        ),
        ("x-acs-signature-nonce", "", "1 to 128"),
        ("x-acs-signature-nonce", "a b", "1 to 128"),
        ("x-acs-content-sha256", "E3B0", "64 lower-case"),
    ] {
        let mut wire = w.send(root_creds(&w));
        *wire.header_mut(name) = value.into();
        match v.verify(&wire.parts()) {
            Err(SignatureError::InvalidHeader { name: n, reason: r }) => {
                assert_eq!(n, name);
                assert!(r.contains(reason), "{name}: {r}");
            }
            other => panic!("{name}={value:?} gave {other:?}"),
        }
    }

    // A line break smuggled into a signed header value.
    let mut wire = w.send(root_creds(&w));
    *wire.header_mut("x-acs-action") = "Decrypt\nx-acs-version:1".into();
    assert!(matches!(
        v.verify(&wire.parts()),
        Err(SignatureError::InvalidHeader { name, .. }) if name == "x-acs-action"
    ));
}

fn assume(w: &World) -> crate::TemporaryCredentials {
    w.iam
        .create_role(&acct(A), "r", &TrustPolicy::trusting_ram(&[A]), None, "")
        .unwrap();
    w.iam
        .assume_role(
            &Principal::Root { account: acct(A) },
            &Arn::role(&acct(A), "r"),
            "s1",
            None,
            &RequestContext::new(),
        )
        .unwrap()
}

#[test]
fn sts_credentials_need_their_token() {
    let w = world();
    let sts = assume(&w);
    let v = w.verifier();

    let ok = v.verify(&w.send(Credentials::from(&sts)).parts()).unwrap();
    assert_eq!(ok.principal, sts.assumed_role);
    assert_eq!(ok.expiration, Some(sts.expiration));

    // No token.
    let without = Credentials::new(
        sts.access_key_id.clone(),
        sts.secret.as_secret().duplicate(),
    );
    let err = v.verify(&w.send(without).parts()).unwrap_err();
    assert!(
        matches!(err, SignatureError::BadSecurityToken(_)),
        "{err:?}"
    );
    assert_eq!(err.code(), "InvalidSecurityToken.MismatchWithAccessKey");

    // Another session's token.
    let other = w
        .iam
        .assume_role(
            &Principal::Root { account: acct(A) },
            &Arn::role(&acct(A), "r"),
            "s2",
            None,
            &RequestContext::new(),
        )
        .unwrap();
    let wrong_token = Credentials::new(
        sts.access_key_id.clone(),
        sts.secret.as_secret().duplicate(),
    )
    .with_security_token(other.security_token.as_secret().duplicate());
    assert!(matches!(
        v.verify(&w.send(wrong_token).parts()),
        Err(SignatureError::BadSecurityToken(_))
    ));

    // A token sent with a long-lived key.
    let with_token = root_creds(&w).with_security_token(sts.security_token.as_secret().duplicate());
    assert!(matches!(
        v.verify(&w.send(with_token).parts()),
        Err(SignatureError::BadSecurityToken(_))
    ));

    // The token must be signed (it is an x-acs-* header).
    let mut wire = w.send(Credentials::from(&sts));
    let auth = wire.header_mut("authorization");
    *auth = auth.replace("x-acs-security-token;", "");
    assert_eq!(
        v.verify(&wire.parts()),
        Err(SignatureError::UnsignedHeader(
            "x-acs-security-token".into()
        ))
    );

    // Expired credentials.
    w.clock.advance(Duration::hours(2));
    let err = v
        .verify(&w.send(Credentials::from(&sts)).parts())
        .unwrap_err();
    assert!(
        matches!(
            err,
            SignatureError::AccessKeyNotUsable(AuthError::Expired { .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "InvalidSecurityToken.Expired");
}

#[test]
fn lookup_closures_and_lookup_failures() {
    let w = world();
    let wire = w.send(root_creds(&w));
    let iam = &w.iam;
    let by_closure = Verifier::new(LookupFn(|id: &str| iam.secret_for_access_key(id)))
        .with_clock(w.clock.clone());
    by_closure.verify(&wire.parts()).unwrap();

    let broken = Verifier::new(LookupFn(|_: &str| {
        Err(StoreError::Backend("disk I/O error".into()).into())
    }))
    .with_clock(w.clock.clone());
    let err = broken.verify(&w.send(root_creds(&w)).parts()).unwrap_err();
    assert!(err.is_internal());
    assert_eq!((err.code(), err.http_status()), ("InternalError", 500));
    assert!(err.to_string().contains("disk I/O error"), "{err}");
}

#[test]
fn an_arc_of_the_service_is_a_lookup() {
    let (iam, clock) = iam();
    let key = iam
        .create_access_key(&Principal::Root { account: acct(A) })
        .unwrap();
    let iam = Arc::new(iam);
    let v = Verifier::new(iam.clone()).with_clock(clock.clone());
    let signed = Signer::new(Credentials::from(&key))
        .with_clock(clock)
        .sign(&RequestToSign {
            action: "Decrypt",
            version: "2016-01-20",
            host: "h",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[],
            body: b"x",
        })
        .unwrap();
    let v2 = v.verify(&RequestParts {
        method: "POST",
        path: "/",
        query: &[],
        headers: &signed.headers,
        body: b"x",
    });
    assert_eq!(v2.unwrap().access_key_id, key.id);
}

#[test]
fn signer_refuses_bad_input() {
    let w = world();
    let s = w.signer(root_creds(&w));
    let base = RequestToSign {
        action: "Decrypt",
        version: "2016-01-20",
        host: "h",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[],
        body: b"",
    };
    for (req, what) in [
        (
            RequestToSign {
                method: "post",
                ..base
            },
            "the method",
        ),
        (RequestToSign { method: "", ..base }, "the method"),
        (RequestToSign { host: "", ..base }, "the host"),
        (
            RequestToSign {
                host: "a b",
                ..base
            },
            "the host",
        ),
        (RequestToSign { action: "", ..base }, "the action"),
        (
            RequestToSign {
                version: "1\n",
                ..base
            },
            "the version",
        ),
    ] {
        match s.sign(&req) {
            Err(SignError::InvalidInput { what: w, .. }) => assert_eq!(w, what),
            other => panic!("{req:?} gave {other:?}"),
        }
    }
    let reserved = vec![("X-Acs-Date".to_owned(), "x".to_owned())];
    assert_eq!(
        s.sign(&RequestToSign {
            headers: &reserved,
            ..base
        }),
        Err(SignError::ReservedHeader("x-acs-date".into()))
    );
    let ctl = vec![("x-acs-meta".to_owned(), "a\r\nb".to_owned())];
    assert!(matches!(
        s.sign(&RequestToSign {
            headers: &ctl,
            ..base
        }),
        Err(SignError::InvalidInput {
            what: "a header value",
            ..
        })
    ));
    let bad_name = vec![("x acs".to_owned(), "v".to_owned())];
    assert!(matches!(
        s.sign(&RequestToSign {
            headers: &bad_name,
            ..base
        }),
        Err(SignError::InvalidInput {
            what: "a header name",
            ..
        })
    ));
    let bad_nonce = Signer::new(root_creds(&w)).with_nonce_source(|| "two words".to_owned());
    assert!(matches!(bad_nonce.sign(&base), Err(SignError::Nonce(_))));
    // Random nonces differ.
    let a = Signer::new(root_creds(&w)).sign(&base).unwrap();
    let b = Signer::new(root_creds(&w)).sign(&base).unwrap();
    assert_ne!(
        a.header("x-acs-signature-nonce"),
        b.header("x-acs-signature-nonce")
    );
    assert_eq!(a.header("x-acs-signature-nonce").map(str::len), Some(32));
}

#[test]
fn nothing_prints_a_secret_a_token_or_the_expected_signature() {
    let w = world();
    let sts = assume(&w);
    let secrets = [
        w.root_key.secret.expose().to_owned(),
        sts.secret.expose().to_owned(),
        sts.security_token.expose().to_owned(),
    ];
    let mut shown = Vec::new();

    let creds = Credentials::from(&sts);
    shown.push(format!("{creds:?}"));
    let signer = w.signer(Credentials::from(&sts));
    shown.push(format!("{signer:?}"));
    let wire = w.send(Credentials::from(&sts));
    shown.push(format!("{:?}", wire.parts()));
    let signed = w
        .signer(Credentials::from(&sts))
        .sign(&RequestToSign {
            action: "Decrypt",
            version: "2016-01-20",
            host: "h",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[],
            body: b"",
        })
        .unwrap();
    shown.push(format!("{signed:?}"));
    let v = w.verifier();
    shown.push(format!("{v:?}"));
    let ok = v.verify(&wire.parts()).unwrap();
    shown.push(format!("{ok:?}"));
    let cred = w.iam.secret_for_access_key(&sts.access_key_id).unwrap();
    shown.push(format!("{cred:?}"));

    // Every refusal, with the signature the server expected for each.
    let mut errors = Vec::new();
    let mut expected_signatures = Vec::new();
    let wrong = Credentials::new(w.root_key.id.clone(), SecretBytes::from_slice(b"wrong"));
    let mut wrong_wire = w.send(wrong);
    errors.push(v.verify(&wrong_wire.parts()).unwrap_err());
    {
        // What the server computed for that request: with the real secret.
        let auth = AuthorizationHeader::parse(wrong_wire.header_mut("authorization")).unwrap();
        let names: Vec<&str> = auth.signed_headers().iter().map(String::as_str).collect();
        let cr = canonical::CanonicalRequest::from_parts(
            "POST",
            &wrong_wire.path,
            &canonical::canonical_query_string(&wrong_wire.query),
            &canonical::canonical_headers(&wrong_wire.headers, &names).unwrap(),
            &names.join(";"),
            &canonical::sha256_hex(&wrong_wire.body),
        );
        expected_signatures.push(hex::encode(cr.signature(w.root_key.secret.expose_bytes())));
    }
    errors.push(v.verify(&wire.parts()).unwrap_err()); // replay
    let mut t = w.send(Credentials::from(&sts));
    t.body.push(b' ');
    errors.push(v.verify(&t.parts()).unwrap_err());
    let mut t = w.send(Credentials::from(&sts));
    *t.header_mut("x-acs-security-token") = secrets[0].clone();
    errors.push(v.verify(&t.parts()).unwrap_err());
    let swapped = Credentials::new(secrets[0].clone(), SecretBytes::from_slice(b"s"));
    errors.push(v.verify(&w.send(swapped).parts()).unwrap_err());
    w.clock.advance(Duration::hours(2));
    errors.push(
        v.verify(&w.send(Credentials::from(&sts)).parts())
            .unwrap_err(),
    );
    for e in &errors {
        shown.push(format!("{e} {e:?}"));
    }
    let sign_err = w
        .signer(root_creds(&w))
        .sign(&RequestToSign {
            action: "Decrypt",
            version: "2016-01-20",
            host: "h",
            method: "post",
            path: "/",
            query: &[],
            headers: &[],
            body: b"",
        })
        .unwrap_err();
    shown.push(format!("{sign_err} {sign_err:?}"));

    let all = shown.join("\n");
    for s in secrets.iter().chain(&expected_signatures) {
        assert!(!all.contains(s.as_str()), "leaked in:\n{all}");
    }
    assert!(all.contains("redacted"));
}
