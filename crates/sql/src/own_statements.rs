//! Statements Sealhouse handles itself rather than DataFusion: projects
//! (CREATE / DROP / SHOW PROJECTS, USE, storage encryption: CREATE PROJECT
//! ... ENCRYPTION, ALTER PROJECT ... ENCRYPTION, DESC PROJECT, REWRITE),
//! database settings (ALTER DATABASE ... SET / RESET, SHOW name), SHOW
//! TABLES, DESC and SET.

use sealhouse_storage::{DatabaseSetting, StorageAlgorithm};

use sealhouse_storage::encryption::setup::{EncryptionRequest, KeyChoice};

/// A statement handled outside DataFusion.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OwnStatement {
    CreateProject {
        name: String,
        if_not_exists: bool,
        /// `ENCRYPTION [ALGORITHM a] [KEY k]`: storage encryption from the start.
        encryption: Option<EncryptionRequest>,
    },
    /// `ALTER PROJECT p ENABLE ENCRYPTION ...` (`Some`) or `... DISABLE
    /// ENCRYPTION` (`None`, always refused once enabled).
    AlterEncryption {
        project: String,
        enable: Option<EncryptionRequest>,
    },
    /// `DESC PROJECT p`: owner and storage encryption.
    DescribeProject {
        project: String,
    },
    /// `REWRITE TABLE t` / `REWRITE PROJECT p`: re-encrypt in place.
    Rewrite {
        target: RewriteTarget,
    },
    /// `ALTER TABLE t MERGE SMALLFILES`: the table's small files into one.
    MergeSmallFiles {
        table: String,
    },
    /// A statement of ours that does not parse: the message says why.
    Malformed(String),
    DropProject {
        name: String,
        if_exists: bool,
    },
    ShowProjects,
    Use {
        project: String,
    },
    ShowTables {
        project: Option<String>,
    },
    Describe {
        table: String,
    },
    /// `ALTER DATABASE p SET name = value` (`Some`), `... RESET name` or
    /// `... SET name TO DEFAULT` (`None`): a project's database setting.
    AlterDatabase {
        project: String,
        setting: DatabaseSetting,
        value: Option<String>,
    },
    /// `SHOW name` of a database setting: the current project's value.
    ShowSetting {
        setting: DatabaseSetting,
    },
    /// `SET key=value`; `SET` alone lists the settings.
    Set {
        assignment: Option<(String, String)>,
    },
}

/// What a REWRITE rewrites.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RewriteTarget {
    /// One table (`t` or `project.t`).
    Table(String),
    /// Every table of a project.
    Project(String),
}

/// The usage of the storage encryption clause, for errors.
const ENCRYPTION_USAGE: &str =
    "ENCRYPTION [ALGORITHM AES256|AESCTR|RC4] [KEY 'DEFAULT'|'<CMK ARN>']";

/// Reads `[WITH] ENCRYPTION [ALGORITHM a] [KEY k]` (`=` optional, values
/// optionally quoted); AES256 and the default key unless named.
fn encryption_clause(words: &[&str]) -> Result<EncryptionRequest, String> {
    let value = |w: &str| w.trim_matches(|c| c == '\'' || c == '"').to_owned();
    let mut rest = words;
    if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("WITH")) {
        rest = &rest[1..];
    }
    match rest.first() {
        Some(w) if w.eq_ignore_ascii_case("ENCRYPTION") => rest = &rest[1..],
        _ => return Err(format!("expected {ENCRYPTION_USAGE}")),
    }
    let mut request = EncryptionRequest {
        algorithm: StorageAlgorithm::Aes256,
        key: KeyChoice::Default,
    };
    while let Some((option, tail)) = rest.split_first() {
        let tail = match tail.first() {
            Some(&"=") => &tail[1..],
            _ => tail,
        };
        let Some((v, tail)) = tail.split_first() else {
            return Err(format!("{option} needs a value: {ENCRYPTION_USAGE}"));
        };
        let v = value(v);
        match option.to_ascii_uppercase().as_str() {
            "ALGORITHM" => request.algorithm = v.parse()?,
            "KEY" if v.eq_ignore_ascii_case("DEFAULT") => request.key = KeyChoice::Default,
            "KEY" => request.key = KeyChoice::Byok(v),
            _ => return Err(format!("unexpected '{option}': {ENCRYPTION_USAGE}")),
        }
        rest = tail;
    }
    Ok(request)
}

