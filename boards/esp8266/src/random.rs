//! The random numbers TLS-PSK needs (its client random), from the chip's generator.

use command_core::Random;

use crate::sdk;

/// The ESP8266's hardware random number generator, through the SDK (`os_get_random`, which
/// reads the RNG register; its entropy comes from the RF noise, so Wi-Fi must be on, as it
/// is from boot on this board).
pub struct SdkRandom;

impl Random for SdkRandom {
    fn random_u32(&self) -> u32 {
        let mut word = [0u8; 4];
        self.fill_bytes(&mut word);
        u32::from_le_bytes(word)
    }

    fn fill_bytes(&self, destination: &mut [u8]) {
        // SAFETY: the SDK writes exactly `destination.len()` bytes.
        unsafe { sdk::os_get_random(destination.as_mut_ptr(), destination.len()) };
    }
}
