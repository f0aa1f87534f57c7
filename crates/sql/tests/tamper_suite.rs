//! The tamper suite: an attacker who can write the data directory but holds
//! no key swaps, rolls back, truncates, extends and flips the bytes of data
//! files, and edits the catalog's rows. For plain, AES256, AESCTR and RC4
//! projects, with the default key and with BYOK, every case is queried by
//! a full scan and by `COUNT(*)`: each must give the untampered table's rows
//! or an error, never other rows. The table of cases and outcomes is
//! printed (`cargo test --test tamper_suite -- --nocapture`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod tamper;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Backend, TableFiles};
use datafusion::arrow::util::pretty::pretty_format_batches;
use rusqlite::{Connection, params};
use sealhouse_iam::{Iam, ManualClock, Principal};
use sealhouse_kms::KmsService;
use sealhouse_sql::{SqlSession, StatementOutput};
use sealhouse_storage::{Catalog, DataFile};
use tamper::{Outcome, Report, outcome};

use common::{ACCOUNT_A as A, Identities};

fn root() -> Principal {
    common::root(A)
}

/// The warehouse under attack: the embedded KMS, and a catalog reopened
/// with the same key for every session.
struct World {
    dir: tempfile::TempDir,
    files: TableFiles,
    iam: Arc<Iam>,
    kms: KmsService,
    clock: Arc<ManualClock>,
    catalog: Arc<Catalog>,
    byok: String,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn on(backend: Backend) -> Self {
        let identities = Identities::new();
        let byok = identities.new_cmk(A);
        let Identities {
            dir,
            iam,
            kms,
            clock,
        } = identities;
        let files = TableFiles::new(backend);
        let catalog = files.open(&dir.path().join("warehouse"));
        let runtime = common::runtime();
        Self {
            dir,
            files,
            iam,
            kms,
            clock,
            catalog,
            byok,
            runtime,
        }
    }

    fn session(&self) -> SqlSession {
        let services = common::services(&self.iam, &self.kms, &self.clock, Duration::ZERO);
        SqlSession::with_identity(Arc::clone(&self.catalog), root(), services)
    }

    fn run(&self, w: &mut SqlSession, sql: &str) -> Result<StatementOutput, String> {
        self.runtime
            .block_on(w.execute(sql))
            .map_err(|e| e.to_string())
    }

    fn ok(&self, w: &mut SqlSession, sql: &str) {
        if let Err(e) = self.run(w, sql) {
            panic!("{sql}: {e}");
        }
    }

    /// A query's rows as text, or its error.
    fn query(&self, sql: &str) -> Result<String, String> {
        let mut w = self.session();
        match self.run(&mut w, sql)? {
            StatementOutput::Rows(r) => Ok(pretty_format_batches(&r.batches)
                .map_err(|e| e.to_string())?
                .to_string()),
            other => Err(format!("no rows: {:?}", other.message())),
        }
    }

    fn files(&self, project: &str, table: &str) -> Vec<DataFile> {
        let info = self.catalog.table(project, table).unwrap();
        self.catalog.files(&info).unwrap()
    }

    /// The local file holding `file` (on S3: the server's file of it).
    fn path(&self, file: &DataFile) -> PathBuf {
        self.files
            .path_of(&self.dir.path().join("warehouse"), &file.key)
    }

    /// How errors name `file`.
    fn named(&self, file: &DataFile) -> String {
        self.catalog.file_store().external_url(&file.key)
    }

