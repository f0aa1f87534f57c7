//! Scripts: splitting text into statements, and the script-mode syntax the
//! spec uses (`@name := expr;` variables, `SET key=value;`).
//!
//! One small lexer, aware of quotes ('...', "...", `...`) and comments (`--`
//! to end of line, `/* ... */`), serves splitting, variable substitution and
//! the DATETIME type alias, so that none of them mistakes text inside a
//! string for syntax.

use crate::SqlError;

/// One statement of a script: its text without comments, and the line it
/// starts on (1-based) for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement, comments removed, without the closing `;`.
    pub text: String,
    /// The line of the script it starts on.
    pub line: usize,
}

/// Splits a script on `;` outside quotes and comments. Empty statements
/// (and comment-only ones) are dropped.
pub fn split(script: &str) -> Result<Vec<ScriptStatement>, SqlError> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut lexer = Lexer::new(script);
    while let Some(piece) = lexer.next_piece()? {
        match piece {
            Piece::Semicolon => {
                push_statement(&mut statements, &mut current, start_line);
                start_line = line;
            }
            Piece::Comment(text) => {
                line += text.matches('\n').count();
                current.push(if text.contains('\n') { '\n' } else { ' ' });
            }
            Piece::Text(text) | Piece::Quoted(text) => {
                if current.trim().is_empty() {
                    let leading = &text[..text.len() - text.trim_start().len()];
                    start_line = line + leading.matches('\n').count();
                }
                line += text.matches('\n').count();
                current.push_str(text);
            }
        }
    }
    push_statement(&mut statements, &mut current, start_line);
    Ok(statements)
}

fn push_statement(statements: &mut Vec<ScriptStatement>, current: &mut String, line: usize) {
    let text = current.trim();
    if !text.is_empty() {
        statements.push(ScriptStatement {
            text: text.to_owned(),
            line,
        });
    }
    current.clear();
}

/// What a statement is, as far as script mode is concerned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScriptLine<'a> {
    /// `@name := expr`
    Assign { name: String, expr: &'a str },
    /// Anything else.
    Sql(&'a str),
}

pub(crate) fn classify(statement: &str) -> ScriptLine<'_> {
    let trimmed = statement.trim();
    if let Some(rest) = trimmed.strip_prefix('@') {
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        if let Some(expr) = after.trim_start().strip_prefix(":=")
            && !name.is_empty()
        {
            return ScriptLine::Assign {
                name: name.to_ascii_lowercase(),
                expr: expr.trim(),
            };
        }
    }
    ScriptLine::Sql(trimmed)
}

/// Rewrites a statement for DataFusion: `@name` outside quotes becomes a
/// positional parameter (`$1`, `$2`, ...), returning the names in parameter
/// order; the type names DATETIME and BINARY become `TIMESTAMP(3)`
/// (millisecond precision, as the original service's DATETIME) and `BYTEA`.
pub(crate) fn prepare(statement: &str) -> Result<(String, Vec<String>), SqlError> {
    let mut out = String::with_capacity(statement.len());
    let mut names: Vec<String> = Vec::new();
    let mut lexer = Lexer::new(statement);
    while let Some(piece) = lexer.next_piece()? {
        match piece {
            Piece::Text(text) => rewrite_text(text, &mut out, Some(&mut names)),
            Piece::Quoted(text) => out.push_str(text),
            Piece::Comment(_) => out.push(' '),
            Piece::Semicolon => out.push(';'),
        }
    }
    Ok((out, names))
}

/// Rewrites only the type names (DATETIME, BINARY) of a statement, for
/// statements that another parser reads (the PostgreSQL endpoint, where
/// `$n` are the client's parameters and `@` is an operator).
pub fn rewrite_type_names(statement: &str) -> Result<String, SqlError> {
    let mut out = String::with_capacity(statement.len());
    let mut lexer = Lexer::new(statement);
    while let Some(piece) = lexer.next_piece()? {
        match piece {
            Piece::Text(text) => rewrite_text(text, &mut out, None),
            Piece::Quoted(text) | Piece::Comment(text) => out.push_str(text),
            Piece::Semicolon => out.push(';'),
        }
    }
    Ok(out)
}

