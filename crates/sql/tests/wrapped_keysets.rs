//! Wrapped keysets in SQL against the embedded identity service and KMS: the
//! spec's "Use keysets with KMS" examples, rotation and rewrapping, one
//! unwrap per query, the cache TTL against key state changes, and the errors.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{cell, text};
use sealhouse_iam::{AccountId, AttachTarget, Iam, ManualClock, PolicyRef, Principal};
use sealhouse_kms::api::{CreateKeyRequest, KeyRequest, ListAuditEventsRequest};
use sealhouse_kms::{ErrorCode, Kms, KmsService};
use sealhouse_sql::{SqlError, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

use common::{ACCOUNT_A as A, Identities, WorldSession};
const TRUSTS_MAXCOMPUTE: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}"#;
// The spec's PassRole policy for USER_A, verbatim.
const PASS_MF_SECR: &str = r#"{ "Statement": [ { "Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/mf-secr" } ], "Version": "1" }"#;

const WAREHOUSE_USER: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"odps:*","Resource":"acs:odps:*:1892732288741234:projects/default*"}]}"#;

/// Account A with the spec's setup: role mf-secr (trusts the warehouse,
/// AliyunKMSCryptoUserAccess), RAM user user_a allowed to pass it, a CMK.
struct World {
    dir: tempfile::TempDir,
    iam: Arc<Iam>,
    kms: KmsService,
    clock: Arc<ManualClock>,
    key_arn: String,
    role_arn: String,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> Self {
        let identities = Identities::new();
        let key_arn = identities.new_cmk(A);
        let Identities {
            dir,
            iam,
            kms,
            clock,
        } = identities;
        let account = AccountId::new(A).unwrap();
        iam.create_role(&account, "mf-secr", TRUSTS_MAXCOMPUTE, None, "")
            .unwrap();
        let role = AttachTarget::Role {
            account: account.clone(),
            name: "mf-secr".into(),
        };
        iam.attach_policy(
            &role,
            &PolicyRef::System("AliyunKMSCryptoUserAccess".into()),
        )
        .unwrap();
        iam.create_user(&account, "user_a").unwrap();
        // USER_A may use the warehouse's default project (issue 9's RAM actions).
        iam.create_policy(&account, "warehouse", WAREHOUSE_USER, "")
            .unwrap();
        iam.attach_policy(
            &AttachTarget::User {
                account: account.clone(),
                name: "user_a".into(),
            },
            &PolicyRef::Custom {
                account: account.clone(),
                name: "warehouse".into(),
            },
        )
        .unwrap();
        iam.create_policy(&account, "pass-mf-secr", PASS_MF_SECR, "")
            .unwrap();
        iam.attach_policy(
            &AttachTarget::User {
                account: account.clone(),
                name: "user_a".into(),
            },
            &PolicyRef::Custom {
                account,
                name: "pass-mf-secr".into(),
            },
        )
        .unwrap();
        let runtime = common::runtime();
        Self {
            dir,
            iam,
            kms,
            clock,
            key_arn,
            role_arn: format!("acs:ram::{A}:role/mf-secr"),
            runtime,
        }
    }

    fn user_a() -> Principal {
        Principal::User {
            account: AccountId::new(A).unwrap(),
            name: "user_a".into(),
        }
    }

    fn root(&self) -> impl Kms {
        self.kms.as_principal(Principal::Root {
            account: AccountId::new(A).unwrap(),
        })
    }

    /// A session of USER_A with a KMS cache of `ttl` on the test's clock.
    fn session(&self, ttl: Duration) -> Session<'_> {
        let keys = common::services(&self.iam, &self.kms, &self.clock, ttl);
        let catalog =
            Catalog::open(&self.dir.path().join("warehouse"), common::catalog_key()).unwrap();
        WorldSession::new(
            self,
            common::Session::new(
                &self.runtime,
                SqlSession::with_identity(catalog, Self::user_a(), keys),
            ),
        )
    }

    /// `USE_WRAPPED_KEYSET(key, role, UNHEX('<hex>'))`.
    fn use_keyset(&self, hex: &str) -> String {
        format!(
            "USE_WRAPPED_KEYSET('{}', '{}', UNHEX('{hex}'))",
            self.key_arn, self.role_arn
        )
    }

    /// Decrypt calls of the CMK in the audit log.
    fn unwraps(&self) -> u64 {
        self.root()
            .list_audit_events(&ListAuditEventsRequest {
                key_id: Some(self.key_arn.clone()),
                action: Some("Decrypt".into()),
                ..Default::default()
            })
            .unwrap()
            .total_count
    }
}

