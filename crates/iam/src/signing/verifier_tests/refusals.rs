//! Requests refused for their credentials or their shape.

use super::*;

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
