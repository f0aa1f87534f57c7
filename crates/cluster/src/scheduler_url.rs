//! A scheduler's address as the commands take it: `http://HOST:PORT`
//! (or `HOST:PORT`), or `https://HOST:PORT` for a cluster with TLS.

use std::fmt;
use std::str::FromStr;

use crate::ClusterError;

/// Where a scheduler listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerUrl {
    host: String,
    port: u16,
    /// Reached over TLS (`https://`).
    tls: bool,
}

impl SchedulerUrl {
    /// Its host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether it is reached over TLS (an `https://` address).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// As Ballista's clients take it, with its scheme.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{self}")
    }

    /// Refuses an address whose scheme does not fit the TLS settings given
    /// (`has_tls`): an `https://` scheduler needs the cluster's TLS files,
    /// and a process with them speaks TLS only.
    pub fn check_tls(&self, has_tls: bool) -> Result<(), ClusterError> {
        match (self.tls, has_tls) {
            (true, false) => Err(ClusterError::Setup(format!(
                "the scheduler {} is reached over TLS: give the cluster's CA certificate, \
                 this process's certificate and key (--cluster-ca, --cluster-cert, \
                 --cluster-key)",
                self.url()
            ))),
            (false, true) => Err(ClusterError::Setup(format!(
                "with the cluster's TLS files given, give the scheduler as https://{self}"
            ))),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for SchedulerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for SchedulerUrl {
    type Err = ClusterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            ClusterError::Setup(format!(
                "'{text}' is not a scheduler address ({why}); give it as http://HOST:PORT \
                 (https://HOST:PORT with TLS)"
            ))
        };
        let (tls, rest) = match text.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix("http://").unwrap_or(text)),
        };
        if rest.contains("://") {
            return Err(bad("only http:// and https:// are supported"));
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(bad("no host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_parse_with_or_without_a_scheme() {
        for text in [
            "http://127.0.0.1:50050",
            "127.0.0.1:50050",
            "http://127.0.0.1:50050/",
        ] {
            let url: SchedulerUrl = text.parse().expect(text);
            assert_eq!((url.host(), url.port()), ("127.0.0.1", 50050));
            assert_eq!(url.url(), "http://127.0.0.1:50050");
            assert!(!url.tls());
        }
        let v6: SchedulerUrl = "http://[::1]:7".parse().expect("ipv6");
        assert_eq!((v6.host(), v6.port()), ("::1", 7));
        assert_eq!(v6.url(), "http://[::1]:7");
        let secure: SchedulerUrl = "https://127.0.0.1:9".parse().expect("https");
        assert!(secure.tls());
        assert_eq!(secure.url(), "https://127.0.0.1:9");
        assert!(secure.check_tls(true).is_ok());
        assert!(secure.check_tls(false).is_err());
        assert!(v6.check_tls(true).is_err());
    }

    #[test]
    fn malformed_scheduler_addresses_are_refused_saying_how_to_write_one() {
        for text in ["", "host", "ftp://h:1", "h:0", "h:port", ":80", "a/b:1"] {
            let e = text.parse::<SchedulerUrl>().expect_err(text).to_string();
            assert!(e.contains("http://HOST:PORT"), "{text}: {e}");
        }
    }
}
