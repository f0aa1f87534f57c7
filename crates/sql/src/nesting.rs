//! How deeply a statement nests, bounded before anything parses it.
//!
//! The SQL parser, DataFusion's planner and optimizer, the expression
//! evaluators and even dropping a syntax tree all recurse once per level of
//! the tree. A chain of N operators (`1+1+...`, `a OR b OR ...`,
//! `SELECT 1 UNION ALL SELECT 1 ...`) parses in a loop but builds a tree N
//! levels deep, and without a bound a few kilobytes of query text overflow
//! a thread's stack, which aborts the whole process: every session of a
//! server, not just the one that sent it. sqlparser's recursion limit
//! covers nesting through parentheses and prefixes; this check covers the
//! chains, from the tokens alone (one pass, no recursion), so that nothing
//! recursive ever sees a tree deeper than [`MAX_NESTING`]. The threads that
//! plan and run statements get stacks sized for that depth (see
//! `STATEMENT_STACK_BYTES`).
//!
//! The estimate is an upper bound of the tree's depth: at every open
//! bracket level (parentheses, brackets, a `CASE ... END`) it counts the
//! operators since the last point where a new sibling expression starts (a
//! comma, a clause keyword such as WHERE, a WHEN), and the set operations
//! (UNION, INTERSECT, EXCEPT) of the level; the sum over the open levels
//! bounds how deep the parser's tree can be there.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::SqlError;

/// How deep a statement's expressions and set operations may nest, as
/// estimated below (an `x = 1 OR x = 2 ...` chain counts both operators of
/// each term, so about 500 such terms pass). PostgreSQL itself stops in the
/// thousands ("stack depth limit exceeded").
pub const MAX_NESTING: usize = 1_000;

/// How deep an operator may sit before it counts towards [`MAX_DEEP_WORK`].
const DEEP: usize = 64;

/// How much deep nesting one statement may hold in all: the sum, over every
/// operator more than [`DEEP`] levels down, of its depth. DataFusion's
/// planning is quadratic in a chain's length (each level works out its
/// subtree's type again): a debug build took 4 s for one chain of 800 and
/// 390 s for a UNION ALL of 26 of them. This admits about four chains of
/// [`MAX_NESTING`], and no everyday statement comes near it.
pub const MAX_DEEP_WORK: usize = 2_000_000;

/// The stack each thread that parses, plans or runs statements needs for
/// [`MAX_NESTING`] levels, with room to spare in unoptimised builds, whose
/// frames are several times larger: a debug build overflowed its 2 MiB
/// after 100 UNION ALL terms (about 20 KiB a level), so 1,000 levels need
/// about 20 MiB. Threads reserve this as address space; only the pages a
/// statement touches take memory.
pub const STATEMENT_STACK_BYTES: usize = 64 << 20;

/// Refuses `sql` when its tree could nest deeper than [`MAX_NESTING`],
/// saying how deep and how to write it instead. Text that does not tokenize
/// passes: the parser reports that error better.
pub fn check_nesting(sql: &str) -> Result<(), SqlError> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Ok(());
    };
    let Estimate { depth, deep_work } = estimate(&tokens);
    if depth > MAX_NESTING {
        return Err(SqlError::TooComplex(format!(
            "the statement nests about {depth} operations deep, more than the {MAX_NESTING} \
             Sealhouse allows: write long OR / = chains as IN (...), long UNION ALL chains as \
             VALUES (...), (...), or split the statement"
        )));
    }
    if deep_work > MAX_DEEP_WORK {
        return Err(SqlError::TooComplex(format!(
            "the statement holds too many deeply nested operations to plan ({deep_work} units of \
             nesting more than {DEEP} deep, more than the {MAX_DEEP_WORK} Sealhouse plans in one \
             statement): split it into several statements, or write long chains as IN (...) or \
             VALUES (...)"
        )));
    }
    Ok(())
}

/// One open bracket level of the estimate.
#[derive(Default)]
struct Level {
    /// Operators since the last sibling boundary at this level.
    chain: usize,
    /// Set operations at this level (a UNION chain spans clause keywords).
    set_operations: usize,
    /// The level is a `CASE ... END`, closed by END rather than a bracket.
    case: bool,
}

