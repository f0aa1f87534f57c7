//! Keyset functions on a cluster of separate processes on loopback (a
//! scheduler and two executors): the spec's keyset guide, keyset constants
//! (a literal keyset, KEYSET_FROM_JSON, a wrapped keyset through
//! USE_WRAPPED_KEYSET) and an INSERT ... SELECT that encrypts on the
//! executors. Every result equals the embedded warehouse's (deterministic
//! AES-SIV ciphertexts compared as they are, AES-GCM as decrypt(encrypt(x))),
//! the plans on the wire hold every keyset only sealed, and the KMS audit
//! log shows the executors open a statement's seal with at most one
//! Decrypt each. What would carry key material any other way is refused.

mod cluster;
mod sandbox;

use std::collections::BTreeMap;

use cluster::{
    WireTap, create_project, files_read, fill, free_port, ok, run, sql, start_principal_cluster,
};
use sandbox::Sandbox;
use sealhouse_crypto::Keyset;

/// The trust policy of spec 001's role: the warehouse may assume it.
const TRUSTS_WAREHOUSE: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}"#;

/// A raw AES-256 key for SYM_ENCRYPT, in hex.
const RAW_KEY: &str = "5ea15ea15ea15ea100112233445566778899aabbccddeeff0123456789abcdef";

/// The last line of a CSV result: its one row, after its header and
/// what the script's assignments said.
fn cell(csv: &str) -> String {
    csv.lines().last().expect("a row").trim().to_owned()
}

/// Decrypt calls of the key `arn` in the KMS audit log.
fn decrypts_of(sandbox: &Sandbox, arn: &str) -> usize {
    let db = rusqlite::Connection::open(sandbox.data().join("kms").join("audit.db"))
        .expect("the audit log");
    db.query_row(
        "SELECT count(*) FROM events WHERE key_arn = ?1 AND action IN ('Decrypt', 'kms:Decrypt')",
        [arn],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| usize::try_from(n).expect("a count"))
    .expect("counts the audit log")
}

