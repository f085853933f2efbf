//! The handshake transcript hash (SHA-256 of every handshake message, RFC 5246 §7.4.9) kept
//! as plain bytes, so it can live wherever the connection has room instead of in the
//! handshake's future.
//!
//! A `sha2::Sha256` value cannot be stored in a byte buffer, and a future holds everything
//! that lives across its awaits for as long as its owner lives (`docs/performance.md`). The
//! handshake therefore keeps its state in the idle end of the receive buffer, and this module
//! runs SHA-256 over that state with `sha2`'s block function: the eight state words, the
//! partial block and the message length, [`LENGTH`] bytes in all.

use sha2::digest::generic_array::GenericArray;

/// Bytes of a transcript state: 32 of chaining value, a 64-byte partial block and the
/// 8-byte message length.
pub(crate) const LENGTH: usize = 32 + BLOCK + 8;
const BLOCK: usize = 64;
const BLOCK_START: usize = 32;
const LENGTH_START: usize = BLOCK_START + BLOCK;
/// The SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Starts an empty transcript in `state`.
pub(crate) fn start(state: &mut [u8; LENGTH]) {
    store_words(state, &INITIAL);
    state[BLOCK_START..].fill(0);
}

/// Adds `data` to the transcript in `state`.
pub(crate) fn update(state: &mut [u8; LENGTH], mut data: &[u8]) {
    let mut words = load_words(state);
    let length = load_length(state);
    let mut filled = (length % BLOCK as u64) as usize;
    let total = length + data.len() as u64;
    while !data.is_empty() {
        let taken = data.len().min(BLOCK - filled);
        let start = BLOCK_START + filled;
        state[start..start + taken].copy_from_slice(&data[..taken]);
        data = &data[taken..];
        filled += taken;
        if filled == BLOCK {
            compress(&mut words, &state[BLOCK_START..LENGTH_START]);
            filled = 0;
        }
    }
    store_words(state, &words);
    state[LENGTH_START..].copy_from_slice(&total.to_be_bytes());
}

/// The SHA-256 of the transcript so far; `state` is left as it was (more may be added).
pub(crate) fn hash(state: &[u8; LENGTH]) -> [u8; 32] {
    let mut words = load_words(state);
    let length = load_length(state);
    let filled = (length % BLOCK as u64) as usize;
    let mut block = [0u8; BLOCK];
    block[..filled].copy_from_slice(&state[BLOCK_START..BLOCK_START + filled]);
    block[filled] = 0x80;
    if filled + 1 > BLOCK - 8 {
        compress(&mut words, &block);
        block = [0; BLOCK];
    }
    block[BLOCK - 8..].copy_from_slice(&(length * 8).to_be_bytes());
    compress(&mut words, &block);
    let mut digest = [0u8; 32];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(words) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

fn compress(words: &mut [u32; 8], block: &[u8]) {
    sha2::compress256(
        words,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

fn load_words(state: &[u8; LENGTH]) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (word, bytes) in words.iter_mut().zip(state[..BLOCK_START].chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    words
}

fn store_words(state: &mut [u8; LENGTH], words: &[u32; 8]) {
    for (bytes, word) in state[..BLOCK_START].chunks_exact_mut(4).zip(words) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
}

fn load_length(state: &[u8; LENGTH]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&state[LENGTH_START..]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    extern crate std;
    use std::vec::Vec;

    fn transcript_of(pieces: &[&[u8]]) -> [u8; 32] {
        let mut state = [0u8; LENGTH];
        start(&mut state);
        for piece in pieces {
            update(&mut state, piece);
        }
        hash(&state)
    }

    #[test]
    fn empty_transcript_is_the_sha256_of_nothing() {
        assert_eq!(transcript_of(&[]), <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn padding_edges_match_sha256() {
        for length in [55, 56, 63, 64, 65, 119, 120, 128] {
            let data: Vec<u8> = (0..length).map(|index| index as u8).collect();
            assert_eq!(
                transcript_of(&[&data]),
                <[u8; 32]>::from(Sha256::digest(&data)),
                "{length} bytes"
            );
        }
    }

    proptest! {
        /// Any split of any message hashes as SHA-256 of the whole, and hashing midway
        /// changes nothing of what follows.
        #[test]
        fn pieces_hash_as_their_concatenation(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut state = [0u8; LENGTH];
            start(&mut state);
            let mut rest = &data[..];
            for cut in cuts {
                let (piece, tail) = rest.split_at(cut % (rest.len() + 1));
                update(&mut state, piece);
                let _ = hash(&state);
                rest = tail;
            }
            update(&mut state, rest);
            prop_assert_eq!(hash(&state), <[u8; 32]>::from(Sha256::digest(&data)));
        }
    }
}
