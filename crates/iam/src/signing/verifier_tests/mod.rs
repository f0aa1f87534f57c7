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
    let cache = Arc::new(ReplayCache::default());
    let v = w.verifier().with_nonce_ledger(cache.clone());
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
    assert_eq!(cache.len(), 1);
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

mod refusals;
mod signer_and_output;
mod window_and_replay;
