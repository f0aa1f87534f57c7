//! What a PostgreSQL client sent, sorted by who handles it: the connection
//! itself (settings, transaction blocks, cursors) or the warehouse session
//! (queries and Sealhouse's own statements).

use datafusion::sql::sqlparser::ast::{
    CloseCursor, DeclareType, Expr, FetchDirection, Set, Statement, Value,
};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use sealhouse_sql::SqlSession;

use crate::error::ClientError;

/// One statement of a query string.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// One of Sealhouse's own statements (GRANT, CREATE PROJECT, USE, DESC
    /// ...), as written: only the warehouse session parses it.
    Sealhouse(String),
    /// A query or DML statement, planned by the warehouse session.
    Query {
        /// Its text, for column names.
        text: String,
        statement: Box<Statement>,
    },
    /// `SET name = value` / `SET name TO DEFAULT` / `RESET name`
    /// (`value` `None`: back to the default).
    Set { name: String, value: Option<String> },
    /// `RESET ALL`.
    ResetAll,
    /// `SHOW name`, `SHOW ALL`.
    Show(String),
    /// `BEGIN`, `START TRANSACTION ...`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
    /// `DECLARE name CURSOR [WITH HOLD] FOR query`.
    Declare {
        name: String,
        hold: bool,
        text: String,
        query: Box<Statement>,
    },
    /// `FETCH [n | ALL | NEXT] [FROM | IN] name` (`count` `None`: all).
    Fetch { name: String, count: Option<usize> },
    /// `CLOSE name`, `CLOSE ALL` (`None`).
    Close(Option<String>),
    /// `DISCARD ALL`: closes cursors and resets settings.
    DiscardAll,
    /// `DEALLOCATE [PREPARE] name | ALL`: prepared statements live in the
    /// protocol layer; the statement itself only acknowledges.
    Deallocate,
}

impl Command {
    /// The command tag a success reports.
    pub(crate) fn tag(&self) -> &'static str {
        match self {
            Self::Set { value: Some(_), .. } => "SET",
            Self::Set { value: None, .. } | Self::ResetAll => "RESET",
            Self::Show(_) => "SHOW",
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::Rollback => "ROLLBACK",
            Self::Declare { .. } => "DECLARE CURSOR",
            Self::Fetch { .. } => "FETCH",
            Self::Close(_) => "CLOSE CURSOR",
            Self::DiscardAll => "DISCARD ALL",
            Self::Deallocate => "DEALLOCATE",
            Self::Sealhouse(_) | Self::Query { .. } => "SELECT",
        }
    }

    /// What kind of statement it is, for the log: its first keyword
    /// (SELECT, INSERT, GRANT ...), never anything the user wrote after it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Query { statement, .. } => match statement.as_ref() {
                Statement::Query(_) => "SELECT",
                Statement::Insert(_) => "INSERT",
                Statement::CreateTable(_) => "CREATE TABLE",
                Statement::Drop { .. } => "DROP",
                Statement::Explain { .. } => "EXPLAIN",
                _ => "OTHER",
            },
            Self::Sealhouse(text) => {
                let first = text.split_whitespace().next().unwrap_or_default();
                [
                    "CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "SHOW", "DESC", "DESCRIBE",
                    "USE", "LIST", "ADD", "REMOVE", "REWRITE", "SET", "WHOAMI",
                ]
                .into_iter()
                .find(|k| first.eq_ignore_ascii_case(k))
                .unwrap_or("SEALHOUSE")
            }
            other => other.tag(),
        }
    }

    /// Whether the statement changes stored data or metadata, and so cannot
    /// run inside a transaction block (each statement commits on its own).
    pub(crate) fn writes(&self) -> bool {
        match self {
            Self::Query { statement, .. } => !matches!(
                statement.as_ref(),
                Statement::Query(_) | Statement::Explain { .. }
            ),
            Self::Sealhouse(text) => !is_read_only_sealhouse_statement(text),
            _ => false,
        }
    }
}

/// Sealhouse statements that only read: SHOW ..., DESC ..., USE.
fn is_read_only_sealhouse_statement(text: &str) -> bool {
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SHOW" | "DESC" | "DESCRIBE" | "USE" | "LIST"
    )
}

