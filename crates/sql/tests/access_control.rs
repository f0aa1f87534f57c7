//! Warehouse access control end to end: a matrix of identities and
//! statements where exactly the allowed ones succeed and a refused one
//! changes nothing; the policy that requires encrypted projects; who may hand
//! out Super_Administrator.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::text;
use common::{Backend, TableFiles};
use sealhouse_iam::{AttachTarget, Iam, PolicyRef, Principal};
use sealhouse_sql::{IdentityServices, SqlSession, StatementOutput};
use sealhouse_storage::Catalog;

use common::{ACCOUNT_A as A, ACCOUNT_B as B, Identities, Session, account};

struct World {
    _dir: tempfile::TempDir,
    _files: TableFiles,
    iam: Arc<Iam>,
    services: Arc<IdentityServices>,
    catalog: Arc<Catalog>,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn on(backend: Backend) -> Self {
        let identities = Identities::new();
        let services = identities.services(Duration::from_secs(60));
        let Identities { dir, iam, .. } = identities;
        let files = TableFiles::new(backend);
        let catalog = files.open(&dir.path().join("warehouse"));
        Self {
            _dir: dir,
            _files: files,
            iam,
            services,
            catalog,
            runtime: common::runtime(),
        }
    }

    /// A RAM user of `uid` with the given custom policies (name, document).
    fn user(&self, uid: &str, name: &str, policies: &[(&str, &str)]) -> Principal {
        self.iam.create_user(&account(uid), name).unwrap();
        for (policy, document) in policies {
            let policy = format!("{name}-{policy}");
            self.iam
                .create_policy(&account(uid), &policy, document, "")
                .unwrap();
            self.iam
                .attach_policy(
                    &AttachTarget::User {
                        account: account(uid),
                        name: name.into(),
                    },
                    &PolicyRef::Custom {
                        account: account(uid),
                        name: policy,
                    },
                )
                .unwrap();
        }
        Principal::User {
            account: account(uid),
            name: name.into(),
        }
    }

    fn session(&self, who: &Principal, project: &str) -> Session {
        let mut s = Session::new(
            &self.runtime,
            SqlSession::with_identity(
                Arc::clone(&self.catalog),
                who.clone(),
                Arc::clone(&self.services),
            ),
        );
        s.ok(&format!("USE {project}"));
        s
    }
}

