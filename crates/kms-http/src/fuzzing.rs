//! What the fuzz targets in `fuzz/` run against this crate (cargo-fuzz
//! builds outside the workspace and sees only public items): the request
//! parameters every KMS HTTP call is parsed from. The unit tests below run
//! the same checks on fixed and generated inputs, so they are built and
//! exercised by every `cargo test`. Not an API.
//!
//! Assertions use `assert!(a == b)`, not `assert_eq!`: a failure must not
//! print plaintexts.

use sealhouse_kms::{ErrorCode, KmsError};
use serde_json::Value;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{Action, from_body, from_value, to_value};

/// The parameters that carry plaintexts, ciphertexts, key material or
/// encryption contexts: an error must never repeat their values.
const SECRET_PARAMETERS: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "EncryptedKeyMaterial",
    "ImportToken",
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
];

/// `data` is an action selector (its first byte) and a request body. The
/// body parses into the action's request or is refused with
/// `InvalidParameter`; a refusal never quotes a secret-bearing parameter's
/// value; an accepted request encodes to parameters that parse back to the
/// same encoding (what the client sends is what the server reads).
pub fn request_parameters(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    // AssumeRole's parameters (not a KMS action) parse or are refused.
    if let Ok(request) = serde_json::from_slice::<crate::sts::AssumeRoleRequest>(body) {
        let again = serde_json::to_vec(&request).expect("a parsed request encodes");
        assert_eq!(
            serde_json::from_slice::<crate::sts::AssumeRoleRequest>(&again).ok(),
            Some(request)
        );
    }
    let action = Action::ALL[usize::from(selector) % Action::ALL.len()];
    let outcome = round_trip(action, body);
    if let Err(e) = outcome {
        assert!(e.code() == ErrorCode::InvalidParameter);
        for value in secret_values(body) {
            assert!(
                !e.message().contains(&value),
                "{action}: an error quoted a secret value"
            );
        }
    }
}

/// `round_trip`, from the list of operations in `sealhouse-kms`.
macro_rules! round_trips {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        /// Parses `body` as `action`'s request and checks that its encoding
        /// is stable.
        fn round_trip(action: Action, body: &[u8]) -> Result<(), KmsError> {
            match action {
                $(Action::$data_action => stable::<$data_req>(body),)*
                $(Action::$admin_action => stable::<$admin_req>(body),)*
            }
        }
    };
}

sealhouse_kms::kms_operations!(round_trips);

/// Reads a request, encodes it, and checks that the encoding reads back to
/// the same encoding.
fn stable<Req: Serialize + DeserializeOwned>(body: &[u8]) -> Result<(), KmsError> {
    let first = to_value(&from_body::<Req>(body)?)?;
    let reread = from_value::<Req>(first.clone()).and_then(|r| to_value(&r));
    assert!(reread.is_ok(), "an encoded request did not parse back");
    assert!(
        reread.ok() == Some(first),
        "an encoded request changed when read back"
    );
    Ok(())
}

/// The string values (and, in contexts, keys and values) of the body's
/// secret-bearing parameters that a message must not contain: those long
/// enough that finding one in a message is not chance, and not also sent in
/// a parameter whose value may be quoted (`KeySpec 'x' is not valid`), which
/// would be found for that reason.
fn secret_values(body: &[u8]) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let (mut secret, mut other) = (Vec::new(), Vec::new());
    for (name, value) in &map {
        let into = if SECRET_PARAMETERS.contains(&name.as_str()) {
            &mut secret
        } else {
            &mut other
        };
        collect_strings(Some(value), into);
    }
    secret.retain(|s| s.chars().count() >= 12 && !other.iter().any(|o| o.contains(s.as_str())));
    secret
}

