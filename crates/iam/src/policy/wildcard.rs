//! Wildcard patterns of `Action`, `Resource` and `StringLike`: `*` matches any
//! run of characters (the empty one too), `?` exactly one character; every
//! other character matches itself. There is no escape: a literal `*` or `?`
//! cannot be matched on its own, as in the original cloud.
//!
//! Actions are matched ignoring ASCII case (`kms:decrypt` = `kms:Decrypt`, as
//! the cloud treats action names); resources and condition values are matched
//! exactly, case included (see `arn.rs` for why role names in ARNs are lower
//! case).

/// Whether `text` matches `pattern`, optionally ignoring ASCII case.
///
/// The classic linear-space algorithm: on a mismatch, go back to just after the
/// last `*` and let it swallow one more character. Time O(pattern × text) in
/// the worst case, no recursion, no allocation.
pub(crate) fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    // Position in the pattern just after the last '*', and the text position
    // that star currently stops at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some((after_star, stopped_at)) = star {
            pi = after_star;
            ti = stopped_at + 1;
            star = Some((after_star, stopped_at + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        let yes = [
            ("*", ""),
            ("*", "anything"),
            ("kms:*", "kms:Decrypt"),
            ("kms:GenerateDataKey*", "kms:GenerateDataKey"),
            (
                "kms:GenerateDataKey*",
                "kms:GenerateDataKeyWithoutPlaintext",
            ),
            (
                "acs:ram:*:*:role/mf-secr",
                "acs:ram::1892732288741234:role/mf-secr",
            ),
            ("a?c", "abc"),
            ("*a*b*", "xxaxxbxx"),
            ("a*b*c", "abbbbc"),
            ("??", "é1"),
            ("", ""),
        ];
        for (p, t) in yes {
            assert!(matches(p, t, false), "{p} should match {t}");
        }
        let no = [
            ("", "a"),
            ("a?c", "ac"),
            ("kms:*", "ram:PassRole"),
            ("acs:ram:*:*:role/mf-secr", "acs:ram::1:role/mf-secr2b"),
            ("*a*b", "xxaxxbxxc"),
            ("?", ""),
        ];
        for (p, t) in no {
            assert!(!matches(p, t, false), "{p} should not match {t}");
        }
    }

    #[test]
    fn case_is_ignored_only_when_asked() {
        assert!(matches("KMS:decrypt", "kms:Decrypt", true));
        assert!(!matches("KMS:decrypt", "kms:Decrypt", false));
        assert!(!matches("role/MF-secr", "role/mf-secr", false));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = "a".repeat(2000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!matches(&pattern, &text, false));
    }
}