fn root(uid: &str) -> Principal {
    Principal::Root {
        account: account(uid),
    }
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

/// Everything a refused statement must leave as it was, seen by the owner.
fn snapshot(world: &World) -> Vec<String> {
    let mut s = world.session(&root(A), "sales");
    let mut out = Vec::new();
    for q in [
        "SELECT count(*) FROM orders",
        "SHOW TABLES",
        "SHOW GRANTS",
        "SHOW USERS",
    ] {
        let rows = s.rows(q);
        for r in 0..rows.num_rows() {
            let cells: Vec<String> = (0..rows.schema.fields().len())
                .map(|c| text(&rows, r, c))
                .collect();
            out.push(format!("{q}: {}", cells.join(" | ")));
        }
    }
    out
}

fn exactly_the_allowed_statements_succeed_and_refusals_change_nothing(backend: Backend) {
    let w = World::on(backend);
    let sales = format!("acs:odps:*:{A}:projects/sales");
    let alice = w.user(
        A,
        "alice",
        &[(
            "read-orders",
            &allow("odps:Select", &format!("{sales}/tables/orders")),
        )],
    );
    let bob = w.user(A, "bob", &[]);
    let carol = w.user(A, "carol", &[]);
    let dave = w.user(A, "dave", &[]);
    let erin = w.user(A, "erin", &[]);
    let frank = w.user(
        A,
        "frank",
        &[
            ("all", &allow("odps:*", &format!("{sales}*"))),
            (
                "no-drop",
                &format!(
                    r#"{{"Version":"1","Statement":[{{"Sid":"NoDrops","Effect":"Deny","Action":"odps:Drop","Resource":"{sales}/tables/*"}}]}}"#
                ),
            ),
        ],
    );
    let mallory = w.user(B, "mallory", &[("everything", &allow("odps:*", "*"))]);

    // The owner (A's root) sets the project up.
    let mut owner = w.session(&root(A), "default");
    owner.ok("CREATE PROJECT sales");
    owner.ok("USE sales");
    owner.ok("CREATE TABLE orders (id BIGINT, tel STRING)");
    owner.ok("INSERT INTO orders VALUES (1, '13900001234')");
    owner.ok("CREATE TABLE secrets (s STRING)");
    owner.ok("INSERT INTO secrets VALUES ('the plan')");
    for u in ["bob", "carol", "dave"] {
        owner.ok(&format!("ADD USER {u}"));
    }
    owner.ok(&format!("ADD USER 'acs:ram::{B}:user/mallory'"));
    owner.ok("GRANT SELECT ON TABLE orders TO USER bob");
    owner.ok("GRANT Admin TO USER carol");
    owner.ok("CREATE ROLE writers");
    owner.ok("GRANT INSERT ON TABLE orders TO ROLE writers");
    owner.ok("GRANT writers TO USER dave");

    let statements: [(&str, &str); 9] = [
        ("select", "SELECT count(*) FROM orders"),
        ("insert", "INSERT INTO orders VALUES (2, '13900001111')"),
        ("describe", "DESC orders"),
        ("list", "SHOW TABLES"),
        ("create", "CREATE TABLE made_by_{who} (a BIGINT)"),
        ("drop", "DROP TABLE scratch"),
        ("grant", "GRANT SELECT ON TABLE orders TO USER erin"),
        ("select other", "SELECT * FROM secrets"),
        // A script variable evaluates a query too.
        ("variable", "@v := (SELECT max(s) FROM secrets)"),
    ];
    let everything = [
        "select",
        "insert",
        "describe",
        "list",
        "create",
        "drop",
        "grant",
        "select other",
        "variable",
    ];
    let matrix: Vec<(&str, Principal, Vec<&str>)> = vec![
        ("root", root(A), everything.to_vec()),
        ("alice", alice, vec!["select"]),
        ("bob", bob, vec!["select"]),
        ("carol", carol, everything.to_vec()),
        ("dave", dave, vec!["insert"]),
        ("erin", erin, vec![]),
        (
            "frank",
            frank,
            vec![
                "select",
                "insert",
                "describe",
                "list",
                "create",
                "grant",
                "select other",
                "variable",
            ],
        ),
        ("mallory", mallory, vec![]),
    ];

    for (who, principal, allowed) in &matrix {
        for (name, sql) in statements {
            let sql = sql.replace("{who}", who);
            // Fixtures the statements need, reset by the owner.
            let mut owner = w.session(&root(A), "sales");
            owner.ok("CREATE TABLE IF NOT EXISTS scratch (a BIGINT)");
            if name == "grant" {
                let _ = owner.try_sql("ADD USER erin");
                let _ = owner.try_sql("REVOKE SELECT ON TABLE orders FROM USER erin");
            }
            let before = snapshot(&w);
            let mut s = Session::new(
                &w.runtime,
                SqlSession::with_identity(
                    Arc::clone(&w.catalog),
                    principal.clone(),
                    Arc::clone(&w.services),
                ),
            );
            // Mallory may not even USE the project; run in it by name then.
            let result = match s.try_sql("USE sales") {
                Ok(_) => s.try_sql(&sql),
                Err(e) => Err(e),
            };
            let expected = allowed.contains(&name);
            match (&result, expected) {
                (Ok(_), true) => {}
                (Err(e), false) => {
                    assert!(e.starts_with("access denied: "), "{who} {name}: {e}");
                    assert_eq!(
                        snapshot(&w),
                        before,
                        "{who}'s refused {name} changed something"
                    );
                    assert!(!e.contains("the plan") && !e.contains("13900001234"), "{e}");
                }
                (Ok(_), false) => panic!("{who} could {name}: {sql}"),
                (Err(e), true) => panic!("{who} could not {name}: {sql}: {e}"),
            }
        }
    }

    // Errors name the principal, the action and the resource.
    let mut erin = w.session(&root(A), "sales");
    erin.ok("ADD USER erin");
    let mut s = Session::new(
        &w.runtime,
        SqlSession::with_identity(
            Arc::clone(&w.catalog),
            Principal::User {
                account: account(A),
                name: "erin".into(),
            },
            Arc::clone(&w.services),
        ),
    );
    s.ok("USE sales");
    let e = s.try_sql("SELECT * FROM secrets").unwrap_err();
    for needle in [
        format!("acs:ram::{A}:user/erin"),
        "odps:Select".to_owned(),
        format!("acs:odps:cn-hangzhou:{A}:projects/sales/tables/secrets"),
        "GRANT SELECT ON TABLE secrets TO USER".to_owned(),
    ] {
        assert!(e.contains(&needle), "{needle} in {e}");
    }
    // An explicit Deny names its policy.
    let mut f = Session::new(
        &w.runtime,
        SqlSession::with_identity(
            Arc::clone(&w.catalog),
            Principal::User {
                account: account(A),
                name: "frank".into(),
            },
            Arc::clone(&w.services),
        ),
    );
    f.ok("USE sales");
    let e = f.try_sql("DROP TABLE scratch").unwrap_err();
    assert!(
        e.contains("explicitly denied") && e.contains("frank-no-drop"),
        "{e}"
    );
}

#[test]
fn a_deny_policy_can_require_new_projects_to_be_encrypted() {
    let w = World::on(Backend::Local);
    // The spec's custom RAM policy: creating an unencrypted project is denied.
    let require = r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":"odps:*","Resource":"*"},
        {"Sid":"RequireEncryption","Effect":"Deny","Action":"odps:CreateProject","Resource":"*",
         "Condition":{"Bool":{"odps:StorageEncryption":"false"}}}]}"#;
    let pm = w.user(A, "pm", &[("require-encryption", require)]);
    let mut s = w.session(&pm, "default");
    let e = s.try_sql("CREATE PROJECT plain").unwrap_err();
    for needle in [
        "access denied",
        "odps:CreateProject",
        "RequireEncryption",
        "pm-require-encryption",
    ] {
        assert!(e.contains(needle), "{needle} in {e}");
    }
    assert!(
        !w.catalog
            .projects()
            .unwrap()
            .iter()
            .any(|p| p.name == "plain"),
        "nothing was created"
    );
    // Without that policy the same user may create it, and owns it.
    let free = w.user(A, "free", &[("all", &allow("odps:*", "*"))]);
    let mut s = w.session(&free, "default");
    s.ok("CREATE PROJECT plain");
    assert_eq!(
        w.catalog.project_owner("plain").unwrap().unwrap().owner,
        format!("acs:ram::{A}:user/free")
    );
}

