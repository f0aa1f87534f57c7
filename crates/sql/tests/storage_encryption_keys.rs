//! Storage encryption's permissions and keys against the embedded identity
//! service and KMS: only a Super_Administrator changes the setting; a BYOK
//! key must be the caller's and usable by them; the default key belongs to
//! the service; a disabled BYOK key stops reads once the cache TTL passed.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod storage_world;

use sealhouse_kms::KmsData;
use sealhouse_kms::api::{EncryptRequest, KeyRequest, ScheduleKeyDeletionRequest};
use storage_world::*;

const WAREHOUSE_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"odps:*","Resource":"*"}]}"#;

fn only_a_super_administrator_changes_encryption_and_a_deny_policy_forces_it_on(backend: Backend) {
    let w = World::on(backend);
    let mut owner = w.root_session();
    owner.ok("CREATE PROJECT guarded");
    owner.ok("USE guarded");
    w.add_user("admin", WAREHOUSE_ALL);
    w.add_user("sa", WAREHOUSE_ALL);
    owner.ok("ADD USER admin");
    owner.ok("ADD USER sa");
    owner.ok("GRANT Admin TO USER admin");
    owner.ok("GRANT Super_Administrator TO USER sa");
    let mut admin = w.session(user(A, "admin"), Duration::ZERO);
    let e = admin.error("ALTER PROJECT guarded ENABLE ENCRYPTION");
    assert!(e.contains("access denied"), "{e}");
    assert!(e.contains("Super_Administrator"), "{e}");
    assert_eq!(owner.property("guarded", "storage_encryption"), "disabled");
    let mut sa = w.session(user(A, "sa"), Duration::ZERO);
    sa.ok("ALTER PROJECT guarded ENABLE ENCRYPTION ALGORITHM AESCTR");
    assert_eq!(owner.property("guarded", "algorithm"), "AESCTR");
    // Once: even the Super_Administrator cannot change it again.
    let e = sa.error("ALTER PROJECT guarded ENABLE ENCRYPTION ALGORITHM AES256");
    assert!(e.contains("cannot be changed"), "{e}");

    // The spec's custom policy: new projects must be encrypted.
    w.iam
        .create_policy(
            &account(A),
            "require-encryption",
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"odps:CreateProject","Resource":"*","Condition":{"Bool":{"odps:StorageEncryption":"false"}}}]}"#,
            "",
        )
        .unwrap();
    w.iam
        .attach_policy(
            &AttachTarget::User {
                account: account(A),
                name: "admin".into(),
            },
            &PolicyRef::Custom {
                account: account(A),
                name: "require-encryption".into(),
            },
        )
        .unwrap();
    let e = admin.error("CREATE PROJECT clear_text");
    assert!(e.contains("require-encryption"), "{e}");
    assert!(w.catalog.project("clear_text").is_err());
    admin.ok("CREATE PROJECT sealed ENCRYPTION ALGORITHM AES256");
    assert_eq!(owner.property("sealed", "storage_encryption"), "enabled");
}