impl Level {
    fn depth(&self) -> usize {
        self.chain + self.set_operations + 1
    }
}

/// What [`estimate`] found.
struct Estimate {
    /// The deepest the tree can be.
    depth: usize,
    /// See [`MAX_DEEP_WORK`].
    deep_work: usize,
}

fn estimate(tokens: &[Token]) -> Estimate {
    let mut levels = vec![Level::default()];
    // Sum of the depths of the levels below the innermost one.
    let mut below = 0;
    let mut deepest = 0;
    let mut deep_work = 0usize;
    for token in tokens {
        let chain_before = levels.last().map_or(0, |l| l.chain + l.set_operations);
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                below += levels.last().map_or(0, Level::depth);
                levels.push(Level::default());
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                close(&mut levels, &mut below, false)
            }
            Token::Comma => reset_chain(&mut levels),
            Token::SemiColon => {
                levels.truncate(1);
                levels[0] = Level::default();
                below = 0;
            }
            Token::Word(word) => match word.keyword {
                Keyword::CASE => {
                    below += levels.last().map_or(0, Level::depth);
                    levels.push(Level {
                        case: true,
                        ..Level::default()
                    });
                }
                Keyword::END => close(&mut levels, &mut below, true),
                Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT | Keyword::MINUS => {
                    if let Some(level) = levels.last_mut() {
                        level.set_operations += 1;
                        level.chain = 0;
                    }
                }
                Keyword::AND
                | Keyword::OR
                | Keyword::XOR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::IN
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::BETWEEN
                | Keyword::COLLATE
                | Keyword::AT
                | Keyword::OVERLAPS
                | Keyword::DIV => add_operator(&mut levels),
                Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::OFFSET
                | Keyword::JOIN
                | Keyword::ON
                | Keyword::USING
                | Keyword::WINDOW
                | Keyword::QUALIFY
                | Keyword::VALUES
                | Keyword::SET
                | Keyword::RETURNING
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE => reset_chain(&mut levels),
                _ => {}
            },
            token if is_operand_or_space(token) => {}
            _ => add_operator(&mut levels),
        }
        let depth = below + levels.last().map_or(0, Level::depth);
        deepest = deepest.max(depth);
        let added_operator = levels.last().map_or(0, |l| l.chain + l.set_operations) > chain_before;
        if added_operator && depth > DEEP {
            deep_work = deep_work.saturating_add(depth);
        }
    }
    Estimate {
        depth: deepest,
        deep_work,
    }
}

/// Closes the innermost level: by a bracket, or by END for a CASE level (an
/// END that closes no CASE, as in `BEGIN ... END`, closes nothing).
fn close(levels: &mut Vec<Level>, below: &mut usize, by_end: bool) {
    if levels.len() < 2 || levels.last().is_some_and(|l| l.case != by_end) {
        return;
    }
    levels.pop();
    // The closed group is one operand of the level that held it.
    *below -= levels.last().map_or(0, Level::depth);
}

fn reset_chain(levels: &mut [Level]) {
    if let Some(level) = levels.last_mut() {
        level.chain = 0;
    }
}

fn add_operator(levels: &mut [Level]) {
    if let Some(level) = levels.last_mut() {
        level.chain += 1;
    }
}

