//! Where a data directory's table files live: on the local disk beside the
//! catalog (the default), or in a bucket of an S3-compatible object store.
//!
//! The catalog always stays in the data directory's SQLite (one
//! coordinator); only the table files move. A data directory records its
//! location, MACed with the catalog key, when it is first opened: an
//! attacker who can write the data directory cannot point it at a bucket
//! of theirs, and a later open with another `--storage-url` is refused
//! rather than silently writing some tables elsewhere.
//!
//! Keys of files are the same on both: `tables/<table id>/<file id>.parquet`
//! under the location's root (the data directory, or the bucket's prefix).

mod file_store;
mod recorded;
mod s3;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StorageError;

pub use file_store::FileStore;
pub(crate) use recorded::{record_location, recorded_url, settle_location};
pub use s3::S3Settings;

/// Where table files live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageLocation {
    /// The data directory (an absolute path) itself.
    Local(PathBuf),
    /// A bucket of an S3-compatible store, under a prefix (no leading or
    /// trailing `/`; empty: the bucket's root). The endpoint and the
    /// credentials come from each process's environment, as S3 tools read
    /// them, never from the catalog or a descriptor.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix keys start with.
        prefix: String,
    },
}

impl StorageLocation {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse_url(url: &str) -> Result<Self, StorageError> {
        let bad = |why: &str| {
            StorageError::InvalidSetting(format!(
                "storage URL '{}' {why}; give s3://<bucket>[/<prefix>] (tables stay on the local disk without one)",
                printable(url)
            ))
        };
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(bad("is not an s3:// URL"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if !bucket_ok {
            return Err(bad(
                "does not name a bucket (3 to 63 lower-case letters, digits, '.' or '-')",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            });
        if !prefix_ok {
            return Err(bad(
                "has a malformed prefix (empty, '.' or '..' parts, spaces or control characters)",
            ));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The location as a URL: `s3://bucket/prefix`, or the data directory's
    /// path.
    pub fn url(&self) -> String {
        match self {
            Self::Local(root) => root.display().to_string(),
            Self::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}"),
            Self::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Whether the files are on the local disk.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local(_))
    }

    /// The local data directory, for a local location.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Self::Local(root) => Some(root),
            Self::S3 { .. } => None,
        }
    }
}

impl fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// Where a data directory's table files go, and how to reach a bucket.
#[derive(Debug, Clone, Default)]
pub struct StorageOptions {
    /// A bucket for the table files (`--storage-url`); `None`: where the
    /// catalog recorded them, the data directory for a new one.
    pub location: Option<StorageLocation>,
    /// The `AWS_*` settings a bucket is reached with.
    pub s3: S3Settings,
}

impl StorageOptions {
    /// No location asked for; the process's `AWS_*` environment.
    pub fn from_env() -> Self {
        Self {
            location: None,
            s3: S3Settings::from_env(),
        }
    }
}

/// `text` cut short and with control characters replaced, for messages
/// about a URL a user typed.
fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn s3_urls_parse_into_bucket_and_prefix() {
        let at = |url: &str| StorageLocation::parse_url(url).expect(url);
        assert_eq!(
            at("s3://warehouse/team/a/"),
            StorageLocation::S3 {
                bucket: "warehouse".into(),
                prefix: "team/a".into()
            }
        );
        assert_eq!(at("s3://my.bucket-1").url(), "s3://my.bucket-1");
        assert_eq!(at("s3://bkt/x").url(), "s3://bkt/x");
    }

    #[test]
    fn malformed_urls_are_refused_with_what_to_give() {
        for (url, why) in [
            ("/data/dir", "not an s3:// URL"),
            ("https://s3.amazonaws.com/b", "not an s3:// URL"),
            ("s3://", "does not name a bucket"),
            ("s3://ab", "does not name a bucket"),
            ("s3://Upper/x", "does not name a bucket"),
            ("s3://bucket/a//b", "malformed prefix"),
            ("s3://bucket/../b", "malformed prefix"),
            ("s3://bucket/a b", "malformed prefix"),
        ] {
            let e = StorageLocation::parse_url(url).expect_err(url).to_string();
            assert!(e.contains(why) && e.contains("s3://<bucket>"), "{url}: {e}");
        }
    }

    proptest! {
        #[test]
        fn a_parsed_url_prints_back_to_itself(
            bucket in "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]",
            parts in prop::collection::vec("[A-Za-z0-9_.=-]{1,8}", 0..4),
        ) {
            prop_assume!(parts.iter().all(|p| p != "." && p != ".."));
            let url = if parts.is_empty() {
                format!("s3://{bucket}")
            } else {
                format!("s3://{bucket}/{}", parts.join("/"))
            };
            let location = StorageLocation::parse_url(&url).expect("parses");
            prop_assert_eq!(location.url(), url);
        }
    }
}
