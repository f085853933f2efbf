//! Unit tests; the clock is a plain integer everywhere.

mod http;
mod json;
mod message;
mod report;
mod resource;

/// The test-vector image of `cloud.md` §8: byte i = (7·i + 3) & 0xFF.
fn vector_image(size: usize) -> std::vec::Vec<u8> {
    (0..size).map(|index| (index * 7 + 3) as u8).collect()
}

/// The MD5 of [`vector_image`] at 5000 bytes.
const VECTOR_MD5: &str = "33d9712cc5eb0bf18a41ed54a908e412";
mod update;
