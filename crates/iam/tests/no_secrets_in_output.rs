//! Secrets never appear in Debug output or error messages, and with a sealer
//! in place the database files hold none of them (security tokens are only
//! hashed, whatever the sealer).

// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use sealhouse_crypto::SecretBytes;
use sealhouse_iam::policy::trust::TrustPolicy;
use sealhouse_iam::{
    AccountId, Arn, Error, Iam, ManualClock, NoSealing, Principal, RequestContext, SealError,
    SecretSealer, SqliteStore,
};
use time::{Duration, OffsetDateTime};

/// A stand-in for the KMS's sealer: XOR with a keystream derived from the
/// context, behind a format tag. Not encryption; enough to show that the store
/// only ever receives what the sealer returns.
struct ToySealer;

fn stream(context: &[u8], len: usize) -> impl Iterator<Item = u8> + '_ {
    (0..len)
        .map(move |i| context.get(i % context.len().max(1)).copied().unwrap_or(0) ^ 0xA5 ^ i as u8)
}

impl SecretSealer for ToySealer {
    fn seal(&self, secret: &SecretBytes, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let body = secret
            .expose()
            .iter()
            .zip(stream(context, secret.len()))
            .map(|(a, b)| a ^ b);
        Ok(b"toy1".iter().copied().chain(body).collect())
    }

    fn unseal(&self, sealed: &[u8], context: &[u8]) -> Result<SecretBytes, SealError> {
        let body = sealed
            .strip_prefix(b"toy1")
            .ok_or_else(|| SealError("not a toy1 value".into()))?;
        Ok(SecretBytes::new(
            body.iter()
                .zip(stream(context, body.len()))
                .map(|(a, b)| a ^ b)
                .collect(),
        ))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap(),
    ));
    let iam = Iam::new(SqliteStore::open_in_memory().unwrap(), NoSealing).with_clock(clock.clone());
    let a = AccountId::new("1892732288741234").unwrap();
    let root_key = iam.create_account(&a).unwrap();
    let user = iam.create_user(&a, "alice").unwrap();
    let user_key = iam.create_access_key(&user.principal()).unwrap();
    iam.create_role(
        &a,
        "r",
        &TrustPolicy::trusting_ram(&["1892732288741234"]),
        None,
        "",
    )
    .unwrap();
    let root = Principal::Root { account: a.clone() };
    let sts = iam
        .assume_role(
            &root,
            &Arn::role(&a, "r"),
            "s1",
            None,
            &RequestContext::new(),
        )
        .unwrap();
    let signing = iam.secret_for_access_key(&sts.access_key_id).unwrap();

    let secrets = [
        root_key.secret.expose().to_owned(),
        user_key.secret.expose().to_owned(),
        sts.secret.expose().to_owned(),
        sts.security_token.expose().to_owned(),
    ];
    let mut shown = vec![
        format!("{root_key:?} {root_key:#?}"),
        format!("{user_key:?}"),
        format!("{sts:?} {sts:#?}"),
        format!("{signing:?}"),
        format!("{iam:?}"),
    ];
    // Errors around credentials: wrong token, expiry, inactive key, damaged value.
    shown.push(
        signing
            .check_security_token(Some(&secrets[0]))
            .unwrap_err()
            .to_string(),
    );
    clock.advance(Duration::hours(2));
    shown.push(
        iam.authenticate(&sts.access_key_id)
            .unwrap_err()
            .to_string(),
    );
    shown.push(format!(
        "{:?}",
        iam.authenticate(&sts.access_key_id).unwrap_err()
    ));
    // A secret passed where an access key id belongs is not echoed back.
    let err = iam
        .authenticate(&format!("{}\u{1}", secrets[1]))
        .unwrap_err();
    shown.push(err.to_string());
    let err: Error = iam.authenticate(&secrets[1]).unwrap_err();
    assert!(
        err.to_string()
            .contains("is not an access key id, not shown"),
        "{err}"
    );
    shown.push(format!("{err} {err:?}"));

    for text in &shown {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
    }
    assert!(shown[0].contains("redacted"), "{}", shown[0]);
}

#[test]
fn the_database_holds_only_sealed_secrets_and_token_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let iam = Iam::new(SqliteStore::open(&path).unwrap(), ToySealer);
    let a = AccountId::new("1892732288741234").unwrap();
    let root_key = iam.create_account(&a).unwrap();
    iam.create_role(
        &a,
        "r",
        &TrustPolicy::trusting_ram(&["1892732288741234"]),
        None,
        "",
    )
    .unwrap();
    let root = Principal::Root { account: a.clone() };
    let sts = iam
        .assume_role(
            &root,
            &Arn::role(&a, "r"),
            "s1",
            None,
            &RequestContext::new(),
        )
        .unwrap();
    // The server still recovers the secrets it needs for HMAC verification.
    assert_eq!(
        iam.secret_for_access_key(&root_key.id).unwrap().secret,
        root_key.secret
    );
    assert_eq!(
        iam.secret_for_access_key(&sts.access_key_id)
            .unwrap()
            .secret,
        sts.secret
    );

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(
        contains(&bytes, root_key.id.as_bytes()),
        "the files were read"
    );
    for secret in [
        root_key.secret.expose(),
        sts.secret.expose(),
        sts.security_token.expose(),
    ] {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "a secret is stored in the clear"
        );
    }
}