/// Splits a query string into commands. Sealhouse's own statements are
/// recognised first (PostgreSQL's grammar has no CREATE PROJECT); the rest
/// is parsed as PostgreSQL, with the compatibility rewrites psql's and the
/// drivers' catalog queries need.
pub(crate) fn parse(
    parser: &PostgresCompatibilityParser,
    query: &str,
) -> Result<Vec<Command>, ClientError> {
    let pieces = sealhouse_sql::script::split(query).map_err(ClientError::from_sql)?;
    let mut commands = Vec::new();
    for piece in pieces {
        let text = piece.text.trim();
        if text.is_empty() {
            continue;
        }
        // Before the parser and its rewrites recurse over the tree.
        sealhouse_sql::nesting::check_nesting(text).map_err(ClientError::from_sql)?;
        if let Some(command) = abort(text) {
            commands.push(command);
        } else if SqlSession::is_sealhouse_statement(text) {
            commands.push(Command::Sealhouse(text.to_owned()));
        } else {
            // Sealhouse's type names (BINARY, DATETIME) in PostgreSQL's spelling.
            let text =
                sealhouse_sql::script::rewrite_type_names(text).map_err(ClientError::from_sql)?;
            let statements = parser.parse(&text).map_err(|e| {
                ClientError::syntax(format!("{e}; the statement was: {}", clip(&text)))
            })?;
            for statement in statements {
                commands.push(classify(statement)?);
            }
        }
    }
    Ok(commands)
}

/// `ABORT [WORK | TRANSACTION]`, which the parser does not know.
fn abort(text: &str) -> Option<Command> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["ABORT"] | ["ABORT", "WORK" | "TRANSACTION"] => Some(Command::Rollback),
        _ => None,
    }
}

fn classify(statement: Statement) -> Result<Command, ClientError> {
    Ok(match statement {
        Statement::StartTransaction { .. } => Command::Begin,
        Statement::Commit { chain: false, .. } => Command::Commit,
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Command::Rollback,
        Statement::Commit { .. } | Statement::Rollback { .. } => {
            return Err(ClientError::unsupported(
                "savepoints and AND CHAIN are not supported; COMMIT or ROLLBACK the whole block",
            ));
        }
        Statement::Set(set) => set_command(set)?,
        Statement::Reset(reset) => {
            let text = reset.to_string();
            let name = text
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .trim()
                .to_owned();
            if name.eq_ignore_ascii_case("all") {
                Command::ResetAll
            } else {
                Command::Set {
                    name: name.to_ascii_lowercase(),
                    value: None,
                }
            }
        }
        Statement::ShowVariable { variable } => Command::Show(
            variable
                .iter()
                .map(|i| i.value.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Statement::Declare { mut stmts } if stmts.len() == 1 => {
            let declare = stmts.remove(0);
            if declare.declare_type != Some(DeclareType::Cursor) {
                return Err(ClientError::unsupported(
                    "only DECLARE name CURSOR FOR query is supported",
                ));
            }
            if declare.scroll == Some(true) {
                return Err(ClientError::unsupported(
                    "SCROLL cursors are not supported; declare the cursor NO SCROLL (the default)",
                ));
            }
            let name = declare
                .names
                .first()
                .map(|n| n.value.clone())
                .ok_or_else(|| ClientError::syntax("DECLARE needs a cursor name".to_owned()))?;
            let query = declare.for_query.ok_or_else(|| {
                ClientError::syntax("DECLARE ... CURSOR needs FOR <query>".to_owned())
            })?;
            Command::Declare {
                name,
                hold: declare.hold == Some(true),
                text: query.to_string(),
                query: Box::new(Statement::Query(query)),
            }
        }
        Statement::Fetch {
            name, direction, ..
        } => Command::Fetch {
            name: name.value,
            count: fetch_count(&direction)?,
        },
        Statement::Close { cursor } => Command::Close(match cursor {
            CloseCursor::All => None,
            CloseCursor::Specific { name } => Some(name.value),
        }),
        Statement::Discard { .. } => Command::DiscardAll,
        Statement::Deallocate { .. } => Command::Deallocate,
        statement => Command::Query {
            text: statement.to_string(),
            statement: Box::new(statement),
        },
    })
}

fn set_command(set: Set) -> Result<Command, ClientError> {
    match set {
        Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = variable.to_string().to_ascii_lowercase();
            let value = values.iter().map(expr_text).collect::<Vec<_>>().join(", ");
            let value = (!value.eq_ignore_ascii_case("default")).then_some(value);
            Ok(Command::Set { name, value })
        }
        Set::SetTimeZone { value, .. } => Ok(Command::Set {
            name: "timezone".to_owned(),
            value: Some(expr_text(&value)),
        }),
        Set::SetNames { charset_name, .. } => Ok(Command::Set {
            name: "client_encoding".to_owned(),
            value: Some(charset_name.value),
        }),
        Set::SetTransaction { .. } => Ok(Command::Set {
            name: "transaction_isolation".to_owned(),
            value: Some("read committed".to_owned()),
        }),
        other => Err(ClientError::unsupported(format!(
            "{other} is not supported; SET takes one parameter and its value"
        ))),
    }
}

/// A SET value as text: a quoted string's contents, a number or a word.
fn expr_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

fn fetch_count(direction: &FetchDirection) -> Result<Option<usize>, ClientError> {
    let number = |v: &datafusion::sql::sqlparser::ast::ValueWithSpan| {
        v.value
            .to_string()
            .parse::<usize>()
            .map_err(|_| ClientError::syntax(format!("FETCH needs a row count, not {}", v.value)))
    };
    match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Ok(Some(1)),
        FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
            number(limit).map(Some)
        }
        FetchDirection::All | FetchDirection::ForwardAll => Ok(None),
        _ => Err(ClientError::unsupported(
            "cursors only move forward: FETCH [FORWARD] n, NEXT or ALL",
        )),
    }
}

