//! The date window and the replay cache.

use super::*;

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
    let cache = Arc::new(ReplayCache::default());
    let v = w.verifier().with_nonce_ledger(cache.clone());
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
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_full_replay_cache_refuses() {
    let w = world();
    let v = w
        .verifier()
        .with_nonce_ledger(Arc::new(ReplayCache::new(1)));
    v.verify(&w.send(root_creds(&w)).parts()).unwrap();
    let err = v.verify(&w.send(root_creds(&w)).parts()).unwrap_err();
    assert_eq!(err, SignatureError::ReplayCacheFull);
    assert_eq!(err.http_status(), 503);
}

/// Issue 19, reproduction 4: the nonces live in the identity store, so a
/// request is refused by another verifier (another listener, another
/// process, the same server after a restart) as by the one that took it.
#[test]
fn the_identity_store_refuses_a_replay_to_every_verifier_and_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let w = world();
    let clock = w.clock.clone();
    // The ledger's own identities do not matter: only its nonces are used.
    let open = || {
        Arc::new(Iam::new(
            crate::SqliteStore::open(&path).unwrap(),
            crate::NoSealing,
        ))
    };
    let ledger = open();
    let verifier = |ledger: &Arc<Iam>| {
        w.verifier()
            .with_nonce_ledger(ledger.clone())
            .with_hosts(vec!["127.0.0.1:8443".to_owned()])
    };
    let first = verifier(&ledger);
    let second = verifier(&ledger);
    let wire = w.send(root_creds(&w));
    first.verify(&wire.parts()).unwrap();
    assert!(matches!(
        second.verify(&wire.parts()),
        Err(SignatureError::ReplayedNonce { .. })
    ));
    drop((first, second, ledger));
    let reopened = open();
    assert!(matches!(
        verifier(&reopened).verify(&wire.parts()),
        Err(SignatureError::ReplayedNonce { .. })
    ));
    // Past the window the date refuses it, and the nonce may go.
    clock.advance(Duration::minutes(16));
    let fresh = w.send(root_creds(&w));
    verifier(&reopened).verify(&fresh.parts()).unwrap();
    assert!(matches!(
        verifier(&reopened).verify(&wire.parts()),
        Err(SignatureError::Expired { .. })
    ));
}

#[test]
fn a_request_signed_for_another_host_is_refused() {
    let w = world();
    let wire = w.send(root_creds(&w));
    let v = w.verifier().with_hosts(vec!["127.0.0.1:9000".to_owned()]);
    let err = v.verify(&wire.parts()).unwrap_err();
    assert_eq!(
        err,
        SignatureError::WrongHost {
            signed: "127.0.0.1:8443".to_owned(),
            expected: vec!["127.0.0.1:9000".to_owned()],
        }
    );
    assert_eq!((err.code(), err.http_status()), ("InvalidHost", 401));
    // Refused before its nonce was used: the right endpoint takes it.
    let right = w.verifier().with_hosts(vec![
        "LOCALHOST:8443".to_owned(),
        "127.0.0.1:8443".to_owned(),
    ]);
    right.verify(&wire.parts()).unwrap();
}