    fn db(&self) -> Connection {
        let conn = Connection::open(self.dir.path().join("warehouse/catalog.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }
}

/// A project setting under test.
#[derive(Clone, Copy)]
struct Setting {
    name: &'static str,
    /// `ENCRYPTION ALGORITHM ...` (None: plain).
    algorithm: Option<&'static str>,
    byok: bool,
}

const SETTINGS: [Setting; 7] = [
    Setting {
        name: "plain",
        algorithm: None,
        byok: false,
    },
    Setting {
        name: "aes256_default",
        algorithm: Some("AES256"),
        byok: false,
    },
    Setting {
        name: "aes256_byok",
        algorithm: Some("AES256"),
        byok: true,
    },
    Setting {
        name: "aesctr_default",
        algorithm: Some("AESCTR"),
        byok: false,
    },
    Setting {
        name: "aesctr_byok",
        algorithm: Some("AESCTR"),
        byok: true,
    },
    Setting {
        name: "rc4_default",
        algorithm: Some("RC4"),
        byok: false,
    },
    Setting {
        name: "rc4_byok",
        algorithm: Some("RC4"),
        byok: true,
    },
];

/// Creates project `name` with `setting`, its tables `t` (three files) and
/// `u` (one file), and `r` (one file, then overwritten: its older file's
/// bytes are returned for the rollback case).
fn populate(w: &World, name: &str, setting: Setting) -> Vec<u8> {
    let mut s = w.session();
    let encryption = match (setting.algorithm, setting.byok) {
        (None, _) => String::new(),
        (Some(a), false) => format!(" ENCRYPTION ALGORITHM {a}"),
        (Some(a), true) => format!(" ENCRYPTION ALGORITHM {a} KEY '{}'", w.byok),
    };
    w.ok(&mut s, &format!("CREATE PROJECT {name}{encryption}"));
    w.ok(&mut s, &format!("USE {name}"));
    for table in ["t", "u", "r"] {
        w.ok(
            &mut s,
            &format!("CREATE TABLE {table} (id BIGINT, v STRING)"),
        );
    }
    for (from, to) in [(1, 40), (41, 90), (91, 100)] {
        w.ok(
            &mut s,
            &format!(
                "INSERT INTO t SELECT value, concat('{name}-t-', CAST(value AS STRING)) \
                 FROM generate_series({from}, {to}) AS g(value)"
            ),
        );
    }
    w.ok(&mut s, "INSERT INTO u VALUES (1, 'u-one'), (2, 'u-two')");
    w.ok(&mut s, "INSERT INTO r VALUES (1, 'old')");
    let old = std::fs::read(w.path(&w.files(name, "r")[0])).unwrap();
    w.ok(&mut s, "INSERT OVERWRITE r VALUES (1, 'new'), (2, 'new')");
    old
}

fn replace_bytes(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn no_tampering_returns_other_rows(backend: Backend) {
    let w = World::on(backend);
    let mut olds = Vec::new();
    for s in SETTINGS {
        // `p_*` is attacked; `q_*` is another project of the same setting
        // (same key account), whose files are swapped in.
        olds.push(populate(&w, &format!("p_{}", s.name), s));
        populate(&w, &format!("q_{}", s.name), s);
    }
    let mut report = Report::default();
    for (i, s) in SETTINGS.iter().enumerate() {
        let project = format!("p_{}", s.name);
        let scan = format!("SELECT id, v FROM {project}.t ORDER BY id");
        let count = format!("SELECT count(*) FROM {project}.t");
        let base_scan = w.query(&scan).unwrap();
        let base_count = w.query(&count).unwrap();
        assert!(base_count.contains("100"), "{base_count}");
        let check = |report: &mut Report, case: &str| {
            let got_scan = w.query(&scan);
            let got_count = w.query(&count);
            let detail = got_scan
                .as_ref()
                .err()
                .or(got_count.as_ref().err())
                .cloned()
                .unwrap_or_default();
            let scan_outcome = outcome(&got_scan, &base_scan);
            report.record(
                s.name,
                case,
                scan_outcome,
                outcome(&got_count, &base_count),
                &detail,
            );
            scan_outcome
        };
        let files = w.files(&project, "t");
        assert_eq!(files.len(), 3);
        let victim = w.path(&files[0]);
        let victim_named = w.named(&files[0]);
        let original = std::fs::read(&victim).unwrap();
        let restore = || replace_bytes(&victim, &original);

        // Swaps: a whole file from elsewhere put in the victim's place.
        let other_setting = SETTINGS[(i + 1) % SETTINGS.len()];
        let sources: [(&str, PathBuf); 4] = [
            ("swap: same table", w.path(&files[1])),
            ("swap: other table", w.path(&w.files(&project, "u")[0])),
            (
                "swap: other project, same key",
                w.path(&w.files(&format!("q_{}", s.name), "t")[0]),
            ),
            (
                "swap: other algorithm",
                w.path(&w.files(&format!("p_{}", other_setting.name), "t")[0]),
            ),
        ];
        for (case, source) in sources {
            replace_bytes(&victim, &std::fs::read(source).unwrap());
            check(&mut report, case);
            restore();
        }
        // Rollback: the older version of a file written back over the one
        // INSERT OVERWRITE left (checked on table r).
        {
            let r_scan = format!("SELECT id, v FROM {project}.r ORDER BY id");
            let r_count = format!("SELECT count(*) FROM {project}.r");
            let (bs, bc) = (w.query(&r_scan).unwrap(), w.query(&r_count).unwrap());
            let current = w.path(&w.files(&project, "r")[0]);
            let kept = std::fs::read(&current).unwrap();
            replace_bytes(&current, &olds[i]);
            let (gs, gc) = (w.query(&r_scan), w.query(&r_count));
            let detail = gs.as_ref().err().cloned().unwrap_or_default();
            report.record(
                s.name,
                "rollback after INSERT OVERWRITE",
                outcome(&gs, &bs),
                outcome(&gc, &bc),
                &detail,
            );
            replace_bytes(&current, &kept);
        }
        // A file the catalog lists is gone: the error names it and its table.
        {
            std::fs::remove_file(&victim).unwrap();
            let err = w.query(&scan).expect_err("missing file");
            assert!(
                err.contains(&victim_named)
                    && err.contains(&format!("table {project}.t"))
                    && err.contains("is missing"),
                "{err}"
            );
            check(&mut report, "file deleted");
            restore();
        }
        // Truncation and appending.
        let len = original.len();
        for (case, bytes) in [
            ("truncate to half", original[..len / 2].to_vec()),
            ("truncate last byte", original[..len - 1].to_vec()),
            (
                "append 100 bytes",
                [original.clone(), vec![0x41; 100]].concat(),
            ),
        ] {
            replace_bytes(&victim, &bytes);
            check(&mut report, case);
            restore();
        }
        // Byte flips: both magics and the footer length's edges, and 30
        // positions spread evenly over the file (issue 18's reproduction
        // flipped 30 bytes of a plain file).
        let spread = (0..30).map(|k| (2 * k + 1) * len / 60);
        for at in [0, 3, 4, len - 9, len - 5, len - 1]
            .into_iter()
            .chain(spread)
        {
            let mut bytes = original.clone();
            bytes[at] ^= 0x01;
            replace_bytes(&victim, &bytes);
            let scan = check(&mut report, &format!("flip byte {at} of {len}"));
            // Plain files carry block tags: every flipped byte is an error.
            if s.algorithm.is_none() {
                assert_eq!(scan, Outcome::Refused, "plain file, byte {at} flipped");
            }
            restore();
        }
        // Catalog edits, each undone by restoring the rows it touched.
        let db = w.db();
        db.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let table_id: i64 = db
            .query_row(
                "SELECT id FROM tables WHERE project = ?1 AND name = 't'",
                [&project],
                |r| r.get(0),
            )
            .unwrap();
        let victim_rel = files[0].key.clone();
        let u_id: i64 = db
            .query_row(
                "SELECT id FROM tables WHERE project = ?1 AND name = 'u'",
                [&project],
                |r| r.get(0),
            )
            .unwrap();
        type FileRow = (
            String,
            i64,
            i64,
            Option<String>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let rows_of = |id: i64| -> Vec<FileRow> {
            db.prepare(
                "SELECT path, rows, bytes, encryption, footer_sha256, block_tags FROM files \
                 WHERE table_id = ?1",
            )
            .unwrap()
            .query_map([id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let saved_files = rows_of(table_id);
        let saved_u = rows_of(u_id);
        let restore_files = || {
            for (id, rows) in [(table_id, &saved_files), (u_id, &saved_u)] {
                db.execute("DELETE FROM files WHERE table_id = ?1", [id])
                    .unwrap();
                for f in rows {
                    db.execute(
                        "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256, \
                         block_tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![id, f.0, f.1, f.2, f.3, f.4, f.5],
                    )
                    .unwrap();
                }
            }
        };
        let edits: Vec<(&str, String)> = vec![
            (
                "catalog: delete a files row",
                format!("DELETE FROM files WHERE path = '{victim_rel}'"),
            ),
            (
                "catalog: change rows",
                format!("UPDATE files SET rows = rows + 1000 WHERE path = '{victim_rel}'"),
            ),
            (
                "catalog: drop a file's encryption",
                format!("UPDATE files SET encryption = NULL WHERE path = '{victim_rel}'"),
            ),
            (
                "catalog: move a file to table u",
                format!(
                    "UPDATE files SET table_id = (SELECT id FROM tables WHERE project = '{project}' AND name = 'u') \
                     WHERE table_id = {table_id} AND path <> '{victim_rel}'"
                ),
            ),
        ];
        for (case, edit) in edits {
            db.execute_batch(&edit).unwrap();
            check(&mut report, case);
            restore_files();
        }
        // The table's definition: a column's type changed (id read as STRING).
        {
            let columns: String = db
                .query_row(
                    "SELECT columns FROM tables WHERE id = ?1",
                    [table_id],
                    |r| r.get(0),
                )
                .unwrap();
            let edited = columns.replacen("BIGINT", "STRING", 1);
            assert_ne!(edited, columns, "{columns}");
            db.execute(
                "UPDATE tables SET columns = ?2 WHERE id = ?1",
                params![table_id, edited],
            )
            .unwrap();
            check(&mut report, "catalog: change a column's type");
            db.execute(
                "UPDATE tables SET columns = ?2 WHERE id = ?1",
                params![table_id, columns],
            )
            .unwrap();
        }
        // A copy of a file registered as one more file (duplicated rows).
        {
            let copy = victim.with_file_name("00000000000000000000000000000001.parquet");
            std::fs::copy(&victim, &copy).unwrap();
            let f = saved_files.iter().find(|f| f.0 == victim_rel).unwrap();
            let copy_rel = format!("tables/{table_id}/00000000000000000000000000000001.parquet");
            db.execute(
                "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256, block_tags) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![table_id, copy_rel, f.1, f.2, f.3, f.4, f.5],
            )
            .unwrap();
            check(&mut report, "catalog: copy a file and add a row");
            restore_files();
            std::fs::remove_file(&copy).unwrap();
        }
        // A plain Parquet file registered with no encryption.
        {
            let plain = w.files("p_plain", "u")[0].clone();
            let copy = victim.with_file_name("00000000000000000000000000000002.parquet");
            std::fs::copy(w.path(&plain), &copy).unwrap();
            let copy_rel = format!("tables/{table_id}/00000000000000000000000000000002.parquet");
            let tags: Option<Vec<u8>> = plain.block_tags.as_ref().map(|t| t.to_vec());
            db.execute(
                "INSERT INTO files (table_id, path, rows, bytes, encryption, footer_sha256, block_tags) \
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
                params![
                    table_id,
                    copy_rel,
                    plain.rows as i64,
                    plain.bytes as i64,
                    plain.pinned_sha256.map(|d| d.to_vec()),
                    tags
                ],
            )
            .unwrap();
            check(&mut report, "catalog: register a plain file");
            restore_files();
            std::fs::remove_file(&copy).unwrap();
        }
        // The project's encryption setting cleared: reads and, above all,
        // writes must refuse (a write would be plaintext).
        if s.algorithm.is_some() {
            let (properties, mac): (String, Option<Vec<u8>>) = db
                .query_row(
                    "SELECT properties, mac FROM projects WHERE name = ?1",
                    [&project],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            db.execute(
                "UPDATE projects SET properties = '{}' WHERE name = ?1",
                [&project],
            )
            .unwrap();
            check(&mut report, "catalog: clear project properties");
            let mut session = w.session();
            let insert = w.run(
                &mut session,
                &format!("INSERT INTO {project}.t VALUES (1000, 'x')"),
            );
            let wrote = insert.is_ok();
            if let Err(e) = &insert {
                assert!(
                    e.contains(&format!("project '{project}'")) && e.contains("integrity check"),
                    "{e}"
                );
            }
            report.record(
                s.name,
                "  ...and INSERT into it",
                if wrote {
                    Outcome::WrongRows
                } else {
                    Outcome::Refused
                },
                if wrote {
                    Outcome::WrongRows
                } else {
                    Outcome::Refused
                },
                &insert
                    .err()
                    .unwrap_or_else(|| "the INSERT was written".into()),
            );
            db.execute(
                "UPDATE projects SET properties = ?2, mac = ?3 WHERE name = ?1",
                params![project, properties, mac],
            )
            .unwrap();
        }
        drop(db);
        // Every case was undone: the table reads as before.
        assert_eq!(
            w.query(&scan).as_deref(),
            Ok(base_scan.as_str()),
            "{project} restored"
        );
    }
    println!(
        "\n{:<15} {:<34} {:<9} {:<9} error\n{}",
        "setting",
        "case",
        "scan",
        "count",
        report.lines.join("\n")
    );
    println!(
        "{} queries refused, {} gave the untampered rows, {} gave other rows",
        report.refused,
        report.same,
        report.wrong.len()
    );
    assert!(
        report.wrong.is_empty(),
        "tampering returned other rows without an error:\n{}",
        report.wrong.join("\n")
    );
    assert!(report.refused > 0);
}

on_both_backends!(no_tampering_returns_other_rows);