/// Decrypt calls of the cluster-keyset key in the KMS audit log.
fn cluster_key_decrypts(sandbox: &Sandbox) -> usize {
    let kms = sandbox.data().join("kms");
    let db = rusqlite::Connection::open(kms.join("audit.db")).expect("the audit log");
    db.execute(
        "ATTACH DATABASE ?1 AS keys",
        [kms.join("kms.db").to_str().expect("utf-8")],
    )
    .expect("attaches the key store");
    db.query_row(
        "SELECT count(*) FROM events e JOIN keys.aliases a ON e.key_id = a.key_id \
         WHERE a.alias_name = 'alias/sealhouse/cluster-keysets' \
         AND e.action IN ('Decrypt', 'kms:Decrypt')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| usize::try_from(n).expect("a count"))
    .expect("counts the audit log")
}

#[test]
fn keyset_functions_run_on_a_cluster_with_their_keysets_sealed() {
    let sandbox = Sandbox::new();
    create_project(&sandbox, "ks_p", "AES256");
    fill(&sandbox, "ks_p");
    // A wrapped keyset as spec 001 makes one: a role the warehouse may
    // assume, allowed to use the account's KMS keys.
    run(
        &sandbox,
        &[
            "iam",
            "create-role",
            "--name",
            "mf-secr",
            "--trust-policy",
            TRUSTS_WAREHOUSE,
        ],
    );
    run(
        &sandbox,
        &[
            "iam",
            "attach-policy",
            "--policy",
            "AliyunKMSCryptoUserAccess",
            "--system",
            "--role",
            "mf-secr",
        ],
    );
    let cmk = run(&sandbox, &["kms", "create-key"])
        .lines()
        .find_map(|l| l.strip_prefix("arn: "))
        .expect("the key's ARN")
        .to_owned();
    let whoami = run(&sandbox, &["iam", "whoami"]);
    let account = whoami
        .trim()
        .trim_start_matches("acs:ram::")
        .trim_end_matches(":root");
    let role = format!("acs:ram::{account}:role/mf-secr");
    let roles = format!("@kms := '{cmk}'; @role := '{role}';");
    ok(
        &sandbox,
        "ks_p",
        &format!(
            "{roles} CREATE TABLE wrapped (name STRING, ks BINARY); \
             INSERT INTO wrapped SELECT 'gcm', NEW_WRAPPED_KEYSET(@kms, @role, 'AES-GCM-256', 'c'); \
             INSERT INTO wrapped SELECT 'siv', NEW_WRAPPED_KEYSET(@kms, @role, 'AES-SIV-CMAC-256', 'd');"
        ),
    );
    // Scripts copy a stored wrapped keyset into a variable to use it.
    let wrapped = format!(
        "{roles} @gcm := (SELECT ks FROM wrapped WHERE name = 'gcm'); \
         @siv := (SELECT ks FROM wrapped WHERE name = 'siv');"
    );
    let gcm_w = "USE_WRAPPED_KEYSET(@kms, @role, @gcm)";
    let siv_w = "USE_WRAPPED_KEYSET(@kms, @role, @siv)";
    // Two plain keysets, as the queries give them: hex literals.
    let gcm = cell(&ok(
        &sandbox,
        "ks_p",
        "SELECT HEX(NEW_KEYSET('AES-GCM-256', 'g'))",
    ));
    let siv = cell(&ok(
        &sandbox,
        "ks_p",
        "SELECT HEX(NEW_KEYSET('AES-SIV-CMAC-256', 's'))",
    ));

    let scheduler_port = free_port();
    let (mut processes, _kms) =
        start_principal_cluster(sandbox.dir.path(), scheduler_port, 2, None, &[], || {
            sandbox.std_command()
        });
    let tap = WireTap::start(scheduler_port);
    let url = format!("http://127.0.0.1:{}", tap.port);

    // The spec's keyset guide, whole: its table queries (the JOIN with the
    // stored keyset) run on the cluster; decrypt(encrypt(tel)) and the
    // table's rows equal the embedded warehouse's.
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyset_guide.sql"),
    )
    .expect("the guide")
    .lines()
    .filter(|l| !l.starts_with("--"))
    .collect::<Vec<_>>()
    .join("\n");
    let embedded = ok(&sandbox, "ks_p", &guide);
    let clustered = sql(&sandbox, Some(&url), "ks_p", &guide)
        .unwrap_or_else(|e| panic!("the keyset guide on the cluster: {e}"));
    let last_rows = |out: &str| -> Vec<String> {
        let lines: Vec<String> = out.lines().map(str::to_owned).collect();
        lines[lines.len() - 3..].to_vec()
    };
    assert_eq!(last_rows(&clustered), last_rows(&embedded), "{clustered}");
    assert_eq!(
        last_rows(&clustered)[1..],
        ["1,kyle,13900001234", "2,tom,13900001111"],
        "{clustered}"
    );
    let read = files_read(&processes[1..]);
    assert!(
        read.contains_key("ks_p.mf_keyset") && read.contains_key("ks_p.mf_test_data"),
        "the guide's JOIN ran on the cluster: {read:?}"
    );

    let round_trip = |keyset: &str, column: &str| {
        format!(
            "sum(CASE WHEN CAST(ENHANCED_SYM_DECRYPT({keyset}, \
             ENHANCED_SYM_ENCRYPT({keyset}, {column}, 'aad'), 'aad') AS STRING) = {column} \
             THEN 1 ELSE 0 END)"
        )
    };
    let queries = [
        // AES-GCM round trips over 14 encrypted files, aggregated.
        format!(
            "SELECT region, count(*), {} FROM events GROUP BY region ORDER BY region",
            round_trip(&format!("UNHEX('{gcm}')"), "CAST(id AS STRING)")
        ),
        // Deterministic AES-SIV: the ciphertexts themselves, after a join.
        format!(
            "SELECT r.name, HEX(ENHANCED_SYM_ENCRYPT(UNHEX('{siv}'), r.name)), count(*) \
             FROM events e JOIN regions r ON e.region = r.region GROUP BY 1, 2 ORDER BY 1"
        ),
        // A keyset from its JSON, folded to a constant while planning.
        format!(
            "SELECT count(*), {} FROM events",
            round_trip(
                &format!("KEYSET_FROM_JSON(KEYSET_TO_JSON(UNHEX('{gcm}')))"),
                "region"
            )
        ),
        // Wrapped keysets: unwrapped once on the coordinator, sealed for
        // the job.
        format!(
            "{wrapped} SELECT region, {} FROM events GROUP BY region ORDER BY region",
            round_trip(gcm_w, "region")
        ),
        format!(
            "{wrapped} SELECT r.name, HEX(ENHANCED_SYM_ENCRYPT({siv_w}.keyset, r.name)), count(*) \
             FROM events e JOIN regions r ON e.region = r.region GROUP BY 1, 2 ORDER BY 1"
        ),
        format!(
            "{wrapped} SELECT KEYSET_TO_JSON({siv_w}) = KEYSET_TO_JSON({siv_w}), count(*) \
             FROM events WHERE region = 'r1'"
        ),
        // A raw key given as a constant: sealed too.
        format!(
            "SELECT count(*), sum(CASE WHEN CAST(SYM_DECRYPT(SYM_ENCRYPT(region, \
             UNHEX('{RAW_KEY}')), UNHEX('{RAW_KEY}')) AS STRING) = region THEN 1 ELSE 0 END) \
             FROM events"
        ),
    ];
    for query in &queries {
        let embedded = ok(&sandbox, "ks_p", query);
        let before = files_read(&processes[1..])
            .get("ks_p.events")
            .map_or(0, |f| f.values().sum::<usize>());
        let decrypts_before = cluster_key_decrypts(&sandbox);
        let unwraps_before = decrypts_of(&sandbox, &cmk);
        let clustered = sql(&sandbox, Some(&url), "ks_p", query)
            .unwrap_or_else(|e| panic!("{query} on the cluster: {e}"));
        // A wrapped keyset is unwrapped once, on the coordinator, however
        // often the statement names it; executors never reach its CMK.
        let unwraps = decrypts_of(&sandbox, &cmk) - unwraps_before;
        let wrapped_keysets = usize::from(query.contains("USE_WRAPPED_KEYSET"));
        assert_eq!(unwraps, wrapped_keysets, "unwraps of the CMK for {query}");
        assert_eq!(clustered, embedded, "{query}");
        assert!(embedded.lines().count() > 1, "{query} gave no rows");
        let after = files_read(&processes[1..])["ks_p.events"]
            .values()
            .sum::<usize>();
        assert_eq!(after - before, 14, "{query} read events on the cluster");
        // Each executor opened the statement's seal at most once.
        let decrypts = cluster_key_decrypts(&sandbox) - decrypts_before;
        assert!(decrypts <= 2, "{decrypts} Decrypts of the seal for {query}");
    }
    // Every round trip held.
    let out = ok(&sandbox, "ks_p", &queries[0]);
    for line in out.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[1], cells[2], "{line}");
    }

    let decrypts = cluster_key_decrypts(&sandbox);
    println!(
        "{decrypts} Decrypts of sealing data keys for {} statements",
        queries.len() + 1
    );
    assert!(
        decrypts >= 1,
        "the executors opened the seals through the KMS"
    );

    // A repeated statement in one session: the data key that sealed the
    // first seals the second, and the executors opened it already.
    let repeated = format!("{}; {}", queries[3], queries[3].replace(&wrapped, ""));
    let decrypts_before = cluster_key_decrypts(&sandbox);
    sql(&sandbox, Some(&url), "ks_p", &repeated).unwrap_or_else(|e| panic!("{e}"));
    let decrypts = cluster_key_decrypts(&sandbox) - decrypts_before;
    assert!(decrypts <= 2, "{decrypts} Decrypts for two statements");

    // INSERT ... SELECT encrypting on the executors: the embedded warehouse
    // decrypts what they wrote.
    sql(
        &sandbox,
        Some(&url),
        "ks_p",
        &format!(
            "{wrapped} CREATE TABLE sealed (id BIGINT, ct BINARY); \
             INSERT INTO sealed SELECT id, ENHANCED_SYM_ENCRYPT({gcm_w}, region) FROM events \
             WHERE region IS NOT NULL"
        ),
    )
    .unwrap_or_else(|e| panic!("INSERT ... SELECT on the cluster: {e}"));
    let checked = ok(
        &sandbox,
        "ks_p",
        &format!(
            "{wrapped} SELECT count(*), sum(CASE WHEN CAST(ENHANCED_SYM_DECRYPT({gcm_w}, s.ct) \
             AS STRING) = e.region THEN 1 ELSE 0 END) FROM sealed s JOIN events e ON s.id = e.id"
        ),
    );
    let expected = cell(&ok(
        &sandbox,
        "ks_p",
        "SELECT count(*) FROM events WHERE region IS NOT NULL",
    ));
    assert_eq!(
        cell(&checked),
        format!("{expected},{expected}"),
        "{checked}"
    );

    // The plans on the wire: every keyset sealed, none in the clear (bytes,
    // hex, or its key material as KEYSET_TO_JSON shows it).
    let wire = tap.bytes();
    let holds = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
    assert!(
        holds(b"sealhouse:sealed-keyset:v1:"),
        "the plans carry sealed keysets"
    );
    // A secret given in hex: neither its bytes nor its hex (either case)
    // may be on the wire; its bytes.
    let absent = |hex: &str, what: &str| -> Vec<u8> {
        let bytes = ::hex::decode(hex).expect("hex");
        assert!(!holds(&bytes), "a plan holds {what}");
        for text in [::hex::encode(&bytes), ::hex::encode_upper(&bytes)] {
            assert!(!holds(text.as_bytes()), "a plan holds {what}'s hex");
        }
        bytes
    };
    absent(RAW_KEY, "the raw key");
    for hex in [&gcm, &siv] {
        let bytes = absent(hex, "a keyset");
        let json: serde_json::Value =
            serde_json::from_str(&Keyset::from_bytes(&bytes).expect("a keyset").to_json())
                .expect("JSON");
        let keys = json["key"].as_array().expect("keys");
        for key in keys {
            let material = key["key_meta_data"]["value"].as_str().expect("material");
            assert!(!holds(material.as_bytes()), "a plan holds key material");
            for process in &processes {
                assert!(
                    !process.log().contains(material),
                    "a cluster log holds key material"
                );
            }
        }
    }

    // A seal taken off the wire opens nothing for anyone else: not as a
    // constant of another statement, not from a table's rows, not in a
    // session (which never opens seals).
    let stolen = stolen_seal(&wire, gcm.len() / 2);
    let stolen_hex: String = stolen.iter().map(|b| format!("{b:02x}")).collect();
    for (query, cluster, says) in [
        (
            format!(
                "SELECT count(ENHANCED_SYM_ENCRYPT(UNHEX('{stolen_hex}'), region)) FROM events"
            ),
            true,
            "a sealed keyset it did not make",
        ),
        (
            format!("SELECT ENHANCED_SYM_ENCRYPT(UNHEX('{stolen_hex}'), 'x')"),
            false,
            "only the processes of a Sealhouse cluster open",
        ),
        (
            format!(
                "CREATE TABLE stolen (k BINARY); INSERT INTO stolen VALUES (UNHEX('{stolen_hex}')); \
                 SELECT count(ENHANCED_SYM_ENCRYPT(s.k, e.region)) FROM events e JOIN stolen s"
            ),
            true,
            "never from a table's rows",
        ),
    ] {
        let err = sql(&sandbox, cluster.then_some(url.as_str()), "ks_p", &query).expect_err(&query);
        assert!(err.contains(says), "{query}: {err}");
    }
    processes.clear();
}

