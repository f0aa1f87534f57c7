//! Randomness for IVs.
//!
//! IVs come from rand's `ThreadRng`: ChaCha12 in user space, seeded and
//! periodically reseeded from the operating system. It costs about 10 ns per IV
//! where a `getrandom` system call costs about 450 ns, which would dominate
//! encrypting a short value. Keys, which are long-lived and rare, come from the
//! operating system directly ([`crate::SecretBytes::random`]).
//!
//! IVs are 96 random bits, never a counter: two processes, or two threads,
//! encrypting under one key cannot collide except by chance (2^-32 after 2^32
//! encryptions under one key, the NIST SP 800-38D bound for random IVs).

use rand::Rng;

/// Fills `iv` with fresh random bytes.
pub(crate) fn fill_iv(iv: &mut [u8]) {
    rand::rng().fill_bytes(iv);
}
