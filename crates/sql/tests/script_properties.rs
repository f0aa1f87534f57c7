//! The script lexer on arbitrary input: it never panics, and splitting
//! statements joined with `;` gives them back.

use proptest::prelude::*;
use sealhouse_sql::script::split;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5ea1_4005e),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics(text in "(?s).{0,200}") {
        let _ = split(&text);
    }

    #[test]
    fn never_panics_on_sql_like_text(parts in prop::collection::vec(
        prop::sample::select(vec!["SELECT", " ", "'", "\"", "`", ";", "--", "\n", "/*", "*/", "a", "''", "\\", "@x", ":="]),
        0..40,
    )) {
        let _ = split(&parts.concat());
    }

    #[test]
    fn statements_joined_by_semicolons_split_back(
        statements in prop::collection::vec("SELECT [a-z]{1,8}( FROM '[a-z; ]{0,8}')?", 1..6)
    ) {
        let script = statements.join(";\n");
        let split: Vec<String> = split(&script).expect("splits").into_iter().map(|s| s.text).collect();
        prop_assert_eq!(split, statements);
    }
}
