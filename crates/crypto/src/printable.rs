//! The one way Sealhouse quotes a value it was sent in a message: an error,
//! a log line. A name (an algorithm, a key id, an ARN, an alias) helps the
//! reader fix the mistake; a secret in the wrong argument (key bytes where a
//! name belongs, a plaintext in the wrong parameter) must never be repeated.
//! So a value is quoted only when it looks like a name: printable ASCII
//! without spaces, and no longer than the caller's limit for that kind of
//! name. Anything else is described by its length alone.

/// `value` quoted (`'AES-GCM-256'`) when it is at most `max_len` bytes of
/// printable ASCII without spaces; otherwise `(a value of N bytes, not
/// shown)`.
pub fn printable(value: &str, max_len: usize) -> String {
    if value.len() <= max_len && value.bytes().all(|b| b.is_ascii_graphic()) {
        format!("'{value}'")
    } else {
        format!("(a value of {} bytes, not shown)", value.len())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::printable;

    #[test]
    fn names_are_quoted_and_everything_else_is_only_measured() {
        assert_eq!(printable("AES-GCM-256", 40), "'AES-GCM-256'");
        assert_eq!(printable("alias/sales", 64), "'alias/sales'");
        assert_eq!(printable("", 40), "''");
        for hidden in ["two words", "tab\there", "key\u{1}bytes", "caf\u{e9}"] {
            let shown = printable(hidden, 40);
            assert!(shown.ends_with("bytes, not shown)"), "{hidden:?}: {shown}");
        }
        assert_eq!(
            printable(&"k".repeat(41), 40),
            "(a value of 41 bytes, not shown)"
        );
        assert_eq!(
            printable(&"k".repeat(40), 40),
            format!("'{}'", "k".repeat(40))
        );
    }

    proptest! {
        /// Whatever the value, the message either quotes all of it (a
        /// name within the limit) or none of it.
        #[test]
        fn a_value_is_shown_whole_or_not_at_all(value in ".{0,80}", max_len in 0usize..64) {
            let shown = printable(&value, max_len);
            if shown.starts_with('\'') {
                prop_assert_eq!(shown, format!("'{value}'"));
                prop_assert!(value.len() <= max_len);
            } else {
                prop_assert_eq!(shown, format!("(a value of {} bytes, not shown)", value.len()));
            }
        }
    }
}