#[test]
fn only_a_super_administrator_hands_out_super_administrator() {
    let w = World::on(Backend::Local);
    let carol = w.user(A, "carol", &[]);
    let sam = w.user(A, "sam", &[]);
    w.user(A, "bob", &[]);
    let mut owner = w.session(&root(A), "default");
    owner.ok("CREATE PROJECT p");
    owner.ok("USE p");
    for u in ["carol", "sam", "bob"] {
        owner.ok(&format!("ADD USER {u}"));
    }
    owner.ok("GRANT Admin TO USER carol");
    owner.ok("GRANT Super_Administrator TO USER sam");

    let mut admin = w.session(&carol, "p");
    let e = admin
        .try_sql("GRANT Super_Administrator TO USER bob")
        .unwrap_err();
    assert!(
        e.contains("Super_Administrator") && e.contains("carol"),
        "{e}"
    );
    admin.ok("GRANT Admin TO USER bob");
    let e = admin.try_sql("REMOVE USER sam").unwrap_err();
    assert!(e.contains("Super_Administrator"), "{e}");

    let mut sa = w.session(&sam, "p");
    sa.ok("GRANT Super_Administrator TO USER bob");
    let grants = sa.rows("SHOW GRANTS FOR USER bob");
    assert_eq!(grants.num_rows(), 2, "Admin and Super_Administrator");
}