/// Tokens that are operands (names, literals, placeholders) or layout:
/// everything else the tokenizer yields is an operator of some kind.
fn is_operand_or_space(token: &Token) -> bool {
    matches!(
        token,
        Token::EOF
            | Token::Whitespace(_)
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
            | Token::Period
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimated(sql: &str) -> Estimate {
        estimate(
            &Tokenizer::new(&PostgreSqlDialect {}, sql)
                .tokenize()
                .unwrap(),
        )
    }

    fn depth(sql: &str) -> usize {
        estimated(sql).depth
    }

    fn chain(term: &str, op: &str, n: usize) -> String {
        vec![term; n].join(op)
    }

    #[test]
    fn chains_count_each_operator() {
        assert_eq!(depth("SELECT 1"), 1);
        assert_eq!(depth(&format!("SELECT {}", chain("1", "+", 200))), 200);
        assert_eq!(depth(&format!("SELECT {}", chain("'a'", "||", 300))), 300);
        assert_eq!(depth(&chain("SELECT 1", " UNION ALL ", 100)), 100);
        assert_eq!(depth(&format!("SELECT {}", chain("x = 1", " OR ", 10))), 20);
    }

    #[test]
    fn siblings_do_not_add_up() {
        // A wide select list, long IN lists and many WHEN branches are flat.
        let wide = (0..5_000).map(|i| format!("c{i} + 1")).collect::<Vec<_>>();
        assert_eq!(depth(&format!("SELECT {} FROM t", wide.join(", "))), 2);
        let list = (0..50_000).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(
            depth(&format!("SELECT * FROM t WHERE x IN ({})", list.join(","))),
            3
        );
        let branches = (0..5_000)
            .map(|i| format!("WHEN x = {i} THEN {i}"))
            .collect::<String>();
        assert!(depth(&format!("SELECT CASE {branches} END FROM t")) <= 3);
        assert_eq!(depth("SELECT a + b FROM t WHERE c + d > e"), 3);
    }

    #[test]
    fn nesting_adds_the_levels_it_passes_through() {
        // Each parenthesised chain is one operand of the one around it (the
        // estimate counts the `+` between them too: a bound, not exact).
        let nested = format!(
            "SELECT ({}) + ({})",
            chain("1", "+", 10),
            chain("1", "+", 10)
        );
        assert_eq!(depth(&nested), 12);
        // A CASE inside a chain: its own chains sit on top of the outer one.
        let inner = chain("1", "+", 600);
        let outer = format!("SELECT {inner} + CASE WHEN {inner} > 0 THEN 1 END");
        assert!(depth(&outer) > MAX_NESTING);
        // A CASE in a THEN branch is a sibling of the WHEN's chain.
        let sibling =
            format!("SELECT CASE WHEN {inner} > 0 THEN CASE WHEN {inner} > 0 THEN 1 END END");
        assert!(depth(&sibling) < MAX_NESTING);
        // A sub-query's UNION chain inside an expression chain.
        let union = format!("SELECT 1 + 1 + ({})", chain("SELECT 1", " UNION ALL ", 50));
        assert_eq!(depth(&union), 53);
    }

    #[test]
    fn deep_statements_are_refused_saying_how_to_write_them() {
        let error = check_nesting(&format!("SELECT {}", chain("1", "+", 5_000))).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("5000") && message.contains("1000"),
            "{message}"
        );
        assert!(message.contains("IN (...)"), "{message}");
        check_nesting(&format!("SELECT {}", chain("1", "+", MAX_NESTING - 1))).unwrap();
        // Statements are bounded one at a time.
        let two = format!("SELECT {0}; SELECT {0}", chain("1", "+", 900));
        check_nesting(&two).unwrap();
    }

    #[test]
    fn many_deep_chains_are_refused_though_each_would_pass() {
        let one = format!("SELECT {}", chain("1", "+", 800));
        check_nesting(&one).unwrap();
        check_nesting(&chain(&one, " UNION ALL ", 3)).unwrap();
        let error = check_nesting(&chain(&one, " UNION ALL ", 26)).unwrap_err();
        assert!(matches!(error, SqlError::TooComplex(_)), "{error}");
        assert!(error.to_string().contains("split it"), "{error}");
        // Everyday statements do no deep work at all, however long.
        let rows = (0..20_000)
            .map(|i| format!("({i}, -{i}, 'x{i}')"))
            .collect::<Vec<_>>();
        assert_eq!(
            estimated(&format!("INSERT INTO t VALUES {}", rows.join(", "))).deep_work,
            0
        );
        let wide = (0..5_000)
            .map(|i| format!("c{i} * 2 + 1"))
            .collect::<Vec<_>>();
        assert_eq!(
            estimated(&format!("SELECT {} FROM t", wide.join(", "))).deep_work,
            0
        );
    }

    #[test]
    fn stray_closers_and_untokenizable_text_do_not_confuse_it() {
        assert!(depth(") ) END ] SELECT 1 + 1") <= 2);
        check_nesting("SELECT 'unterminated").unwrap();
        check_nesting("BEGIN; SELECT 1; END").unwrap();
    }
}