/// The usage of ALTER DATABASE, for errors.
const ALTER_DATABASE_USAGE: &str =
    "ALTER DATABASE <project> SET <name> = <value> | SET <name> TO DEFAULT | RESET <name>";

/// `ALTER DATABASE <db> ...` from the words after the database name.
fn alter_database(project: &str, words: &[&str]) -> OwnStatement {
    let malformed = |why: String| {
        OwnStatement::Malformed(format!("ALTER DATABASE: {why} ({ALTER_DATABASE_USAGE})"))
    };
    let (name, value): (String, Option<String>) = match words {
        [reset, name] if reset.eq_ignore_ascii_case("RESET") => ((*name).to_owned(), None),
        [set, rest @ ..] if set.eq_ignore_ascii_case("SET") => {
            // `name = value`, `name=value`, `name TO value`.
            let text = rest.join(" ");
            let split = text.split_once('=').or_else(|| {
                let (name, value) = text.split_once(char::is_whitespace)?;
                let (to, value) = value.trim_start().split_once(char::is_whitespace)?;
                to.eq_ignore_ascii_case("TO").then_some((name, value))
            });
            let Some((name, value)) = split else {
                return malformed("expected a setting and its value".into());
            };
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            if value.is_empty() {
                return malformed(format!("{} needs a value", name.trim()));
            }
            let value = (!value.eq_ignore_ascii_case("DEFAULT")).then(|| value.to_owned());
            (name.trim().to_owned(), value)
        }
        _ => return malformed("expected SET or RESET".into()),
    };
    match DatabaseSetting::named(name.trim_matches('"')) {
        Ok(setting) => OwnStatement::AlterDatabase {
            project: project.trim_matches(|c| c == '`' || c == '"').to_owned(),
            setting,
            value,
        },
        Err(e) => OwnStatement::Malformed(format!("ALTER DATABASE: {e}")),
    }
}