/// A statement shortened for an error message.
fn clip(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}...", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Command {
        let parser = PostgresCompatibilityParser::new();
        let mut commands = parse(&parser, sql).expect("parses");
        assert_eq!(commands.len(), 1, "{sql}");
        commands.remove(0)
    }

    #[test]
    fn postgres_fdw_session_statements() {
        assert!(matches!(
            one("SET search_path = pg_catalog"),
            Command::Set { ref name, value: Some(ref v) } if name == "search_path" && v == "pg_catalog"
        ));
        assert!(matches!(
            one("SET timezone = 'UTC'"),
            Command::Set { ref name, value: Some(ref v) } if name == "timezone" && v == "UTC"
        ));
        assert!(matches!(
            one("SET extra_float_digits = 3"),
            Command::Set { value: Some(ref v), .. } if v == "3"
        ));
        assert!(matches!(
            one("START TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            Command::Begin
        ));
        assert!(matches!(one("COMMIT TRANSACTION"), Command::Commit));
        assert!(matches!(one("ABORT TRANSACTION"), Command::Rollback));
        assert!(matches!(
            one("DECLARE c1 CURSOR FOR\nSELECT a, b FROM p.t WHERE ((a > 5))"),
            Command::Declare { ref name, hold: false, .. } if name == "c1"
        ));
        assert!(matches!(
            one("FETCH 100 FROM c1"),
            Command::Fetch { ref name, count: Some(100) } if name == "c1"
        ));
        assert!(matches!(
            one("FETCH ALL IN c1"),
            Command::Fetch { count: None, .. }
        ));
        assert!(matches!(one("CLOSE c1"), Command::Close(Some(ref n)) if n == "c1"));
    }

    #[test]
    fn sealhouse_statements_pass_through_as_written() {
        for sql in [
            "CREATE PROJECT p ENCRYPTION ALGORITHM AES256",
            "SHOW TABLES",
            "USE p",
            "GRANT SELECT ON TABLE t TO USER x",
        ] {
            assert!(
                matches!(one(sql), Command::Sealhouse(ref t) if t == sql),
                "{sql}"
            );
        }
        assert!(!one("SHOW TABLES").writes());
        assert!(one("CREATE PROJECT p").writes());
        assert!(one("INSERT INTO t VALUES (1)").writes());
        assert!(!one("SELECT 1").writes());
    }

    #[test]
    fn bad_input_names_the_statement() {
        let parser = PostgresCompatibilityParser::new();
        let e = parse(&parser, "SELEC 1").expect_err("no such statement");
        assert!(e.message.contains("SELEC 1"), "{}", e.message);
        let e = parse(&parser, "FETCH PRIOR FROM c").expect_err("backwards");
        assert!(e.message.contains("forward"), "{}", e.message);
    }
}
