//! The request context: the condition keys a request carries, such as
//! `acs:SourceIp` or `acs:CurrentTime`.
//!
//! Keys are case-insensitive (`acs:sourceip` = `acs:SourceIp`), as in the
//! cloud; values are kept as given. Each key has one value.

use std::collections::BTreeMap;

/// `acs:SourceIp`: the caller's IP address, set by the HTTP layer.
pub const SOURCE_IP: &str = "acs:SourceIp";
/// `acs:CurrentTime`: the time of the request in RFC 3339; filled in by the
/// service from its clock when the caller does not set it.
pub const CURRENT_TIME: &str = "acs:CurrentTime";
/// `acs:SecureTransport`: `true` when the request came over TLS.
pub const SECURE_TRANSPORT: &str = "acs:SecureTransport";

/// Condition keys and their values for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    values: BTreeMap<String, String>,
}

impl RequestContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `key` (builder style).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds or replaces `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), value.into());
    }

    /// The value of `key`, if the request carries it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Whether the request carries `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case() {
        let ctx = RequestContext::new().with(SOURCE_IP, "10.0.0.1");
        assert_eq!(ctx.get("ACS:sourceip"), Some("10.0.0.1"));
        assert!(ctx.contains("acs:SourceIp"));
        assert!(!ctx.contains(CURRENT_TIME));
    }
}