type Session<'w> = WorldSession<'w, World>;

impl Session<'_> {
    fn new_wrapped_hex(&mut self, algorithm: &str) -> String {
        let sql = format!(
            "SELECT HEX(NEW_WRAPPED_KEYSET('{}', '{}', '{algorithm}', 'hello'))",
            self.world.key_arn, self.world.role_arn
        );
        text(&self.rows(&sql), 0, 0)
    }
}

#[test]
fn the_spec_kms_examples_run_as_written() {
    let w = World::new();
    let mut s = w.session(Duration::from_secs(24 * 3600));
    let (key, role) = (&w.key_arn, &w.role_arn);
    // "Prepare test data", then "Encrypt and decrypt data with a wrapped keyset".
    s.ok("CREATE TABLE mf_test_data (id STRING, name STRING, tel STRING)");
    s.ok(
        "INSERT INTO mf_test_data VALUES ('1', 'kyle', '13900001234'), ('2', 'tom', '13900001111')",
    );
    s.ok("CREATE TABLE mf_keyset_kms (id STRING, ks BINARY)");
    s.ok(&format!(
        "INSERT INTO mf_keyset_kms SELECT '1', NEW_WRAPPED_KEYSET( '{key}', '{role}', 'AES-GCM-256', 'description' )"
    ));
    let stored = s.rows("SELECT id, HEX(ks) FROM mf_keyset_kms");
    let hex = text(&stored, 0, 1);
    // As the spec's output shows: hex of base64 text starting with the CMK
    // id (`a2V5L` is base64 of `key-`; the next letters vary with the id).
    assert!(hex.starts_with("613256354C"), "{hex}");
    let use_ks = w.use_keyset(&hex);
    let encrypted = s.rows(&format!(
        "SELECT id, name, ENHANCED_SYM_ENCRYPT( {use_ks}, tel ) AS tel FROM mf_test_data"
    ));
    assert_eq!(encrypted.names, ["id", "name", "tel"]);
    assert_eq!(cell(&encrypted, 0, 2).unwrap().len(), 11 + 60);
    let decrypted = s.rows(&format!(
        "SELECT id, name, ENHANCED_SYM_DECRYPT( {use_ks}, ENHANCED_SYM_ENCRYPT( {use_ks}, tel ), '' ) AS tel FROM mf_test_data ORDER BY id"
    ));
    assert_eq!(text(&decrypted, 0, 2), "13900001234");
    assert_eq!(text(&decrypted, 1, 2), "13900001111");

    // Stored ciphertexts decrypt in a later statement; script-mode
    // variables as in the ROTATE_WRAPPED_KEYSET reference.
    s.ok(&format!(
        "CREATE TABLE mf_enc AS SELECT id, ENHANCED_SYM_ENCRYPT({use_ks}, tel) AS tel FROM mf_test_data"
    ));
    let outputs = s.script(&format!(
        "@kms_resource_keyId := '{key}';\n\
         @role_arn := '{role}';\n\
         @origin_key := unhex('{hex}');\n\
         select hex(ROTATE_WRAPPED_KEYSET(@kms_resource_keyId, @role_arn, @origin_key, 'AES-GCM-256', 'hello world'));\n\
         SELECT CAST(ENHANCED_SYM_DECRYPT(USE_WRAPPED_KEYSET(@kms_resource_keyId, @role_arn, @origin_key), tel) AS STRING) FROM mf_enc ORDER BY id;"
    ));
    let StatementOutput::Rows(rotated) = &outputs[3] else {
        panic!("rows")
    };
    assert!(text(rotated, 0, 0).starts_with("613256354C"));
    let StatementOutput::Rows(plain) = &outputs[4] else {
        panic!("rows")
    };
    assert_eq!(text(plain, 0, 0), "13900001234");

    // A stored wrapped keyset copied into a variable with a scalar subquery.
    let outputs = s.script(&format!(
        "@ks := (SELECT ks FROM mf_keyset_kms WHERE id = '1');\n\
         SELECT CAST(ENHANCED_SYM_DECRYPT(USE_WRAPPED_KEYSET('{key}', '{role}', @ks), tel) AS STRING) FROM mf_enc WHERE id = '2';"
    ));
    let StatementOutput::Rows(plain) = &outputs[1] else {
        panic!("rows")
    };
    assert_eq!(text(plain, 0, 0), "13900001111");

    // The metadata, with the key material masked.
    let json = text(&s.rows(&format!("SELECT KEYSET_TO_JSON({use_ks})")), 0, 0);
    assert!(
        json.contains("\"value\": \"<masked: wrapped keyset>\""),
        "{json}"
    );
    assert!(json.contains("\"description\": \"description\""), "{json}");

    // The original's wrapped_keyset_info (issue 21, item 7): what was named
    // and the keyset's metadata, read as scripts for it do; no key material.
    let info = text(
        &s.rows(&format!("SELECT {use_ks}.wrapped_keyset_info")),
        0,
        0,
    );
    let parsed: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(parsed["kms_cmk_arn"], key.as_str(), "{info}");
    assert_eq!(parsed["role_arn"], role.as_str(), "{info}");
    assert_eq!(
        parsed["masked_keyset"]["key"][0]["description"], "description",
        "{info}"
    );
    assert!(!info.contains("\"value\""), "key material in {info}");
    let key_type = s.rows(&format!(
        "SELECT GET_JSON_OBJECT({use_ks}.wrapped_keyset_info, \
         '$.masked_keyset.key[0].key_meta_data.type') AS t, \
         GET_JSON_OBJECT({use_ks}['wrapped_keyset_info'], '$.masked_keyset.primary_key_id') AS p"
    ));
    assert_eq!(text(&key_type, 0, 0), "AES-GCM-256");
    assert_eq!(
        text(&key_type, 0, 1),
        parsed["masked_keyset"]["key"][0]["key_id"]
            .as_str()
            .unwrap()
    );
    // With the CMK from a column, per row: each row's info names it.
    s.ok(&format!(
        "CREATE TABLE cmks AS SELECT '{key}' AS cmk UNION ALL SELECT '{key}'"
    ));
    let per_row = s.rows(&format!(
        "SELECT GET_JSON_OBJECT(USE_WRAPPED_KEYSET(cmk, '{role}', UNHEX('{hex}')).wrapped_keyset_info, \
         '$.kms_cmk_arn') FROM cmks"
    ));
    assert_eq!(text(&per_row, 0, 0), key.as_str());
    assert_eq!(text(&per_row, 1, 0), key.as_str());
    // The keyset field is what the ciphers take, whole or alone.
    let round_trip = s.rows(&format!(
        "SELECT CAST(ENHANCED_SYM_DECRYPT({use_ks}.keyset, \
         ENHANCED_SYM_ENCRYPT({use_ks}, 'x')) AS STRING)"
    ));
    assert_eq!(text(&round_trip, 0, 0), "x");
}

