//! The key cache TTL of long-running KMS consumers (the SQL sessions, the
//! server, the external-engine commands): 24 hours by default, as in the
//! spec, or `$SEALHOUSE_KMS_CACHE_TTL` (`0` = no caching, `30s`, `15m`,
//! `24h`, `7d`, or a number of seconds); `sealhouse kms config` shows it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sealhouse_kms::DEFAULT_CACHE_TTL;

/// The variable that overrides the key cache TTL.
pub(crate) const CACHE_TTL_ENV: &str = "SEALHOUSE_KMS_CACHE_TTL";

/// The key cache TTL: `$SEALHOUSE_KMS_CACHE_TTL` or 24 hours.
pub(crate) fn cache_ttl() -> Result<Duration> {
    match std::env::var(CACHE_TTL_ENV) {
        Ok(text) if !text.trim().is_empty() => {
            parse_duration(text.trim()).with_context(|| format!("${CACHE_TTL_ENV}"))
        }
        _ => Ok(DEFAULT_CACHE_TTL),
    }
}

/// `0`, `90` (seconds), `30s`, `15m`, `24h`, `7d`.
fn parse_duration(text: &str) -> Result<Duration> {
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], Some(c)),
        _ => (text, None),
    };
    let bad = || anyhow!("{text:?} is not a duration such as 0, 30s, 15m, 24h or 7d");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        None | Some('s') => Some(n),
        Some('m') => n.checked_mul(60),
        Some('h') => n.checked_mul(3600),
        Some('d') => n.checked_mul(86_400),
        Some(_) => None,
    };
    match seconds {
        Some(s) => Ok(Duration::from_secs(s)),
        None => bail!("{text:?} is not a duration such as 0, 30s, 15m, 24h or 7d"),
    }
}

pub(crate) fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        "0 (no caching)".into()
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("0").ok(), Some(Duration::ZERO));
        assert_eq!(parse_duration("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("24h").ok(), Some(DEFAULT_CACHE_TTL));
        assert_eq!(
            parse_duration("2d").ok(),
            Some(Duration::from_secs(172_800))
        );
        for bad in ["", "h", "-1", "1w", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
