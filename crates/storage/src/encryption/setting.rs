//! A project's storage encryption setting, and how each data file is
//! encrypted.
//!
//! The setting lives in the project's `properties` under
//! `"storage_encryption"`; it is written once (at creation or by enabling
//! encryption later) and never changed or removed afterwards — the spec's
//! immutability rule, enforced here inside the catalog transaction so no
//! path around the SQL layer can weaken it. Each data file records the
//! algorithm it was written with (`files.encryption`), so files written
//! before encryption was enabled stay readable as they are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The storage encryption algorithms of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageAlgorithm {
    /// Parquet modular encryption (AES_GCM_V1): standard encrypted Parquet
    /// that other engines read with a KMS client.
    #[serde(rename = "AES256")]
    Aes256,
    /// Whole-file AES-256-CTR in authenticated segments.
    #[serde(rename = "AESCTR")]
    AesCtr,
    /// Whole-file RC4 in authenticated segments: insecure, for compatibility.
    #[serde(rename = "RC4")]
    Rc4,
}

impl StorageAlgorithm {
    /// Every algorithm, in the order the spec lists them.
    pub const ALL: [StorageAlgorithm; 3] = [Self::Aes256, Self::AesCtr, Self::Rc4];

    /// The spec's name: `AES256`, `AESCTR` or `RC4`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::AesCtr => "AESCTR",
            Self::Rc4 => "RC4",
        }
    }
}

impl fmt::Display for StorageAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StorageAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_uppercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "AES256" => Ok(Self::Aes256),
            "AESCTR" => Ok(Self::AesCtr),
            "RC4" => Ok(Self::Rc4),
            _ => Err(format!(
                "'{s}' is not a storage encryption algorithm; use AES256, AESCTR or RC4"
            )),
        }
    }
}

/// Whose key protects a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The key the service created for the project, owned by the service.
    Default,
    /// A CMK of the project creator's account (bring your own key).
    Byok,
}

impl KeySource {
    /// `DEFAULT` or `BYOK`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "DEFAULT",
            Self::Byok => "BYOK",
        }
    }
}

/// A project's storage encryption: fixed once set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEncryption {
    /// How files are encrypted.
    pub algorithm: StorageAlgorithm,
    /// Whose key.
    pub key_source: KeySource,
    /// The CMK's ARN (`acs:kms:<region>:<account>:key/<id>`).
    pub key_arn: String,
    /// When it was enabled, seconds since the Unix epoch.
    pub enabled_at: i64,
    /// Who enabled it (a principal ARN), for DESCRIBE PROJECT.
    pub enabled_by: String,
}

/// The key in a project's `properties` that holds its [`ProjectEncryption`].
pub(crate) const PROPERTY: &str = "storage_encryption";

/// The encryption recorded in `properties`, if any.
pub(crate) fn from_properties(
    properties: &serde_json::Value,
) -> Result<Option<ProjectEncryption>, String> {
    match properties.get(PROPERTY) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| format!("unreadable storage_encryption setting: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_parse_in_any_case_and_spelling() {
        for a in StorageAlgorithm::ALL {
            assert_eq!(a.name().parse::<StorageAlgorithm>(), Ok(a));
            assert_eq!(a.name().to_lowercase().parse::<StorageAlgorithm>(), Ok(a));
        }
        assert_eq!("aes-ctr".parse(), Ok(StorageAlgorithm::AesCtr));
        let err = "AES128".parse::<StorageAlgorithm>().expect_err("unknown");
        assert!(err.contains("AES256, AESCTR or RC4"), "{err}");
    }

    #[test]
    fn setting_round_trips_through_properties() {
        let e = ProjectEncryption {
            algorithm: StorageAlgorithm::Rc4,
            key_source: KeySource::Byok,
            key_arn: "acs:kms:cn-hangzhou:1:key/k".into(),
            enabled_at: 7,
            enabled_by: "acs:ram::1:root".into(),
        };
        let props = serde_json::json!({ PROPERTY: e });
        assert_eq!(props[PROPERTY]["algorithm"], "RC4");
        assert_eq!(from_properties(&props), Ok(Some(e)));
        assert_eq!(from_properties(&serde_json::json!({})), Ok(None));
        assert!(from_properties(&serde_json::json!({ PROPERTY: 3 })).is_err());
    }
}
