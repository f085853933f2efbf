//! The image MD5 (`cloud.md` §4.6).
//!
//! The digest is computed over the image **as stored in flash**, once, when
//! the download is complete (the `Verify` step), not over bytes as they
//! arrive. That one pass makes resume trivial (there is no midstate to keep
//! or persist: a resumed download, even after a reboot, hashes the same
//! flash bytes as an uninterrupted one) and checks what the MCU will
//! actually read back, so a flash write error is caught as an MD5 mismatch.
//! The price is one extra read of the image (about 0.3 s for 900 KB on an
//! ESP8266), and the 96-byte MD5 state exists only during verification.

use md5::{Digest, Md5};

/// Incremental MD5 of an image.
#[derive(Clone, Default)]
pub struct ImageDigest {
    state: Md5,
}

impl core::fmt::Debug for ImageDigest {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("ImageDigest")
    }
}

impl ImageDigest {
    /// An empty digest.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next image bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
    }

    /// The MD5 of everything added.
    #[must_use]
    pub fn finish(self) -> [u8; 16] {
        self.state.finalize().into()
    }
}

/// Writes `digest` as 32 lowercase hex digits (`AT+TCFWINFO`, logs).
#[must_use]
pub fn to_hex(digest: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (index, byte) in digest.iter().enumerate() {
        text[2 * index] = HEX[usize::from(byte >> 4)];
        text[2 * index + 1] = HEX[usize::from(byte & 0x0F)];
    }
    text
}