fn collect_strings(value: Option<&Value>, into: &mut Vec<String>) {
    match value {
        Some(Value::String(s)) => into.push(s.clone()),
        Some(Value::Object(map)) => {
            for (k, v) in map {
                into.push(k.clone());
                collect_strings(Some(v), into);
            }
        }
        Some(Value::Array(items)) => items.iter().for_each(|v| collect_strings(Some(v), into)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn run(action: Action, body: &str) {
        let selector = Action::ALL
            .iter()
            .position(|a| *a == action)
            .expect("an action");
        let mut data = vec![u8::try_from(selector).expect("few actions")];
        data.extend_from_slice(body.as_bytes());
        request_parameters(&data);
    }

    /// `body` is a valid `action` request: it takes the round-trip path.
    fn accepted(action: Action, body: &str) {
        let parsed = round_trip(action, body.as_bytes());
        assert!(parsed.is_ok(), "{action} {body}: {parsed:?}");
        run(action, body);
    }

    /// The committed seeds of `fuzz/seeds/kms_params/`, each a case here.
    #[test]
    fn the_seeds_hold() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/kms_params");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/kms_params") {
            request_parameters(&std::fs::read(entry.expect("entry").path()).expect("seed"));
            seen += 1;
        }
        assert!(seen >= 4, "{seen} seeds in {}", dir.display());
    }

    /// Valid requests of the data plane take the round-trip path, and the
    /// check would see an echoed secret.
    #[test]
    fn valid_requests_round_trip_and_echoes_are_caught() {
        accepted(
            Action::Encrypt,
            r#"{"KeyId":"key-1","Plaintext":"aGVsbG8=","EncryptionContext":"{\"t\":\"orders\"}"}"#,
        );
        accepted(
            Action::ReEncrypt,
            r#"{"CiphertextBlob":"AQID","DestinationKeyId":"key-2","SourceEncryptionContext":{"a":"b"}}"#,
        );
        accepted(
            Action::GenerateDataKey,
            r#"{"KeyId":"alias/x","NumberOfBytes":"32"}"#,
        );
        accepted(
            Action::ScheduleKeyDeletion,
            r#"{"KeyId":"k","PendingWindowInDays":7}"#,
        );
        accepted(Action::ListAuditEvents, r#"{"Outcome":"ok"}"#);
        // A plaintext that is not base64 is refused without being quoted.
        run(
            Action::Encrypt,
            r#"{"KeyId":"k","Plaintext":"my secret card 4111-1111"}"#,
        );
        let err = round_trip(
            Action::Encrypt,
            br#"{"KeyId":"k","Plaintext":"my secret card 4111-1111"}"#,
        )
        .expect_err("not base64");
        assert!(!err.message().contains("4111"), "{}", err.message());
        // And the check itself sees a value that is quoted.
        assert_eq!(
            secret_values(br#"{"Plaintext":"a quoted value","KeyId":"not secret"}"#),
            ["a quoted value"]
        );
        // The same text sent in a parameter that may be quoted is not
        // counted (found by this test's generator: a KeySpec and a context
        // of the same date, the KeySpec quoted in its error).
        let same = br#"{"KeySpec":"2024-05-20T06:34:21Z","SourceEncryptionContext":"2024-05-20T06:34:21Z"}"#;
        assert!(secret_values(same).is_empty());
        let mut data = vec![0];
        data.extend_from_slice(same);
        request_parameters(&data);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_hold(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            request_parameters(&data);
        }

        /// Objects with the API's parameter names and values of any JSON
        /// type reach past the body parser into each request's reader.
        #[test]
        fn parameter_shaped_bodies_hold(
            selector in any::<u8>(),
            fields in proptest::collection::vec(
                (
                    prop::sample::select(vec![
                        "KeyId", "Plaintext", "CiphertextBlob", "EncryptionContext",
                        "NumberOfBytes", "KeySpec", "PendingWindowInDays", "RotationInterval",
                        "EnableAutomaticRotation", "AliasName", "DestinationKeyId",
                        "SourceEncryptionContext", "ImportToken", "EncryptedKeyMaterial",
                        "KeyMaterialExpireUnix", "Limit", "Outcome", "Since", "Origin",
                    ]),
                    prop_oneof![
                        "[A-Za-z0-9+/=]{0,24}".prop_map(Value::from),
                        any::<i64>().prop_map(Value::from),
                        any::<bool>().prop_map(Value::from),
                        Just(Value::Null),
                        "[a-z]{1,6}".prop_map(|k| serde_json::json!({ k: "secret value here" })),
                        "[0-9]{1,4}[dhms]".prop_map(Value::from),
                        Just(Value::from("2024-05-20T06:34:21Z")),
                    ],
                ),
                0..6,
            ),
        ) {
            let body = Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
            let mut data = vec![selector];
            data.extend(serde_json::to_vec(&body).expect("json"));
            request_parameters(&data);
        }
    }
}
