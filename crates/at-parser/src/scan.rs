//! Byte search and copy sized for UART reads.
//!
//! `memchr` and `memcpy` scan and copy long runs a word or a vector at a time, but each call
//! costs a few dozen instructions to set up. An interrupt-per-byte UART hands over one byte per
//! read, where that set-up would be most of the work, so short inputs take a plain loop.

/// Inputs shorter than this are searched byte by byte.
const SHORT: usize = 16;

/// Index of the first `needle` in `haystack`.
#[inline]
pub(crate) fn find(needle: u8, haystack: &[u8]) -> Option<usize> {
    if haystack.len() < SHORT {
        haystack.iter().position(|byte| *byte == needle)
    } else {
        memchr::memchr(needle, haystack)
    }
}

/// Index of the first `first` or `second` in `haystack`.
#[inline]
pub(crate) fn find_either(first: u8, second: u8, haystack: &[u8]) -> Option<usize> {
    if haystack.len() < SHORT {
        haystack
            .iter()
            .position(|byte| *byte == first || *byte == second)
    } else {
        memchr::memchr2(first, second, haystack)
    }
}

/// Copies `source` into `destination`, which has the same length.
#[inline]
pub(crate) fn copy(destination: &mut [u8], source: &[u8]) {
    match (destination, source) {
        ([slot], [byte]) => *slot = *byte,
        (destination, source) => destination.copy_from_slice(source),
    }
}

/// Bytes per word in the word-at-a-time scans of escaped text.
pub(crate) const WORD: usize = 8;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The [`WORD`] bytes at `index` as a little-endian word (first byte lowest), if there are
/// that many.
#[inline]
pub(crate) fn word_at(bytes: &[u8], index: usize) -> Option<u64> {
    let chunk = bytes.get(index..index.checked_add(WORD)?)?;
    <[u8; WORD]>::try_from(chunk).ok().map(u64::from_le_bytes)
}

/// Flags (high bit) the bytes of `word` equal to `byte`. The lowest flag is exact; flags above
/// it may be false (a borrow from a match spills into the next byte), so use only the lowest.
#[inline]
pub(crate) fn flag_bytes(word: u64, byte: u8) -> u64 {
    let zeroed = word ^ (ONES * u64::from(byte));
    zeroed.wrapping_sub(ONES) & !zeroed & HIGH_BITS
}

/// Index of the byte of the lowest flag (`flags` must not be zero).
#[inline]
pub(crate) fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_inputs_give_the_same_answers() {
        let mut haystack = [b'a'; 40];
        haystack[3] = b'+';
        haystack[30] = b'\n';
        for length in [0, 1, 3, 4, 15, 16, 31, 40] {
            let part = &haystack[..length];
            let expected = part.iter().position(|byte| *byte == b'\n');
            assert_eq!(find(b'\n', part), expected, "{length}");
            let either = part.iter().position(|byte| *byte == b'\n' || *byte == b'+');
            assert_eq!(find_either(b'\n', b'+', part), either, "{length}");
        }
    }

    #[test]
    fn the_lowest_flag_is_the_first_match() {
        let bytes = b"ab\\\\,c,\\d";
        let word = word_at(bytes, 0).unwrap();
        assert_eq!(first_flagged(flag_bytes(word, b'\\')), 2);
        assert_eq!(first_flagged(flag_bytes(word, b',')), 4);
        assert_eq!(flag_bytes(word, b'z'), 0);
        assert_eq!(word_at(bytes, 3), None);
        assert_eq!(word_at(bytes, usize::MAX), None);
        // Every position and byte value, against a plain search.
        for byte in 0..=255u8 {
            let mut window = [b'x'; WORD];
            for position in 0..WORD {
                window[position] = byte;
                let flags = flag_bytes(word_at(&window, 0).unwrap(), byte);
                let expected = window.iter().position(|candidate| *candidate == byte);
                assert_eq!((flags != 0).then(|| first_flagged(flags)), expected);
            }
        }
    }

    #[test]
    fn copy_handles_one_byte_and_runs() {
        let mut one = [0];
        copy(&mut one, b"x");
        assert_eq!(&one, b"x");
        let mut run = [0; 5];
        copy(&mut run, b"hello");
        assert_eq!(&run, b"hello");
        copy(&mut [], b"");
    }
}
