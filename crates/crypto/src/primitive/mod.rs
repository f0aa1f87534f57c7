//! The AEAD primitives, each behind a small type that owns its key schedule.
//!
//! These are the building blocks; [`crate::KeysetCipher`] composes them into the
//! column ciphertext format. They are public so that other parts of Sealhouse
//! (storage encryption, the KMS) use the same vetted code, and so benchmarks
//! can measure the raw primitive next to the keyset API.

mod aes_gcm;
mod aes_siv;

pub use aes_gcm::AesGcm256;
pub use aes_siv::AesSiv;

#[cfg(test)]
mod wycheproof_tests;
