//! `sealhouse external-engine credentials` and `manifest` through the real
//! binary: the external-engine service assuming a role that trusts it (and
//! not one that does not), the caller's PassRole, and table manifests
//! behind the SELECT check. Reading the files is python/tests'
//! test_external_engine.py.

#![allow(clippy::unwrap_used)]

mod world;

use serde_json::Value;
use world::{Creds, World, fields};

fn trust(service: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"Service":["{service}"]}}}}],"Version":"1"}}"#
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn uid(w: &World) -> String {
    w.ok(None, &["iam", "whoami"])
        .trim()
        .split(':')
        .nth(3)
        .unwrap()
        .to_owned()
}

#[test]
fn credentials_are_issued_for_roles_that_trust_the_external_engine_only() {
    let w = World::new();
    let uid = uid(&w);
    w.ok(
        None,
        &[
            "iam",
            "create-role",
            "--name",
            "AliyunHologresEncryptionDefaultRole",
            "--trust-policy",
            &trust("hologres.aliyuncs.com"),
        ],
    );
    let role = format!("acs:ram::{uid}:role/aliyunhologresencryptiondefaultrole");
    let out = json(&w.ok(
        None,
        &["external-engine", "credentials", "--role-arn", &role],
    ));
    let id = out["AccessKeyId"].as_str().unwrap();
    assert!(id.starts_with("STS."), "{out}");
    assert_eq!(
        out["AssumedRole"],
        format!("{role}/external-engine").replace(":role/", ":assumed-role/")
    );
    assert!(out["Expiration"].as_str().unwrap().ends_with('Z'), "{out}");
    // They are real credentials of the role session.
    let session = Creds {
        id: id.to_owned(),
        secret: out["AccessKeySecret"].as_str().unwrap().to_owned(),
        token: Some(out["SecurityToken"].as_str().unwrap().to_owned()),
    };
    let whoami = w.ok(Some(&session), &["iam", "whoami"]);
    assert_eq!(
        whoami.trim(),
        format!("acs:ram::{uid}:assumed-role/aliyunhologresencryptiondefaultrole/external-engine")
    );

    // A role for the warehouse only: the error says what to add.
    w.ok(
        None,
        &[
            "iam",
            "create-role",
            "--name",
            "warehouse-only",
            "--trust-policy",
            &trust("odps.aliyuncs.com"),
        ],
    );
    let other = format!("acs:ram::{uid}:role/warehouse-only");
    let err = w.fails(
        None,
        &["external-engine", "credentials", "--role-arn", &other],
    );
    assert!(
        err.contains("the external-engine service (hologres.aliyuncs.com) cannot assume role")
            && err.contains("does not name this service under Principal.Service")
            && err.contains(r#""Principal": {"Service": ["hologres.aliyuncs.com"]}"#),
        "{err}"
    );
    let err = w.fails(
        None,
        &[
            "external-engine",
            "credentials",
            "--role-arn",
            &format!("acs:ram::{uid}:role/nope"),
        ],
    );
    assert!(err.contains("does not exist"), "{err}");
    let err = w.fails(
        None,
        &[
            "external-engine",
            "credentials",
            "--role-arn",
            &role,
            "--duration-seconds",
            "60",
        ],
    );
    assert!(err.contains("DurationSeconds 60 is out of range"), "{err}");

    // A RAM user may hand the role to the engine only with ram:PassRole.
    w.ok(None, &["iam", "create-user", "--name", "dev"]);
    let dev = w.new_key(None, &["iam", "create-access-key", "--user", "dev"]);
    let err = w.fails(
        Some(&dev),
        &["external-engine", "credentials", "--role-arn", &role],
    );
    assert!(
        err.contains("may not pass role") && err.contains("ram:PassRole"),
        "{err}"
    );
    let pass = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:PassRole","Resource":"*"}]}"#;
    w.ok(
        None,
        &["iam", "create-policy", "--name", "pass", "--document", pass],
    );
    w.ok(
        None,
        &["iam", "attach-policy", "--policy", "pass", "--user", "dev"],
    );
    let out = json(&w.ok(
        Some(&dev),
        &["external-engine", "credentials", "--role-arn", &role],
    ));
    assert!(out["SecurityToken"].as_str().unwrap().len() >= 32, "{out}");
}

#[test]
fn manifest_lists_the_files_and_their_encryption_for_readers() {
    let w = World::new();
    let uid = uid(&w);
    let key = fields(&w.ok(None, &["kms", "create-key"]))["arn"].clone();
    w.ok(
        None,
        &[
            "sql",
            "-e",
            &format!(
                "CREATE PROJECT byok ENCRYPTION ALGORITHM AES256 KEY '{key}'; \
                 CREATE PROJECT dflt ENCRYPTION; \
                 CREATE PROJECT ctr ENCRYPTION ALGORITHM AESCTR KEY '{key}'; \
                 CREATE TABLE byok.t (id BIGINT, b BINARY); \
                 INSERT INTO byok.t VALUES (1, UNHEX('00')); INSERT INTO byok.t VALUES (2, NULL); \
                 CREATE TABLE dflt.t (id BIGINT); INSERT INTO dflt.t VALUES (1); \
                 CREATE TABLE ctr.t (id BIGINT); INSERT INTO ctr.t VALUES (1);"
            ),
        ],
    );
    // Spec 004, step 3: the direct read path cannot read encrypted files.
    let err = w.fails(None, &["external-engine", "manifest", "byok.t"]);
    assert!(err.contains("ALTER DATABASE byok SET"), "{err}");
    for project in ["byok", "dflt", "ctr"] {
        w.ok(
            None,
            &[
                "sql",
                "-e",
                &format!(
                    "ALTER DATABASE {project} SET hg_experimental_enable_access_odps_orc_via_holo \
                     = false;"
                ),
            ],
        );
    }

    let m = json(&w.ok(None, &["external-engine", "manifest", "BYOK.T"]));
    assert_eq!(m["project"], "byok");
    assert_eq!(m["table"], "t");
    assert_eq!(
        m["columns"],
        json(r#"[{"name":"id","type":"BIGINT"},{"name":"b","type":"BINARY"}]"#)
    );
    assert_eq!(m["encryption"]["algorithm"], "AES256");
    assert_eq!(m["encryption"]["key"], "byok");
    assert_eq!(m["encryption"]["key_arn"], key.as_str());
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{m}");
    for f in files {
        let path = std::path::Path::new(f["path"].as_str().unwrap());
        assert!(path.is_absolute() && path.starts_with(w.data()), "{f}");
        let raw = std::fs::read(path).unwrap();
        assert_eq!(raw.len() as u64, f["size"].as_u64().unwrap());
        assert_eq!(&raw[raw.len() - 4..], b"PARE");
        assert_eq!(f["format"], "parquet");
        assert_eq!(f["encryption"], "AES256");
    }

    let m = json(&w.ok(None, &["external-engine", "manifest", "dflt.t"]));
    assert_eq!(m["encryption"]["key"], "default");
    assert!(
        m["encryption"]["key_arn"]
            .as_str()
            .unwrap()
            .contains(":0000000000000000:key/"),
        "{m}"
    );
    let m = json(&w.ok(None, &["external-engine", "manifest", "ctr.t"]));
    assert_eq!(m["encryption"]["algorithm"], "AESCTR");
    assert_eq!(m["files"][0]["format"], "segmented");
    let raw = std::fs::read(m["files"][0]["path"].as_str().unwrap()).unwrap();
    assert_eq!(&raw[..7], b"SHSEG\0\0");

    let err = w.fails(None, &["external-engine", "manifest", "t"]);
    assert!(err.contains("'t' is not PROJECT.TABLE"), "{err}");
    let err = w.fails(None, &["external-engine", "manifest", "byok.nope"]);
    assert!(err.contains("does not exist"), "{err}");

    // A RAM user needs what a SELECT needs: DESCRIBE is not enough.
    w.ok(None, &["iam", "create-user", "--name", "analyst"]);
    let analyst = w.new_key(None, &["iam", "create-access-key", "--user", "analyst"]);
    let policy = |action: &str| {
        format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"acs:odps:*:{uid}:projects/byok/tables/t"}}]}}"#
        )
    };
    for (name, action) in [("describe-t", "odps:Describe"), ("select-t", "odps:Select")] {
        w.ok(
            None,
            &[
                "iam",
                "create-policy",
                "--name",
                name,
                "--document",
                &policy(action),
            ],
        );
    }
    w.ok(
        None,
        &[
            "iam",
            "attach-policy",
            "--policy",
            "describe-t",
            "--user",
            "analyst",
        ],
    );
    w.ok(Some(&analyst), &["sql", "-e", "DESC byok.t"]);
    let err = w.fails(Some(&analyst), &["external-engine", "manifest", "byok.t"]);
    assert!(
        err.contains("user/analyst may not odps:Select on") && err.contains("GRANT SELECT"),
        "{err}"
    );
    w.ok(
        None,
        &[
            "iam",
            "attach-policy",
            "--policy",
            "select-t",
            "--user",
            "analyst",
        ],
    );
    let m = json(&w.ok(Some(&analyst), &["external-engine", "manifest", "byok.t"]));
    assert_eq!(m["files"].as_array().unwrap().len(), 2);
    // Another table of the project stays closed.
    let err = w.fails(Some(&analyst), &["external-engine", "manifest", "dflt.t"]);
    assert!(err.contains("may not odps:Select"), "{err}");
}