#[test]
fn rotation_and_rewrap_keep_old_ciphertexts_readable() {
    let w = World::new();
    let mut s = w.session(Duration::from_secs(3600));
    let original = s.new_wrapped_hex("AES-GCM-256");
    s.ok("CREATE TABLE t (tel STRING)");
    s.ok("INSERT INTO t VALUES ('13900001234'), ('13900001111')");
    s.ok(&format!(
        "CREATE TABLE e AS SELECT tel, ENHANCED_SYM_ENCRYPT({}, tel) AS c FROM t",
        w.use_keyset(&original)
    ));

    // Rotate to AES-SIV-CMAC-256: the new primary key is deterministic.
    let rotated = text(
        &s.rows(&format!(
            "SELECT HEX(ROTATE_WRAPPED_KEYSET('{}', '{}', UNHEX('{original}'), 'AES-SIV-CMAC-256', 'siv'))",
            w.key_arn, w.role_arn
        )),
        0,
        0,
    );
    assert_ne!(rotated, original);
    let use_rotated = w.use_keyset(&rotated);
    let same = s.rows(&format!(
        "SELECT count(*) FROM e WHERE CAST(ENHANCED_SYM_DECRYPT({use_rotated}, c) AS STRING) = tel"
    ));
    assert_eq!(
        text(&same, 0, 0),
        "2",
        "old ciphertexts decrypt after rotation"
    );
    let twice = s.rows(&format!(
        "SELECT ENHANCED_SYM_ENCRYPT({use_rotated}, 'x') = ENHANCED_SYM_ENCRYPT({use_rotated}, 'x'), \
                ENHANCED_SYM_ENCRYPT({use_gcm}, 'x') = ENHANCED_SYM_ENCRYPT({use_gcm}, 'x')",
        use_gcm = w.use_keyset(&original)
    ));
    assert_eq!(
        text(&twice, 0, 0),
        "true",
        "AES-SIV after rotation: deterministic"
    );
    assert_eq!(text(&twice, 0, 1), "false", "AES-GCM: random IVs");

    // Rewrap under a second CMK: the same keyset, a different wrapping.
    let second = w
        .root()
        .create_key(&CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .arn;
    let rewrapped = text(
        &s.rows(&format!(
            "SELECT HEX(REWRAP_KEYSET('{second}', '{}', UNHEX('{rotated}')))",
            w.role_arn
        )),
        0,
        0,
    );
    assert_ne!(rewrapped, rotated);
    let by_second = format!(
        "USE_WRAPPED_KEYSET('{second}', '{}', UNHEX('{rewrapped}'))",
        w.role_arn
    );
    let same = s.rows(&format!(
        "SELECT count(*) FROM e WHERE CAST(ENHANCED_SYM_DECRYPT({by_second}, c) AS STRING) = tel"
    ));
    assert_eq!(
        text(&same, 0, 0),
        "2",
        "old ciphertexts decrypt after rewrap"
    );
    // Naming the wrong CMK is refused, saying which one wrapped it.
    let err = s.error(&format!("SELECT {}", w.use_keyset(&rewrapped)));
    assert!(err.contains("was wrapped by CMK key-"), "{err}");
    assert!(err.contains("pass that CMK's ARN"), "{err}");
}

#[test]
fn one_unwrap_for_a_million_rows_even_without_a_cache() {
    let w = World::new();
    // TTL 0: no cache at all, so only the per-statement rule keeps it to one.
    let mut s = w.session(Duration::ZERO);
    let hex = s.new_wrapped_hex("AES-GCM-256");
    let before = w.unwraps();
    let use_ks = w.use_keyset(&hex);
    let rows = s.rows(&format!(
        "SELECT count(*), \
                sum(CASE WHEN CAST(ENHANCED_SYM_DECRYPT({use_ks}, c) AS STRING) = v THEN 1 ELSE 0 END) \
         FROM (SELECT CAST(value AS STRING) AS v, ENHANCED_SYM_ENCRYPT({use_ks}, CAST(value AS STRING)) AS c \
               FROM range(1000000))"
    ));
    assert_eq!(text(&rows, 0, 0), "1000000");
    assert_eq!(
        text(&rows, 0, 1),
        "1000000",
        "every ciphertext decrypts to its value"
    );
    assert_eq!(
        w.unwraps() - before,
        1,
        "one KMS Decrypt for the whole query"
    );
}

#[test]
fn key_state_changes_take_effect_when_the_cache_expires() {
    let w = World::new();
    let probe = |s: &mut Session<'_>, hex: &str| {
        s.try_sql(&format!(
            "SELECT ENHANCED_SYM_DECRYPT({ks}, ENHANCED_SYM_ENCRYPT({ks}, 'v'))",
            ks = w.use_keyset(hex)
        ))
    };
    let disable = || w.root().disable_key(&KeyRequest::new(&w.key_arn)).unwrap();
    let enable = || w.root().enable_key(&KeyRequest::new(&w.key_arn)).unwrap();

    // TTL 0: the next query after disabling fails, naming the key and state.
    let mut s = w.session(Duration::ZERO);
    let hex = s.new_wrapped_hex("AES-GCM-256");
    probe(&mut s, &hex).unwrap();
    disable();
    let err = probe(&mut s, &hex).unwrap_err();
    assert!(err.contains("USE_WRAPPED_KEYSET"), "{err}");
    // The KMS's own code travels with the error: SQLSTATE 55000.
    let typed = s
        .try_typed(&format!("SELECT KEYSET_TO_JSON({})", w.use_keyset(&hex)))
        .expect_err("disabled");
    assert!(
        matches!(
            &typed,
            SqlError::Kms {
                code: ErrorCode::Disabled,
                ..
            }
        ),
        "{typed:?}"
    );
    assert_eq!(typed.sqlstate(), "55000");
    assert!(err.contains("Disabled"), "{err}");
    assert!(err.contains(w.key_arn.rsplit('/').next().unwrap()), "{err}");
    enable();
    probe(&mut s, &hex).unwrap();

    // TTL 10 minutes: works until expiry, fails after, works once enabled.
    let mut s = w.session(Duration::from_secs(600));
    probe(&mut s, &hex).unwrap();
    disable();
    w.clock.advance(time::Duration::seconds(599));
    probe(&mut s, &hex).expect("cached until the TTL passes");
    w.clock.advance(time::Duration::seconds(2));
    let err = probe(&mut s, &hex).unwrap_err();
    assert!(err.contains("Disabled"), "{err}");
    enable();
    probe(&mut s, &hex).expect("re-enabled");
}