fn rewrite_text(text: &str, out: &mut String, mut names: Option<&mut Vec<String>>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if c == b'@'
            && let Some(names) = names.as_deref_mut()
            && i + 1 < bytes.len()
            && (bytes[i + 1].is_ascii_alphabetic() || bytes[i + 1] == b'_')
        {
            let end = text[i + 1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(text.len(), |n| i + 1 + n);
            let name = text[i + 1..end].to_ascii_lowercase();
            let index = match names.iter().position(|n| *n == name) {
                Some(p) => p,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push_str(&format!("${}", index + 1));
            i = end;
        } else if let Some((len, replacement)) =
            word_start.then(|| type_alias(&text[i..])).flatten()
            && is_type_position(&text[..i], &text[i + len..])
        {
            out.push_str(replacement);
            i += len;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
}

/// Type names of the original service that DataFusion spells otherwise:
/// the length of the name at the start of `text` and its replacement.
fn type_alias(text: &str) -> Option<(usize, &'static str)> {
    const ALIASES: [(&str, &str); 2] = [("DATETIME", "TIMESTAMP(3)"), ("BINARY", "BYTEA")];
    ALIASES.iter().find_map(|(name, replacement)| {
        let candidate = text.get(..name.len())?;
        let after = text.as_bytes().get(name.len()).copied();
        let whole_word =
            !after.is_some_and(|a| a.is_ascii_alphanumeric() || a == b'_' || a == b'(');
        (candidate.eq_ignore_ascii_case(name) && whole_word).then_some((name.len(), *replacement))
    })
}

/// Whether a word between `before` and `after` sits where a type name goes:
/// after a column name or AS, and before `,`, `)`, the end, or a column
/// constraint. `SELECT datetime FROM t` keeps its column.
fn is_type_position(before: &str, after: &str) -> bool {
    let previous = before.split_whitespace().last().unwrap_or("");
    let next = after.trim_start();
    let prev_ok = !previous.is_empty()
        && !previous.ends_with([',', '(', '.'])
        && ![
            "SELECT", "FROM", "WHERE", "BY", "ON", "AND", "OR", "NOT", "JOIN", "SET", "VALUES",
            "DISTINCT",
        ]
        .iter()
        .any(|k| previous.eq_ignore_ascii_case(k));
    let next_ok = next.is_empty()
        || next.starts_with([',', ')'])
        || ["NOT", "NULL", "COMMENT", "DEFAULT"]
            .iter()
            .any(|k| next.to_ascii_uppercase().starts_with(k));
    prev_ok && next_ok
}

enum Piece<'a> {
    Text(&'a str),
    Quoted(&'a str),
    Comment(&'a str),
    Semicolon,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn line_at(&self, pos: usize) -> usize {
        self.src[..pos].matches('\n').count() + 1
    }

    fn next_piece(&mut self) -> Result<Option<Piece<'a>>, SqlError> {
        let rest = &self.src[self.pos..];
        let Some(first) = rest.chars().next() else {
            return Ok(None);
        };
        let start = self.pos;
        let piece = match first {
            ';' => {
                self.pos += 1;
                Piece::Semicolon
            }
            '\'' | '"' | '`' => {
                let end = self.quoted_end(first)?;
                self.pos = end;
                Piece::Quoted(&self.src[start..end])
            }
            '-' if rest.starts_with("--") => {
                let end = rest.find('\n').map_or(self.src.len(), |n| start + n);
                self.pos = end;
                Piece::Comment(&self.src[start..end])
            }
            '/' if rest.starts_with("/*") => {
                let end = rest[2..]
                    .find("*/")
                    .map(|n| start + 2 + n + 2)
                    .ok_or_else(|| {
                        SqlError::syntax(format!(
                            "a /* comment opened on line {} is never closed",
                            self.line_at(start)
                        ))
                    })?;
                self.pos = end;
                Piece::Comment(&self.src[start..end])
            }
            _ => {
                let end = rest
                    .char_indices()
                    .skip(1)
                    .find(|&(i, c)| {
                        matches!(c, ';' | '\'' | '"' | '`')
                            || rest[i..].starts_with("--")
                            || rest[i..].starts_with("/*")
                    })
                    .map_or(self.src.len(), |(i, _)| start + i);
                self.pos = end;
                Piece::Text(&self.src[start..end])
            }
        };
        Ok(Some(piece))
    }

    /// End of a quoted run starting at `self.pos`; a doubled quote or a
    /// backslash escapes the quote character.
    fn quoted_end(&self, quote: char) -> Result<usize, SqlError> {
        let bytes = self.src.as_bytes();
        let q = quote as u8;
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if quote != '`' => i += 2,
                b if b == q => {
                    if bytes.get(i + 1) == Some(&q) {
                        i += 2;
                    } else {
                        return Ok(i + 1);
                    }
                }
                _ => i += 1,
            }
        }
        Err(SqlError::syntax(format!(
            "the {quote} quote opened on line {} is never closed",
            self.line_at(self.pos)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<String> {
        split(script)
            .expect("splits")
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_outside_quotes_and_comments() {
        let script = "-- Create a table\nCREATE TABLE t (a STRING); -- trailing; comment\n\
                      INSERT INTO t VALUES ('a;b'), (\"c;d\");\n/* block; */ SELECT `x;y` FROM t;;  ";
        assert_eq!(
            texts(script),
            vec![
                "CREATE TABLE t (a STRING)",
                "INSERT INTO t VALUES ('a;b'), (\"c;d\")",
                "SELECT `x;y` FROM t"
            ]
        );
        assert_eq!(texts("SELECT 'it''s; fine'"), vec!["SELECT 'it''s; fine'"]);
        assert_eq!(
            texts("SELECT 'back\\'slash;'"),
            vec!["SELECT 'back\\'slash;'"]
        );
    }

    #[test]
    fn reports_the_line_of_each_statement_and_of_unclosed_quotes() {
        let statements = split("SELECT 1;\n\n-- note\nSELECT 2;").expect("splits");
        assert_eq!(statements[0].line, 1);
        assert_eq!(statements[1].line, 4);
        let err = split("SELECT 1;\nSELECT 'open").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(split("/* never").is_err());
    }

    #[test]
    fn variables_become_parameters() {
        assert_eq!(
            classify("@role_arn := 'acs:ram::1:role/r'"),
            ScriptLine::Assign {
                name: "role_arn".into(),
                expr: "'acs:ram::1:role/r'"
            }
        );
        assert_eq!(classify("SELECT @x"), ScriptLine::Sql("SELECT @x"));
        let (sql, names) = prepare("SELECT f(@a, '@b', @A, @c_2)").expect("prepares");
        assert_eq!(sql, "SELECT f($1, '@b', $1, $2)");
        assert_eq!(names, vec!["a", "c_2"]);
    }

    #[test]
    fn datetime_is_a_type_only_where_types_go() {
        let (sql, _) = prepare("CREATE TABLE t (a DATETIME, b datetime NOT NULL, datetime STRING)")
            .expect("ok");
        assert_eq!(
            sql,
            "CREATE TABLE t (a TIMESTAMP(3), b TIMESTAMP(3) NOT NULL, datetime STRING)"
        );
        let (sql, _) = prepare("SELECT CAST(x AS DATETIME), datetime FROM t").expect("ok");
        assert_eq!(sql, "SELECT CAST(x AS TIMESTAMP(3)), datetime FROM t");
        let (sql, _) = prepare(
            "CREATE TABLE k (id STRING, ks BINARY); SELECT CAST('a' AS binary), binary FROM k",
        )
        .expect("ok");
        assert_eq!(
            sql,
            "CREATE TABLE k (id STRING, ks BYTEA); SELECT CAST('a' AS BYTEA), binary FROM k"
        );
    }
}
