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