/// Recognises a meta statement; anything else is `None` and goes to DataFusion.
pub(crate) fn parse(statement: &str) -> Option<OwnStatement> {
    let text = statement.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let u: Vec<&str> = upper.iter().map(String::as_str).collect();
    let ident = |w: &str| w.trim_matches('`').to_owned();
    let create = |name: &str, if_not_exists: bool, clause: &[&str]| {
        let encryption = if clause.is_empty() {
            None
        } else {
            match encryption_clause(clause) {
                Ok(e) => Some(e),
                Err(e) => return OwnStatement::Malformed(format!("CREATE PROJECT: {e}")),
            }
        };
        OwnStatement::CreateProject {
            name: ident(name),
            if_not_exists,
            encryption,
        }
    };
    match u.as_slice() {
        ["CREATE", "PROJECT", "IF", "NOT", "EXISTS", _, ..] => {
            Some(create(words[5], true, &words[6..]))
        }
        ["CREATE", "PROJECT", _, ..] => Some(create(words[2], false, &words[3..])),
        ["ALTER", "PROJECT", _, "DISABLE", "ENCRYPTION"] => Some(OwnStatement::AlterEncryption {
            project: ident(words[2]),
            enable: None,
        }),
        ["ALTER", "PROJECT", _, "ENABLE" | "SET", ..] => {
            Some(match encryption_clause(&words[4..]) {
                Ok(e) => OwnStatement::AlterEncryption {
                    project: ident(words[2]),
                    enable: Some(e),
                },
                Err(e) => OwnStatement::Malformed(format!(
                    "ALTER PROJECT: {e} (ALTER PROJECT p ENABLE {ENCRYPTION_USAGE})"
                )),
            })
        }
        ["DESC" | "DESCRIBE", "PROJECT", _] => Some(OwnStatement::DescribeProject {
            project: ident(words[2]),
        }),
        ["REWRITE", "TABLE", _] => Some(OwnStatement::Rewrite {
            target: RewriteTarget::Table(ident(words[2])),
        }),
        ["REWRITE", "PROJECT", _] => Some(OwnStatement::Rewrite {
            target: RewriteTarget::Project(ident(words[2])),
        }),
        ["ALTER", "TABLE", _, "MERGE", "SMALLFILES"] => Some(OwnStatement::MergeSmallFiles {
            table: ident(words[2]),
        }),
        ["ALTER", "TABLE", _, "MERGE", ..] => Some(OwnStatement::Malformed(
            "ALTER TABLE t MERGE SMALLFILES is the only MERGE form".into(),
        )),
        ["REWRITE", ..] => Some(OwnStatement::Malformed(
            "REWRITE needs TABLE <table> or PROJECT <project>".into(),
        )),
        ["DROP", "PROJECT", "IF", "EXISTS", _] => Some(OwnStatement::DropProject {
            name: ident(words[4]),
            if_exists: true,
        }),
        ["DROP", "PROJECT", _] => Some(OwnStatement::DropProject {
            name: ident(words[2]),
            if_exists: false,
        }),
        ["ALTER", "DATABASE", _, ..] => Some(alter_database(words[2], &words[3..])),
        ["SHOW", "PROJECTS"] => Some(OwnStatement::ShowProjects),
        ["SHOW", _] if DatabaseSetting::named(words[1]).is_ok() => {
            Some(OwnStatement::ShowSetting {
                setting: DatabaseSetting::named(words[1]).ok()?,
            })
        }
        ["USE", _] => Some(OwnStatement::Use {
            project: ident(words[1]),
        }),
        ["SHOW", "TABLES"] => Some(OwnStatement::ShowTables { project: None }),
        ["SHOW", "TABLES", "IN" | "FROM", _] => Some(OwnStatement::ShowTables {
            project: Some(ident(words[3])),
        }),
        ["DESC" | "DESCRIBE", "TABLE" | "EXTENDED" | "FORMATTED", _] => {
            Some(OwnStatement::Describe {
                table: ident(words[2]),
            })
        }
        ["DESC" | "DESCRIBE", _] => Some(OwnStatement::Describe {
            table: ident(words[1]),
        }),
        ["SET"] => Some(OwnStatement::Set { assignment: None }),
        [first, ..] if *first == "SET" => {
            let rest = text[3..].trim();
            let (key, value) = rest.split_once('=')?;
            Some(OwnStatement::Set {
                assignment: Some((
                    key.trim().to_owned(),
                    value.trim().trim_matches('\'').to_owned(),
                )),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_database_settings() {
        let s = DatabaseSetting::ExternalDirectRead;
        let alter = |project: &str, value: Option<&str>| OwnStatement::AlterDatabase {
            project: project.into(),
            setting: s,
            value: value.map(Into::into),
        };
        // Spec 004's statement, as written there.
        assert_eq!(
            parse(
                "ALTER DATABASE sales SET hg_experimental_enable_access_odps_orc_via_holo = false;"
            ),
            Some(alter("sales", Some("false")))
        );
        assert_eq!(
            parse(
                "alter database sales set HG_EXPERIMENTAL_ENABLE_ACCESS_ODPS_ORC_VIA_HOLO to 'off'"
            ),
            Some(alter("sales", Some("off")))
        );
        assert_eq!(
            parse("ALTER DATABASE sales SET hg_experimental_enable_access_odps_orc_via_holo=true"),
            Some(alter("sales", Some("true")))
        );
        assert_eq!(
            parse(
                "ALTER DATABASE sales SET hg_experimental_enable_access_odps_orc_via_holo TO DEFAULT"
            ),
            Some(alter("sales", None))
        );
        assert_eq!(
            parse("ALTER DATABASE \"sales\" RESET hg_experimental_enable_access_odps_orc_via_holo"),
            Some(alter("sales", None))
        );
        assert_eq!(
            parse("SHOW hg_experimental_enable_access_odps_orc_via_holo;"),
            Some(OwnStatement::ShowSetting { setting: s })
        );
        for bad in [
            "ALTER DATABASE sales SET nothing_known = 1",
            "ALTER DATABASE sales SET hg_experimental_enable_access_odps_orc_via_holo",
            "ALTER DATABASE sales RENAME TO x",
        ] {
            assert!(
                matches!(parse(bad), Some(OwnStatement::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(parse("SHOW search_path"), None, "other SHOWs are not ours");
    }

    #[test]
    fn recognises_meta_statements() {
        assert_eq!(
            parse("create project Sales"),
            Some(OwnStatement::CreateProject {
                name: "Sales".into(),
                if_not_exists: false,
                encryption: None,
            })
        );
        assert_eq!(
            parse("CREATE PROJECT IF NOT EXISTS s;"),
            Some(OwnStatement::CreateProject {
                name: "s".into(),
                if_not_exists: true,
                encryption: None,
            })
        );
        assert_eq!(
            parse("use `s`"),
            Some(OwnStatement::Use {
                project: "s".into()
            })
        );
        assert_eq!(
            parse("show tables in p"),
            Some(OwnStatement::ShowTables {
                project: Some("p".into())
            })
        );
        assert_eq!(
            parse("DESC mf_keyset"),
            Some(OwnStatement::Describe {
                table: "mf_keyset".into()
            })
        );
        assert_eq!(
            parse("SET odps.sql.type.system.odps2=true"),
            Some(OwnStatement::Set {
                assignment: Some(("odps.sql.type.system.odps2".into(), "true".into()))
            })
        );
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(
            parse("REWRITE"),
            Some(OwnStatement::Malformed(
                "REWRITE needs TABLE <table> or PROJECT <project>".into()
            ))
        );
        assert_eq!(parse("CREATE TABLE t (a STRING)"), None);
    }

    #[test]
    fn reads_the_storage_encryption_clauses() {
        let arn = "acs:kms:cn-hangzhou:1:key/k";
        assert_eq!(
            parse(&format!(
                "CREATE PROJECT p WITH ENCRYPTION ALGORITHM = 'rc4' KEY '{arn}';"
            )),
            Some(OwnStatement::CreateProject {
                name: "p".into(),
                if_not_exists: false,
                encryption: Some(EncryptionRequest {
                    algorithm: StorageAlgorithm::Rc4,
                    key: KeyChoice::Byok(arn.into()),
                }),
            })
        );
        assert_eq!(
            parse("create project if not exists p encryption"),
            Some(OwnStatement::CreateProject {
                name: "p".into(),
                if_not_exists: true,
                encryption: Some(EncryptionRequest {
                    algorithm: StorageAlgorithm::Aes256,
                    key: KeyChoice::Default,
                }),
            })
        );
        assert_eq!(
            parse("ALTER PROJECT p ENABLE ENCRYPTION ALGORITHM AESCTR KEY DEFAULT"),
            Some(OwnStatement::AlterEncryption {
                project: "p".into(),
                enable: Some(EncryptionRequest {
                    algorithm: StorageAlgorithm::AesCtr,
                    key: KeyChoice::Default,
                }),
            })
        );
        assert_eq!(
            parse("alter project p disable encryption"),
            Some(OwnStatement::AlterEncryption {
                project: "p".into(),
                enable: None
            })
        );
        for bad in [
            "CREATE PROJECT p ENCRYPTION ALGORITHM DES",
            "CREATE PROJECT p ENCRYPTED",
            "CREATE PROJECT p ENCRYPTION KEY",
            "ALTER PROJECT p ENABLE ENCRYPTION COLOR blue",
        ] {
            assert!(
                matches!(parse(bad), Some(OwnStatement::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            parse("desc project p"),
            Some(OwnStatement::DescribeProject {
                project: "p".into()
            })
        );
        assert_eq!(
            parse("REWRITE TABLE p.t"),
            Some(OwnStatement::Rewrite {
                target: RewriteTarget::Table("p.t".into())
            })
        );
    }

    #[test]
    fn merge_smallfiles() {
        assert_eq!(
            parse("alter table p.t merge smallfiles;"),
            Some(OwnStatement::MergeSmallFiles {
                table: "p.t".into()
            })
        );
        assert!(matches!(
            parse("ALTER TABLE t MERGE everything"),
            Some(OwnStatement::Malformed(_))
        ));
        assert_eq!(parse("ALTER TABLE t ADD COLUMNS (x BIGINT)"), None);
    }
}
