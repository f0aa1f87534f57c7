//! The key algorithms a keyset can hold.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::error::printable_name;

/// A key algorithm, named as the original service names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// AES-256 in Galois/Counter Mode: randomised authenticated encryption.
    AesGcm256,
    /// AES-SIV with CMAC over two AES-128 keys (32-byte key): deterministic.
    AesSivCmac128,
    /// AES-SIV with CMAC over two AES-256 keys (64-byte key): deterministic.
    AesSivCmac256,
}

impl Algorithm {
    /// Every algorithm, in the order error messages list them.
    pub const ALL: [Algorithm; 3] = [Self::AesGcm256, Self::AesSivCmac128, Self::AesSivCmac256];

    /// The name used in SQL, JSON and the binary keyset.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AesGcm256 => "AES-GCM-256",
            Self::AesSivCmac128 => "AES-SIV-CMAC-128",
            Self::AesSivCmac256 => "AES-SIV-CMAC-256",
        }
    }

    /// Length of the raw key material in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesGcm256 | Self::AesSivCmac128 => 32,
            Self::AesSivCmac256 => 64,
        }
    }

    /// Whether equal plaintexts give equal ciphertexts under one key.
    pub const fn is_deterministic(self) -> bool {
        !matches!(self, Self::AesGcm256)
    }

    /// Parses a name; matching ignores ASCII case and surrounding spaces, as
    /// SQL users expect of such constants.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let wanted = name.trim();
        Self::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| Error::UnknownAlgorithm {
                name: printable_name(name),
            })
    }

    /// Checks that `len` bytes is a key of this algorithm.
    pub fn check_key_len(self, len: usize) -> Result<(), Error> {
        if len == self.key_len() {
            Ok(())
        } else {
            Err(Error::InvalidKeyLength {
                algorithm: self,
                expected: self.key_len(),
                actual: len,
            })
        }
    }

    pub(crate) fn names_list() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::parse(alg.name()), Ok(alg));
            assert_eq!(Algorithm::parse(&alg.name().to_lowercase()), Ok(alg));
        }
    }

    #[test]
    fn unknown_name_is_rejected_with_the_list() {
        let err = Algorithm::parse("AES-CBC-128").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'AES-CBC-128'") && msg.contains("AES-SIV-CMAC-256"),
            "{msg}"
        );
    }

    #[test]
    fn key_lengths_follow_the_original_service() {
        assert_eq!(Algorithm::AesGcm256.key_len(), 32);
        assert_eq!(Algorithm::AesSivCmac128.key_len(), 32);
        assert_eq!(Algorithm::AesSivCmac256.key_len(), 64);
        let msg = Algorithm::AesSivCmac256
            .check_key_len(32)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("64-byte") && msg.contains("32 bytes"), "{msg}");
    }
}
