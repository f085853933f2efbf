//! The TLS 1.2 pseudo-random function (RFC 5246 §5) and the secrets derived with it.
//!
//! Both PSK suites this crate offers were defined before TLS 1.2, so RFC 5246 assigns them
//! the default PRF: `P_SHA256`. Everything that turns the pre-shared key into record keys and
//! `Finished` values lives here, as pure functions, so it can be checked against published
//! vectors without a handshake.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the TLS master secret.
pub const MASTER_SECRET_LENGTH: usize = 48;
/// Length of `verify_data` in a TLS 1.2 `Finished` message.
pub const VERIFY_DATA_LENGTH: usize = 12;
/// Largest pre-shared key accepted (RFC 4279 requires support for at least 64 bytes).
pub const MAX_PSK_LENGTH: usize = 64;

/// Fills `output` with `PRF(secret, label, seed)` where the seed is the concatenation of
/// `seed_parts` (so callers never need a scratch buffer to join randoms).
pub fn prf(secret: &[u8], label: &[u8], seed_parts: &[&[u8]], output: &mut [u8]) {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the function
    // panic-free without an `unwrap`.
    let Ok(keyed) = HmacSha256::new_from_slice(secret) else {
        return;
    };
    let feed_seed = |mac: &mut HmacSha256| {
        mac.update(label);
        for part in seed_parts {
            mac.update(part);
        }
    };
    // A(1) = HMAC(secret, seed); A(i) = HMAC(secret, A(i-1)).
    let mut a_value = {
        let mut mac = keyed.clone();
        feed_seed(&mut mac);
        mac.finalize().into_bytes()
    };
    for chunk in output.chunks_mut(32) {
        let mut mac = keyed.clone();
        mac.update(&a_value);
        feed_seed(&mut mac);
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        let mut next = keyed.clone();
        next.update(&a_value);
        a_value = next.finalize().into_bytes();
    }
}

/// Builds the RFC 4279 §2 premaster secret `uint16 N, N zero bytes, uint16 N, psk` into
/// `output` and returns its length, or `None` when the key is empty or longer than
/// [`MAX_PSK_LENGTH`].
pub fn psk_premaster_secret(
    psk: &[u8],
    output: &mut [u8; 4 + 2 * MAX_PSK_LENGTH],
) -> Option<usize> {
    let length = psk.len();
    if length == 0 || length > MAX_PSK_LENGTH {
        return None;
    }
    let encoded = (length as u16).to_be_bytes();
    output[..2].copy_from_slice(&encoded);
    output[2..2 + length].fill(0);
    output[2 + length..4 + length].copy_from_slice(&encoded);
    output[4 + length..4 + 2 * length].copy_from_slice(psk);
    Some(4 + 2 * length)
}

/// Derives the master secret from the premaster secret and both hello randoms.
pub fn master_secret(
    premaster: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> [u8; MASTER_SECRET_LENGTH] {
    let mut master = [0; MASTER_SECRET_LENGTH];
    prf(
        premaster,
        b"master secret",
        &[client_random, server_random],
        &mut master,
    );
    master
}

/// Computes `verify_data` for a `Finished` message; `label` is `b"client finished"` or
/// `b"server finished"` and `transcript_hash` the SHA-256 of the handshake messages so far.
pub fn verify_data(
    master: &[u8; MASTER_SECRET_LENGTH],
    label: &[u8],
    transcript_hash: &[u8; 32],
) -> [u8; VERIFY_DATA_LENGTH] {
    let mut data = [0; VERIFY_DATA_LENGTH];
    prf(master, label, &[transcript_hash], &mut data);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> std::vec::Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap())
            .collect()
    }

    extern crate std;

    /// The TLS 1.2 PRF (SHA-256) vector published on the IETF TLS mailing list and used by
    /// several TLS stacks' test suites.
    #[test]
    fn prf_sha256_matches_published_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let expected = hex(concat!(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a",
            "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab",
            "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701",
            "87347b66"
        ));
        let mut output = [0u8; 100];
        prf(&secret, b"test label", &[&seed], &mut output);
        assert_eq!(&output[..], &expected[..]);
    }

    #[test]
    fn prf_seed_parts_are_concatenated() {
        let mut joined = [0u8; 70];
        let mut split = [0u8; 70];
        prf(b"key", b"label", &[b"abcdef"], &mut joined);
        prf(b"key", b"label", &[b"ab", b"", b"cdef"], &mut split);
        assert_eq!(joined, split);
    }

    #[test]
    fn premaster_secret_follows_rfc4279_layout() {
        let mut output = [0u8; 4 + 2 * MAX_PSK_LENGTH];
        let length = psk_premaster_secret(&[0xAA, 0xBB, 0xCC], &mut output).unwrap();
        assert_eq!(&output[..length], &[0, 3, 0, 0, 0, 0, 3, 0xAA, 0xBB, 0xCC]);
    }

    #[test]
    fn premaster_secret_rejects_empty_and_oversized_keys() {
        let mut output = [0u8; 4 + 2 * MAX_PSK_LENGTH];
        assert_eq!(psk_premaster_secret(&[], &mut output), None);
        assert_eq!(
            psk_premaster_secret(&[1; MAX_PSK_LENGTH + 1], &mut output),
            None
        );
        assert!(psk_premaster_secret(&[1; MAX_PSK_LENGTH], &mut output).is_some());
    }
}
