//! The access-control statements, parsed: members, roles, grants.
//!
//! ```text
//! ADD USER <principal>            REMOVE USER <principal>
//! CREATE ROLE <role>              DROP ROLE <role>
//! GRANT <role> TO USER <principal>                 REVOKE <role> FROM USER <principal>
//! GRANT <privileges> ON TABLE <table> TO USER <principal> | ROLE <role>
//! GRANT <privileges> ON PROJECT <project> TO USER <principal> | ROLE <role>
//! REVOKE <privileges> ON ... FROM USER <principal> | ROLE <role>
//! SHOW GRANTS [FOR USER <principal>]    SHOW ROLES    SHOW USERS
//! ```
//!
//! `<privileges>`: a comma-separated list of SELECT, INSERT (or UPDATE),
//! DESCRIBE, DROP, CREATETABLE, LIST, ADMIN, or ALL. `<principal>`: an ARN
//! (`'acs:ram::<uid>:user/<name>'`, `...:role/<name>`, `...:root`), or a
//! bare user name of the project's account. `<role>`: `Super_Administrator`,
//! `Admin`, or a custom role.

use super::privilege::Privilege;
use crate::SqlError;

/// Whom a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grantee {
    /// A principal, as written.
    User(String),
    /// A project role.
    Role(String),
}

/// What a grant is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Object {
    /// A table, possibly `project.table`.
    Table(String),
    /// A project.
    Project(String),
}

/// An access-control statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AclStatement {
    AddUser(String),
    RemoveUser(String),
    CreateRole(String),
    DropRole(String),
    GrantRole {
        role: String,
        user: String,
    },
    RevokeRole {
        role: String,
        user: String,
    },
    Grant {
        privileges: Vec<Privilege>,
        on: Object,
        to: Grantee,
    },
    Revoke {
        privileges: Vec<Privilege>,
        on: Object,
        from: Grantee,
    },
    ShowGrants {
        user: Option<String>,
    },
    ShowRoles,
    ShowUsers,
}

const USAGE: &str = "GRANT <privileges> ON TABLE <t> | PROJECT <p> TO USER <principal> | ROLE <role>, \
GRANT <role> TO USER <principal>, REVOKE ... FROM ..., ADD USER / REMOVE USER <principal>, \
CREATE ROLE / DROP ROLE <role>, SHOW GRANTS [FOR USER <principal>], SHOW ROLES, SHOW USERS";

/// Recognises an access-control statement: `None` for anything else, an
/// error for one that starts like one but is malformed.
pub(crate) fn parse(statement: &str) -> Option<Result<AclStatement, SqlError>> {
    let tokens = tokenize(statement.trim().trim_end_matches(';'));
    let upper: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
    let u: Vec<&str> = upper.iter().map(String::as_str).collect();
    let starts = matches!(
        u.as_slice(),
        ["GRANT", ..]
            | ["REVOKE", ..]
            | ["ADD", "USER", ..]
            | ["REMOVE", "USER", ..]
            | ["CREATE", "ROLE", ..]
            | ["DROP", "ROLE", ..]
            | ["SHOW", "GRANTS", ..]
            | ["SHOW", "ROLES"]
            | ["SHOW", "USERS"]
    );
    if !starts {
        return None;
    }
    Some(parse_tokens(&tokens, &u).unwrap_or_else(|| {
        Err(SqlError::syntax(format!(
            "cannot read this access-control statement; the forms are: {USAGE}"
        )))
    }))
}

