//! The signer's own checks, and what errors and Debug output may show.

use super::*;

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
