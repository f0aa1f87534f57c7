//! Statements Sealhouse handles itself rather than DataFusion: projects
//! (CREATE / DROP / SHOW PROJECTS, USE), SHOW TABLES, DESC and SET.

/// A statement handled outside DataFusion.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Meta {
    CreateProject {
        name: String,
        if_not_exists: bool,
    },
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
    /// `SET key=value`; `SET` alone lists the settings.
    Set {
        assignment: Option<(String, String)>,
    },
}

/// Recognises a meta statement; anything else is `None` and goes to DataFusion.
pub(crate) fn parse(statement: &str) -> Option<Meta> {
    let text = statement.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let u: Vec<&str> = upper.iter().map(String::as_str).collect();
    let ident = |w: &str| w.trim_matches('`').to_owned();
    match u.as_slice() {
        ["CREATE", "PROJECT", "IF", "NOT", "EXISTS", _] => Some(Meta::CreateProject {
            name: ident(words[5]),
            if_not_exists: true,
        }),
        ["CREATE", "PROJECT", _] => Some(Meta::CreateProject {
            name: ident(words[2]),
            if_not_exists: false,
        }),
        ["DROP", "PROJECT", "IF", "EXISTS", _] => Some(Meta::DropProject {
            name: ident(words[4]),
            if_exists: true,
        }),
        ["DROP", "PROJECT", _] => Some(Meta::DropProject {
            name: ident(words[2]),
            if_exists: false,
        }),
        ["SHOW", "PROJECTS"] => Some(Meta::ShowProjects),
        ["USE", _] => Some(Meta::Use {
            project: ident(words[1]),
        }),
        ["SHOW", "TABLES"] => Some(Meta::ShowTables { project: None }),
        ["SHOW", "TABLES", "IN" | "FROM", _] => Some(Meta::ShowTables {
            project: Some(ident(words[3])),
        }),
        ["DESC" | "DESCRIBE", "TABLE" | "EXTENDED" | "FORMATTED", _] => Some(Meta::Describe {
            table: ident(words[2]),
        }),
        ["DESC" | "DESCRIBE", _] => Some(Meta::Describe {
            table: ident(words[1]),
        }),
        ["SET"] => Some(Meta::Set { assignment: None }),
        [first, ..] if *first == "SET" => {
            let rest = text[3..].trim();
            let (key, value) = rest.split_once('=')?;
            Some(Meta::Set {
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
    fn recognises_meta_statements() {
        assert_eq!(
            parse("create project Sales"),
            Some(Meta::CreateProject {
                name: "Sales".into(),
                if_not_exists: false
            })
        );
        assert_eq!(
            parse("CREATE PROJECT IF NOT EXISTS s;"),
            Some(Meta::CreateProject {
                name: "s".into(),
                if_not_exists: true
            })
        );
        assert_eq!(
            parse("use `s`"),
            Some(Meta::Use {
                project: "s".into()
            })
        );
        assert_eq!(
            parse("show tables in p"),
            Some(Meta::ShowTables {
                project: Some("p".into())
            })
        );
        assert_eq!(
            parse("DESC mf_keyset"),
            Some(Meta::Describe {
                table: "mf_keyset".into()
            })
        );
        assert_eq!(
            parse("SET odps.sql.type.system.odps2=true"),
            Some(Meta::Set {
                assignment: Some(("odps.sql.type.system.odps2".into(), "true".into()))
            })
        );
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse("CREATE TABLE t (a STRING)"), None);
    }
}
