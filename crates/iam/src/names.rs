//! Account ids and the names of users, roles, sessions and policies: what each
//! may contain, checked in one place.
//!
//! User and role names are unique within an account regardless of case, as in
//! the original cloud, and appear in ARNs in lower case (the cloud shows role
//! ARNs such as `acs:ram::<uid>:role/aliyunecsdefaultrole`). The name as the
//! administrator typed it is kept for display. Session names keep their case.

use std::fmt;

/// A name or id that breaks the rule for its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {}: {rule}", printable(value))]
pub struct NameError {
    /// What kind of name ("account id", "role name", ...).
    pub kind: &'static str,
    /// The value given (shown in the message only if it looks like a name).
    pub value: String,
    /// The rule it breaks, phrased as what to do.
    pub rule: &'static str,
}

/// An account id: the account's numeric uid, as text (`1892732288741234`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Checks that `uid` is 1 to 20 ASCII digits.
    pub fn new(uid: &str) -> Result<Self, NameError> {
        if (1..=20).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(uid.to_owned()))
        } else {
            Err(NameError {
                kind: "account id",
                value: uid.to_owned(),
                rule: "an account id is 1 to 20 decimal digits, such as 1892732288741234",
            })
        }
    }

    /// The uid text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check(
    kind: &'static str,
    value: &str,
    len: std::ops::RangeInclusive<usize>,
    extra: &str,
    rule: &'static str,
) -> Result<(), NameError> {
    let ok = len.contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(NameError {
            kind,
            value: value.to_owned(),
            rule,
        })
    }
}

/// Checks a RAM user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub(crate) fn check_user_name(name: &str) -> Result<(), NameError> {
    check(
        "user name",
        name,
        1..=64,
        "._-@",
        "use 1 to 64 letters, digits, periods, underscores, hyphens or @",
    )
}

/// Checks a RAM role name: 1 to 64 letters, digits, `.`, `_` or `-`.
pub(crate) fn check_role_name(name: &str) -> Result<(), NameError> {
    check(
        "role name",
        name,
        1..=64,
        "._-",
        "use 1 to 64 letters, digits, periods, underscores or hyphens",
    )
}

/// Checks a role session name: 2 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub(crate) fn check_session_name(name: &str) -> Result<(), NameError> {
    check(
        "role session name",
        name,
        2..=64,
        "._-@",
        "use 2 to 64 letters, digits, periods, underscores, hyphens or @",
    )
}

/// Checks a custom policy name: 1 to 128 letters, digits or hyphens.
pub(crate) fn check_policy_name(name: &str) -> Result<(), NameError> {
    check(
        "policy name",
        name,
        1..=128,
        "-",
        "use 1 to 128 letters, digits or hyphens",
    )
}

/// The canonical (ARN) form of a user or role name: lower case.
pub(crate) fn canonical(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Renders an outside value for an error message ([`sealhouse_crypto::printable()`],
/// long enough for an ARN), so that a secret passed in the wrong argument does
/// not end up in a message or a log.
pub(crate) fn printable(value: &str) -> String {
    sealhouse_crypto::printable(value, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_digits() {
        assert_eq!(
            AccountId::new("1892732288741234").unwrap().as_str(),
            "1892732288741234"
        );
        for bad in [
            "",
            "12a4",
            "189273228874****",
            "123456789012345678901",
            " 1",
        ] {
            let err = AccountId::new(bad).unwrap_err();
            assert!(err.to_string().contains("decimal digits"), "{err}");
        }
    }

    #[test]
    fn names_follow_their_rules() {
        check_user_name("alice@corp").unwrap();
        check_role_name("mf-secr2b").unwrap();
        check_session_name("warehouse-1").unwrap();
        check_policy_name("PassRole-mf-secr").unwrap();
        assert!(check_role_name("a/b").is_err());
        assert!(check_role_name(&"r".repeat(65)).is_err());
        assert!(check_session_name("x").is_err());
        assert!(check_policy_name("has space").is_err());
        let err = check_user_name("").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid user name '': use 1 to 64 letters, digits, periods, underscores, hyphens or @"
        );
    }

    #[test]
    fn printable_hides_binary_and_long_values() {
        assert_eq!(printable("abc"), "'abc'");
        assert_eq!(printable("a\u{1}"), "(a value of 2 bytes, not shown)");
        assert!(!printable(&"k".repeat(300)).contains("kkk"));
    }
}
