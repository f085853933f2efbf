//! The board's RNG as `tls-psk` wants it: a `rand_core` 0.6 `RngCore + CryptoRng` value that
//! the TLS connection owns for its lifetime (hello random, one IV per record).
//!
//! Why an adapter rather than making [`Random`] extend `RngCore`: `RngCore` takes `&mut self`,
//! but the session and the TLS connection both hold the one board generator for as long as the
//! service runs. A shared `&dyn Random` is `Copy`, needs no lock, and keeps `rand_core` out of
//! the board boundary.

use rand_core::{CryptoRng, RngCore};

use super::MqttShared;
use crate::board::Random;

/// A shared board RNG seen as a `rand_core` generator.
///
/// It is `CryptoRng` because [`Random`] requires boards to be cryptographically secure.
#[derive(Clone, Copy)]
pub struct TlsRandom<'a>(pub &'a dyn Random);

impl core::fmt::Debug for TlsRandom<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("TlsRandom")
    }
}

impl RngCore for TlsRandom<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.random_u32()
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.0.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, destination: &mut [u8]) {
        self.0.fill_bytes(destination)
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill_bytes(destination);
        Ok(())
    }
}

impl CryptoRng for TlsRandom<'_> {}

/// The board's RNG as the MQTT service's TLS link holds it: through the shared state, whose
/// session keeps the one reference to the board's generator ([`MqttShared::random`]). A thin
/// reference, half of a `&dyn Random`, in the link for as long as it lives; each draw borrows
/// the session for a moment (never while the service holds it).
#[derive(Clone, Copy)]
pub(crate) struct SharedRandom<'s, 'a>(pub &'s MqttShared<'a>);

impl RngCore for SharedRandom<'_, '_> {
    fn next_u32(&mut self) -> u32 {
        TlsRandom(self.0.random()).next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        TlsRandom(self.0.random()).next_u64()
    }

    fn fill_bytes(&mut self, destination: &mut [u8]) {
        TlsRandom(self.0.random()).fill_bytes(destination)
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), rand_core::Error> {
        TlsRandom(self.0.random()).try_fill_bytes(destination)
    }
}

impl CryptoRng for SharedRandom<'_, '_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// Counts up from 1, so every drawn word is visible in the output.
    struct Counter(Cell<u32>);

    impl Random for Counter {
        fn random_u32(&self) -> u32 {
            self.0.set(self.0.get() + 1);
            self.0.get()
        }
    }

    #[test]
    fn default_fill_bytes_draws_little_endian_words_and_truncates_the_last() {
        let counter = Counter(Cell::new(0));
        let mut bytes = [0u8; 6];
        counter.fill_bytes(&mut bytes);
        assert_eq!(bytes, [1, 0, 0, 0, 2, 0]);
    }

    #[test]
    fn adapter_forwards_every_rng_core_method_to_the_board() {
        let counter = Counter(Cell::new(0));
        let mut random = TlsRandom(&counter);
        assert_eq!(random.next_u32(), 1);
        assert_eq!(random.next_u64(), 2 | (3 << 32));
        let mut bytes = [0u8; 4];
        random.try_fill_bytes(&mut bytes).unwrap();
        assert_eq!(bytes, [4, 0, 0, 0]);
        random.fill_bytes(&mut bytes);
        assert_eq!(bytes, [5, 0, 0, 0]);
    }
}