#[test]
fn a_byok_key_must_be_the_callers_and_usable_by_them() {
    let w = World::new();
    // A user allowed the warehouse but no KMS action.
    w.add_user("no-kms", WAREHOUSE_ALL);
    let mut s = w.session(user(A, "no-kms"), Duration::ZERO);
    let e = s.error(&format!(
        "CREATE PROJECT mine ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("kms:DescribeKey"), "{e}");
    assert!(w.catalog.project("mine").is_err());
    // Account B's root may not use A's key.
    let mut b = w.session(root(B), Duration::ZERO);
    let e = b.error(&format!(
        "CREATE PROJECT theirs ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("must belong to the caller's own account"), "{e}");
    let typed = b.typed_error(&format!(
        "CREATE PROJECT theirs ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert_eq!(typed.sqlstate(), "42501", "{typed}");
    // A disabled key is refused, naming its state.
    w.kms
        .as_principal(root(A))
        .disable_key(&KeyRequest::new(w.key_arn.clone()))
        .unwrap();
    let mut a = w.root_session();
    let e = a.error(&format!(
        "CREATE PROJECT off ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert!(e.contains("Disabled"), "{e}");
    let typed = a.typed_error(&format!(
        "CREATE PROJECT off ENCRYPTION KEY '{}'",
        w.key_arn
    ));
    assert_eq!(typed.sqlstate(), "55000", "{typed}");
}

#[test]
fn the_default_key_belongs_to_the_service_and_cannot_be_granted() {
    let w = World::new();
    let mut s = w.root_session();
    s.ok("CREATE PROJECT d ENCRYPTION");
    let arn = s.property("d", "key_arn");
    assert_eq!(s.property("d", "key_type"), "DEFAULT");
    assert!(arn.contains(":0000000000000000:key/"), "{arn}");
    // Not even the project owner account's root, with every KMS permission,
    // can use it.
    let direct = w.kms.as_principal(root(A)).encrypt(&EncryptRequest {
        key_id: arn.clone(),
        plaintext: sealhouse_crypto::SecretBytes::new(b"x".to_vec()),
        encryption_context: EncryptionContext::new(),
    });
    assert!(direct.is_err(), "the default key was usable by account A");
    w.add_user(
        "greedy",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    );
    // Seeing is not using: the owner account's principals whose policies
    // allow DescribeKey see the key (spec 002: "view the details of this
    // key in the KMS console"), and still cannot use it.
    let greedy = w.kms.as_principal(user(A, "greedy"));
    let described = greedy
        .describe_key(&KeyRequest::new(arn.clone()))
        .expect("the owner account's KMS administrator sees the default key");
    assert_eq!(described.key_metadata.arn, arn);
    let used = greedy.encrypt(&EncryptRequest {
        key_id: arn.clone(),
        plaintext: sealhouse_crypto::SecretBytes::new(b"x".to_vec()),
        encryption_context: EncryptionContext::new(),
    });
    assert!(used.is_err(), "the default key was usable by a RAM user");
    // Another account sees nothing.
    let other = w
        .kms
        .as_principal(root(B))
        .describe_key(&KeyRequest::new(arn));
    assert!(
        other.is_err(),
        "the default key was visible to another account"
    );
}

fn a_disabled_byok_key_stops_reads_once_the_cache_ttl_has_passed(backend: Backend) {
    let w = World::on(backend);
    let ttl = Duration::from_secs(600);
    for algorithm in StorageAlgorithm::ALL {
        let project = format!("ttl_{}", algorithm.name().to_lowercase());
        let mut s = w.session(root(A), ttl);
        s.ok(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm} KEY '{}'",
            w.key_arn
        ));
        s.ok(&format!("USE {project}"));
        s.ok(CREATE_T);
        s.insert_marked("t", 1, 100);
        assert_eq!(s.check("t").0, "100");
        let root_kms = w.kms.as_principal(root(A));
        root_kms
            .disable_key(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        // Within the TTL the cached keys still read.
        w.clock.advance(time::Duration::seconds(599));
        assert_eq!(s.check("t").0, "100", "{algorithm} within the TTL");
        // Writes need a fresh data key from the KMS: they stop at once.
        let e = s.typed_error(&format!("INSERT INTO t VALUES (1, '{MARKER}-1')"));
        assert!(e.to_string().contains("Disabled"), "{algorithm}: {e}");
        assert_eq!(e.sqlstate(), "55000", "{algorithm}: {e}");
        w.clock.advance(time::Duration::seconds(2));
        // (count(*) alone is answered from the catalog's row counts.)
        let e = s.error("SELECT sum(id) FROM t");
        if algorithm == StorageAlgorithm::Aes256 {
            assert!(
                e.contains(&format!(
                    "cannot read encrypted project '{project}' (AES256 with key {}",
                    w.key_arn
                )),
                "{e}"
            );
        }
        assert!(
            e.contains(&w.key_arn) || e.contains("key/"),
            "{algorithm}: {e}"
        );
        assert!(e.contains("Disabled"), "{algorithm}: {e}");
        let typed = s.typed_error("SELECT sum(id) FROM t");
        assert_eq!(typed.sqlstate(), "55000", "{algorithm}: {typed}");
        root_kms
            .enable_key(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        assert_eq!(s.check("t").0, "100", "{algorithm} after enabling");
        s.insert_marked("t", 101, 1);
        // Scheduled deletion: the same, naming the state.
        root_kms
            .schedule_key_deletion(&ScheduleKeyDeletionRequest {
                key_id: w.key_arn.clone(),
                pending_window_in_days: 7,
            })
            .unwrap();
        w.clock.advance(time::Duration::seconds(601));
        let e = s.error("SELECT sum(id) FROM t");
        assert!(e.contains("PendingDeletion"), "{algorithm}: {e}");
        root_kms
            .cancel_key_deletion(&KeyRequest::new(w.key_arn.clone()))
            .unwrap();
        assert_eq!(s.check("t").0, "101");
    }
}

/// The keys a process wraps for the files it writes are remembered by its
/// KMS cache: merging the small files it just wrote (which reads each back)
/// makes no Decrypt call, where each file used to cost one.
fn files_written_here_are_read_back_without_a_decrypt_call(backend: Backend) {
    use sealhouse_kms::Kms;
    use sealhouse_kms::api::ListAuditEventsRequest;
    let w = World::on(backend);
    let decrypts = || {
        w.kms
            .as_principal(root(A))
            .list_audit_events(&ListAuditEventsRequest {
                key_id: Some(w.key_arn.clone()),
                action: Some("Decrypt".into()),
                ..Default::default()
            })
            .unwrap()
            .total_count
    };
    for algorithm in StorageAlgorithm::ALL {
        let project = format!("back_{}", algorithm.name().to_lowercase());
        let mut s = w.session(root(A), Duration::from_secs(600));
        s.ok(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm} KEY '{}'",
            w.key_arn
        ));
        s.ok(&format!("USE {project}"));
        s.ok(CREATE_T);
        for i in 0..3 {
            s.insert_marked("t", 1 + 10 * i, 10);
        }
        let before = decrypts();
        s.ok("ALTER TABLE t MERGE SMALLFILES");
        assert_eq!(s.check("t").0, "30", "{algorithm}");
        assert_eq!(
            decrypts(),
            before,
            "{algorithm}: files read back from the cache"
        );
    }
}

on_both_backends!(
    only_a_super_administrator_changes_encryption_and_a_deny_policy_forces_it_on,
    a_disabled_byok_key_stops_reads_once_the_cache_ttl_has_passed,
    files_written_here_are_read_back_without_a_decrypt_call,
);