#[test]
fn wrapped_keyset_mistakes_get_clear_errors() {
    let w = World::new();
    let mut s = w.session(Duration::from_secs(3600));
    let hex = s.new_wrapped_hex("AES-GCM-256");
    s.ok("CREATE TABLE k (ks BINARY)");
    s.ok(&format!("INSERT INTO k VALUES (UNHEX('{hex}'))"));
    s.ok("CREATE TABLE t (tel STRING)");
    s.ok("INSERT INTO t VALUES ('1')");
    let before = w.unwraps();

    // A column as the wrapped keyset: refused while planning, no KMS call.
    let err = s.error(&format!(
        "SELECT ENHANCED_SYM_ENCRYPT(USE_WRAPPED_KEYSET('{}', '{}', k.ks), t.tel) FROM t JOIN k",
        w.key_arn, w.role_arn
    ));
    assert!(err.contains("wrapped_keyset must be a constant"), "{err}");
    assert!(err.contains("not a column"), "{err}");
    let err = s.error(&format!(
        "SELECT USE_WRAPPED_KEYSET('{}', '{}', (SELECT ks FROM k))",
        w.key_arn, w.role_arn
    ));
    assert!(err.contains("must be a constant"), "{err}");
    assert_eq!(w.unwraps(), before);

    // Hex text where the bytes belong.
    let err = s.error(&format!(
        "SELECT USE_WRAPPED_KEYSET('{}', '{}', '{hex}')",
        w.key_arn, w.role_arn
    ));
    assert!(err.contains("hex text") && err.contains("UNHEX"), "{err}");
    // Not an ARN of a key; not a role ARN.
    let err = s.error(&format!(
        "SELECT USE_WRAPPED_KEYSET('{}', '{}', UNHEX('{hex}'))",
        w.role_arn, w.role_arn
    ));
    assert!(
        err.contains("kms_cmk_arn") && err.contains("not a KMS key ARN"),
        "{err}"
    );
    let err = s.error(&format!(
        "SELECT USE_WRAPPED_KEYSET('{}', 'mf-secr', UNHEX('{hex}'))",
        w.key_arn
    ));
    assert!(err.contains("role_arn"), "{err}");
    // A role the caller may not pass: the chain step is named.
    let err = s.error(&format!(
        "SELECT NEW_WRAPPED_KEYSET('{}', 'acs:ram::{A}:role/other', 'AES-GCM-256', 'x')",
        w.key_arn
    ));
    assert!(err.contains("role chain step 1 (PassRole"), "{err}");
    assert!(err.contains(&format!("acs:ram::{A}:user/user_a")), "{err}");
    let typed = s
        .try_typed(&format!(
            "SELECT NEW_WRAPPED_KEYSET('{}', 'acs:ram::{A}:role/other', 'AES-GCM-256', 'x')",
            w.key_arn
        ))
        .expect_err("refused");
    let SqlError::AccessDenied(denial) = &typed else {
        panic!("{typed:?}")
    };
    assert_eq!(denial.principal, format!("acs:ram::{A}:user/user_a"));
    assert_eq!(denial.action, "ram:PassRole");
    assert_eq!(denial.resource, format!("acs:ram::{A}:role/other"));
    assert_eq!(typed.sqlstate(), "42501");
    // Unknown algorithm; wrong argument count.
    let err = s.error(&format!(
        "SELECT NEW_WRAPPED_KEYSET('{}', '{}', 'DES', 'x')",
        w.key_arn, w.role_arn
    ));
    assert!(
        err.contains("NEW_WRAPPED_KEYSET") && err.contains("DES"),
        "{err}"
    );
    let err = s.error(&format!(
        "SELECT REWRAP_KEYSET('{}', '{}')",
        w.key_arn, w.role_arn
    ));
    assert!(err.contains("REWRAP_KEYSET takes"), "{err}");

    // A keyset reference is no plaintext keyset, and lives for its statement.
    let use_ks = w.use_keyset(&hex);
    let err = s.error(&format!("SELECT ROTATE_KEYSET({use_ks}, 'AES-GCM-256')"));
    assert!(err.contains("ROTATE_WRAPPED_KEYSET"), "{err}");
    s.ok(&format!("CREATE TABLE refs AS SELECT {use_ks}.keyset AS r"));
    let err = s.error("SELECT ENHANCED_SYM_ENCRYPT(r, 'x') FROM refs");
    assert!(err.contains("no longer valid"), "{err}");

    // A session without key services says what is missing.
    let catalog = Catalog::open(&w.dir.path().join("other"), common::catalog_key()).unwrap();
    let mut bare = SqlSession::new(catalog);
    let err = w
        .runtime
        .block_on(bare.execute(&format!("SELECT {use_ks}")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("this session has no KMS"), "{err}");

    // Nothing stored was harmed.
    assert_eq!(text(&s.rows("SELECT count(*) FROM k"), 0, 0), "1");
}