fn parse_tokens(t: &[String], u: &[&str]) -> Option<Result<AclStatement, SqlError>> {
    let one = |s: &AclStatement| Some(Ok(s.clone()));
    match u {
        ["ADD", "USER", _] => one(&AclStatement::AddUser(t[2].clone())),
        ["REMOVE", "USER", _] => one(&AclStatement::RemoveUser(t[2].clone())),
        ["CREATE", "ROLE", _] => one(&AclStatement::CreateRole(t[2].clone())),
        ["DROP", "ROLE", _] => one(&AclStatement::DropRole(t[2].clone())),
        ["SHOW", "GRANTS"] => one(&AclStatement::ShowGrants { user: None }),
        ["SHOW", "GRANTS", "FOR", "USER", _] | ["SHOW", "GRANTS", "FOR", _] => {
            one(&AclStatement::ShowGrants {
                user: Some(t[t.len() - 1].clone()),
            })
        }
        ["SHOW", "ROLES"] => one(&AclStatement::ShowRoles),
        ["SHOW", "USERS"] => one(&AclStatement::ShowUsers),
        ["GRANT", _, "TO", "USER", _] => one(&AclStatement::GrantRole {
            role: t[1].clone(),
            user: t[4].clone(),
        }),
        ["REVOKE", _, "FROM", "USER", _] => one(&AclStatement::RevokeRole {
            role: t[1].clone(),
            user: t[4].clone(),
        }),
        ["GRANT", ..] | ["REVOKE", ..] => {
            let grant = u[0] == "GRANT";
            let on = u.iter().position(|w| *w == "ON")?;
            let privileges = match privileges(&t[1..on]) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            let (object, rest) = match &u[on + 1..] {
                ["TABLE", _, rest @ ..] => (Object::Table(t[on + 2].clone()), rest),
                ["PROJECT", _, rest @ ..] => (Object::Project(t[on + 2].clone()), rest),
                _ => return None,
            };
            let at = t.len() - rest.len();
            let grantee = match rest {
                [to, "USER", _] if *to == if grant { "TO" } else { "FROM" } => {
                    Grantee::User(t[at + 2].clone())
                }
                [to, "ROLE", _] if *to == if grant { "TO" } else { "FROM" } => {
                    Grantee::Role(t[at + 2].clone())
                }
                _ => return None,
            };
            one(&if grant {
                AclStatement::Grant {
                    privileges,
                    on: object,
                    to: grantee,
                }
            } else {
                AclStatement::Revoke {
                    privileges,
                    on: object,
                    from: grantee,
                }
            })
        }
        _ => None,
    }
}

/// `SELECT , INSERT` or `ALL` → the privileges.
fn privileges(tokens: &[String]) -> Result<Vec<Privilege>, SqlError> {
    let names: Vec<&String> = tokens.iter().filter(|t| t.as_str() != ",").collect();
    if names.is_empty() {
        return Err(SqlError::syntax(
            "GRANT/REVOKE: name at least one privilege",
        ));
    }
    let mut out = Vec::new();
    for name in names {
        if name.eq_ignore_ascii_case("ALL") {
            out.extend(Privilege::ALL);
            continue;
        }
        out.push(Privilege::parse(name).ok_or_else(|| {
            SqlError::syntax(format!(
                "unknown privilege '{name}'; the privileges are SELECT, INSERT, DESCRIBE, DROP, \
                 CREATETABLE, LIST, ADMIN and ALL"
            ))
        })?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Words, `,` as its own token, and quoted text ('...' or `...`) as one
/// token without its quotes.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ',' {
            chars.next();
            tokens.push(",".to_owned());
        } else if c == '\'' || c == '`' || c == '"' {
            chars.next();
            let mut word = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                word.push(d);
            }
            tokens.push(word);
        } else {
            let mut word = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || d == ',' {
                    break;
                }
                word.push(d);
                chars.next();
            }
            tokens.push(word);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> AclStatement {
        parse(s).expect("an ACL statement").expect("parses")
    }

    #[test]
    fn reads_every_form() {
        assert_eq!(
            ok("grant select, insert on table t to user 'acs:ram::1:user/alice';"),
            AclStatement::Grant {
                privileges: vec![Privilege::Select, Privilege::Insert],
                on: Object::Table("t".into()),
                to: Grantee::User("acs:ram::1:user/alice".into()),
            }
        );
        assert_eq!(
            ok("REVOKE ALL ON PROJECT p FROM ROLE readers"),
            AclStatement::Revoke {
                privileges: Privilege::ALL.to_vec(),
                on: Object::Project("p".into()),
                from: Grantee::Role("readers".into()),
            }
        );
        assert_eq!(
            ok("GRANT Admin TO USER bob"),
            AclStatement::GrantRole {
                role: "Admin".into(),
                user: "bob".into()
            }
        );
        assert_eq!(ok("add user bob"), AclStatement::AddUser("bob".into()));
        assert_eq!(
            ok("CREATE ROLE readers"),
            AclStatement::CreateRole("readers".into())
        );
        assert_eq!(
            ok("show grants for user bob"),
            AclStatement::ShowGrants {
                user: Some("bob".into())
            }
        );
        assert_eq!(ok("SHOW USERS"), AclStatement::ShowUsers);
        assert!(parse("SELECT 1").is_none());
        assert!(parse("CREATE TABLE t (a INT)").is_none());
    }

    #[test]
    fn malformed_statements_say_what_the_forms_are() {
        for bad in [
            "GRANT SELECT ON t TO USER bob",
            "GRANT SELEKT ON TABLE t TO USER bob",
            "GRANT SELECT ON TABLE t FROM USER bob",
            "ADD USER",
            "GRANT",
        ] {
            let err = parse(bad).expect("recognised").expect_err(bad).to_string();
            assert!(
                err.contains("GRANT") || err.contains("privilege"),
                "{bad}: {err}"
            );
        }
    }
}