/// Holes a review found, each closed: create-if-not-exists, create-or-
/// replace, planning errors, SET, DESCRIBE forms, name case, CREATE SCHEMA.
fn no_side_door_around_the_checks(backend: Backend) {
    let w = World::on(backend);
    let sales = format!("acs:odps:*:{A}:projects/sales");
    let mallory = w.user(A, "mallory", &[]);
    let eve = w.user(
        A,
        "eve",
        &[
            ("all", &allow("odps:*", "*")),
            (
                "deny",
                &format!(
                    r#"{{"Version":"1","Statement":[{{"Effect":"Deny","Action":"odps:*","Resource":"{sales}/tables/secrets"}},{{"Effect":"Deny","Action":"odps:List","Resource":"{sales}"}}]}}"#
                ),
            ),
        ],
    );
    let mut owner = w.session(&root(A), "default");
    owner.ok("CREATE PROJECT sales");
    owner.ok("USE sales");
    owner.ok("CREATE TABLE secrets (ssn STRING)");
    owner.ok("INSERT INTO secrets VALUES ('SSN-123-45-6789')");
    owner.ok("ADD USER mallory");
    owner.ok("GRANT CREATETABLE ON PROJECT sales TO USER mallory");

    let mut m = w.session(&mallory, "sales");
    let denied = |r: Result<StatementOutput, String>| {
        let e = r.expect_err("refused");
        assert!(e.starts_with("access denied: "), "{e}");
        assert!(!e.contains("SSN-") && !e.contains("ssn"), "{e}");
    };
    // Creating a table that exists gives no rights on it.
    m.ok("CREATE TABLE IF NOT EXISTS secrets (a BIGINT)");
    denied(m.try_sql("SELECT * FROM secrets"));
    // Replacing a table needs DROP on it.
    denied(m.try_sql("CREATE OR REPLACE TABLE secrets AS SELECT 42 AS pwned"));
    // A planning error does not list the columns of a table one may not read.
    denied(m.try_sql("SELECT nosuch FROM secrets"));
    // DESCRIBE in every spelling is checked.
    denied(m.try_sql("DESCRIBE EXTENDED secrets"));
    denied(m.try_sql("DESC secrets"));
    // information_schema cannot be switched on.
    let e = m
        .try_sql("SET datafusion.catalog.information_schema = true")
        .unwrap_err();
    assert!(e.contains("not allowed"), "{e}");
    m.ok("SET datafusion.execution.batch_size = 4096");

    // Upper case names are the same resources to policies.
    let mut e_ = w.session(&eve, "sales");
    for sql in [
        "DROP TABLE \"SECRETS\"",
        "SELECT * FROM SECRETS",
        "SHOW TABLES IN SALES",
    ] {
        let e = e_.try_sql(sql).unwrap_err();
        assert!(e.contains("explicitly denied"), "{sql}: {e}");
    }
    assert_eq!(
        text(&owner.rows("SELECT count(*) FROM secrets"), 0, 0),
        "1",
        "the table is intact"
    );

    // CREATE SCHEMA is CREATE PROJECT: it records its owner.
    // (B's root starts in `default`, which it may not use, and never USEs it.)
    let mut b = Session::new(
        &w.runtime,
        SqlSession::with_identity(Arc::clone(&w.catalog), root(B), Arc::clone(&w.services)),
    );
    b.ok("CREATE SCHEMA bschema");
    b.ok("USE bschema");
    assert_eq!(
        w.catalog.project_owner("bschema").unwrap().unwrap().owner,
        format!("acs:ram::{B}:root")
    );
}

on_both_backends!(
    exactly_the_allowed_statements_succeed_and_refusals_change_nothing,
    no_side_door_around_the_checks,
);
