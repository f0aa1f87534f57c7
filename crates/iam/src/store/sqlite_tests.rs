use time::OffsetDateTime;

use super::*;
use crate::principal::Principal;

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn acct(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

fn account(store: &SqliteStore, uid: &str) {
    let a = acct(uid);
    let key = AccessKeyRecord {
        id: format!("LTAI{uid}"),
        owner: Principal::Root { account: a.clone() },
        status: AccessKeyStatus::Active,
        sealed_secret: b"sealed".to_vec(),
        created_at: t(1),
    };
    store
        .insert_account(
            &Account {
                id: a,
                created_at: t(1),
            },
            &key,
        )
        .unwrap();
}

fn role(uid: &str, name: &str) -> Role {
    Role {
        account: acct(uid),
        name: name.into(),
        trust_policy: "{}".into(),
        max_session_duration: 3600,
        description: "d".into(),
        created_at: t(2),
    }
}

#[test]
fn records_round_trip() {
    let store = SqliteStore::open_in_memory().unwrap();
    account(&store, "1");
    assert_eq!(store.account(&acct("1")).unwrap().unwrap().created_at, t(1));
    assert!(store.account(&acct("2")).unwrap().is_none());
    let key = store.access_key("LTAI1").unwrap().unwrap();
    assert_eq!(key.owner, Principal::Root { account: acct("1") });
    assert_eq!(key.sealed_secret, b"sealed");

    store.insert_role(&role("1", "Mf-Secr")).unwrap();
    let got = store.role(&acct("1"), "MF-SECR").unwrap().unwrap();
    assert_eq!(got, role("1", "Mf-Secr"));
    store
        .set_role_trust_policy(&acct("1"), "mf-secr", "{\"x\":1}")
        .unwrap();
    assert_eq!(
        store
            .role(&acct("1"), "mf-secr")
            .unwrap()
            .unwrap()
            .trust_policy,
        "{\"x\":1}"
    );

    let user = User {
        account: acct("1"),
        name: "Alice".into(),
        created_at: t(3),
    };
    store.insert_user(&user).unwrap();
    assert_eq!(store.user(&acct("1"), "alice").unwrap().unwrap(), user);

    let policy = CustomPolicy {
        account: acct("1"),
        name: "P".into(),
        description: String::new(),
        document: "doc".into(),
        created_at: t(4),
    };
    store.insert_policy(&policy).unwrap();
    assert_eq!(store.policy(&acct("1"), "P").unwrap().unwrap(), policy);
    assert!(store.policy(&acct("1"), "p").unwrap().is_none());
}

#[test]
fn uniqueness_ignores_name_case() {
    let store = SqliteStore::open_in_memory().unwrap();
    account(&store, "1");
    store.insert_role(&role("1", "r")).unwrap();
    let err = store.insert_role(&role("1", "R")).unwrap_err();
    assert_eq!(
        err,
        StoreError::AlreadyExists {
            kind: "role",
            name: "acs:ram::1:role/r".into()
        }
    );
    let err = store
        .insert_account(
            &Account {
                id: acct("1"),
                created_at: t(1),
            },
            &store.access_key("LTAI1").unwrap().unwrap(),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::AlreadyExists {
            kind: "account",
            ..
        }
    ));
    // The failed transaction left nothing behind.
    assert!(store.access_key("LTAI1").unwrap().is_some());
}

#[test]
fn attachments_keep_their_order_and_refuse_repeats() {
    let store = SqliteStore::open_in_memory().unwrap();
    account(&store, "1");
    let target = AttachTarget::Role {
        account: acct("1"),
        name: "R".into(),
    };
    let p1 = PolicyRef::System("B".into());
    let p2 = PolicyRef::Custom {
        account: acct("1"),
        name: "A".into(),
    };
    store.attach(&target, &p1).unwrap();
    store.attach(&target, &p2).unwrap();
    assert!(matches!(
        store.attach(&target, &p1),
        Err(StoreError::AlreadyExists { .. })
    ));
    let same = AttachTarget::Role {
        account: acct("1"),
        name: "r".into(),
    };
    assert_eq!(store.attached(&same).unwrap(), vec![p1.clone(), p2.clone()]);
    let user = AttachTarget::User {
        account: acct("1"),
        name: "r".into(),
    };
    assert!(store.attached(&user).unwrap().is_empty());
    store.detach(&target, &p1).unwrap();
    assert!(matches!(
        store.detach(&target, &p1),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.attached(&target).unwrap(), vec![p2]);
}

#[test]
fn sts_sessions_expire() {
    let store = SqliteStore::open_in_memory().unwrap();
    let s = StsSessionRecord {
        access_key_id: "STS.x".into(),
        principal: Principal::AssumedRole {
            account: acct("1"),
            role: "r".into(),
            session: "s1".into(),
        },
        sealed_secret: vec![1, 2],
        token_sha256: [7; 32],
        expires_at: t(100),
        created_at: t(10),
    };
    store.insert_sts_session(&s).unwrap();
    assert_eq!(store.sts_session("STS.x").unwrap().unwrap(), s);
    assert_eq!(store.delete_expired_sts_sessions(t(100)).unwrap(), 0);
    assert_eq!(store.delete_expired_sts_sessions(t(101)).unwrap(), 1);
    assert!(store.sts_session("STS.x").unwrap().is_none());
    assert!(matches!(
        store.set_access_key_status("nope", AccessKeyStatus::Inactive),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn a_file_database_survives_reopening_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        account(&store, "5");
        store.insert_role(&role("5", "kept")).unwrap();
        let conn = store.lock().unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.role(&acct("5"), "kept").unwrap().is_some());
    drop(store);

    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        err.to_string().contains("schema version 99 is newer"),
        "{err}"
    );
}