/// A sealed keyset of a plan on the wire, of a keyset of `keyset_len`
/// bytes: what anyone reading a plaintext cluster's traffic could take.
fn stolen_seal(wire: &[u8], keyset_len: usize) -> Vec<u8> {
    const PREFIX: &[u8] = b"sealhouse:sealed-keyset:v1:";
    let mut at = 0;
    while let Some(found) = wire[at..].windows(PREFIX.len()).position(|w| w == PREFIX) {
        let start = at + found;
        let header = start + PREFIX.len() + 1 + 8 + 8;
        let blob_len = usize::from(u16::from_be_bytes([wire[header], wire[header + 1]]));
        let end = header + 2 + blob_len + 12 + keyset_len + 16;
        if wire[start + PREFIX.len()] == 0 && end <= wire.len() {
            return wire[start..end].to_vec();
        }
        at = start + 1;
    }
    panic!("no sealed keyset on the wire")
}

#[test]
fn what_would_carry_key_material_otherwise_is_refused() {
    let sandbox = Sandbox::new();
    ok(
        &sandbox,
        "default",
        "CREATE TABLE t (id BIGINT, k BINARY); INSERT INTO t VALUES (1, NULL)",
    );
    let keyset = cell(&ok(
        &sandbox,
        "default",
        "SELECT HEX(NEW_KEYSET('AES-GCM-256'))",
    ));
    // Refused before anything is sent: nothing listens on port 1.
    let nowhere = Some("http://127.0.0.1:1");
    let mut refusals = BTreeMap::new();
    for (query, says) in [
        (
            format!("SELECT id, HEX(KEYSET_FROM_JSON(KEYSET_TO_JSON(UNHEX('{keyset}')))) FROM t"),
            "KEYSET_FROM_JSON(...) on constants",
        ),
        (
            format!("SELECT id, UNHEX('{keyset}') FROM t"),
            "a keyset (key material) as a constant",
        ),
        (
            format!("SELECT id, KEYSET_TO_JSON(UNHEX('{keyset}')) FROM t"),
            "a keyset (key material) as a constant",
        ),
        (
            // The table read only in a subquery, which becomes a join.
            format!("SELECT (SELECT max(id) FROM t), UNHEX('{keyset}')"),
            "a keyset (key material) as a constant",
        ),
        (
            format!("@ks := KEYSET_FROM_JSON(KEYSET_TO_JSON(UNHEX('{keyset}'))); SELECT id, HEX(@ks) FROM t"),
            "@ks holds what a keyset function made",
        ),
        (
            "SELECT id, SYM_ENCRYPT('x', CAST(UUID() AS BINARY)) FROM t".to_owned(),
            "SYM_ENCRYPT's key is made of constants",
        ),
        (
            "SELECT id, NEW_WRAPPED_KEYSET('acs:kms:cn-hangzhou:1:key/k', 'acs:ram::1:role/r', 'AES-GCM-256', CAST(id AS STRING)) FROM t".to_owned(),
            "acts through your role chain",
        ),
    ] {
        let err = sql(&sandbox, nowhere, "default", &query).expect_err(&query);
        assert!(err.contains(says), "{query}: {err}");
        assert!(err.contains("without --cluster"), "{query}: {err}");
        refusals.insert(query, err);
    }
    // Keyset functions over a table's own columns go (and find no
    // scheduler there): the keysets are data, not part of the plan; and a
    // constant key goes sealed.
    for query in [
        "SELECT id, KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256')) FROM t",
        "SELECT ENHANCED_SYM_ENCRYPT(k, CAST(id AS STRING)) FROM t",
        // A constant raw key is sealed as keysets are.
        &format!("SELECT SYM_ENCRYPT('x', UNHEX('{RAW_KEY}')) FROM t"),
    ] {
        let err = sql(&sandbox, nowhere, "default", query).expect_err(query);
        assert!(
            err.contains("cannot reach the cluster's scheduler"),
            "{query}: {err}"
        );
    }
    println!("{} refusals: {refusals:#?}", refusals.len());
}
