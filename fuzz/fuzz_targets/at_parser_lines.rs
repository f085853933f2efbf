//! Feeds arbitrary bytes in arbitrary chunks to a small-buffer `Framer`, parses every line and
//! walks every token; drives the barrier and data phase from the input too.
//!
//! Invariants checked: no panic; a yielded line is at most `MAX_LINE` bytes, ends with `\r\n`
//! and contains no earlier `\r\n`; `feed` never accepts more than it was given; token counts
//! agree between `len`, `iter`, `get` and the split-once `tokens`; a String's `len` equals its
//! unescaped byte count, and every way of unescaping it gives the same bytes.

#![no_main]

use at_parser::{parse_line, DataKind, DataStatus, Form, Framed, Framer, Parsed, Token, MAX_LINE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A buffer only a little larger than a line, so overflow and gaps are reached quickly.
    let mut framer: Framer<512> = Framer::new();
    let mut payload = [0u8; 64];
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let size = usize::from(control & 0x3f).min(tail.len());
        let (chunk, tail) = tail.split_at(size);
        rest = tail;
        let accepted = framer.feed(chunk);
        assert!(accepted <= chunk.len());
        // The control byte's top bits stand in for the caller's timers.
        if control & 0x80 != 0 {
            framer.abort_data();
        }
        if control & 0x40 != 0 {
            framer.finish_discard();
        }
        drain(&mut framer, &mut payload, control);
    }
});

fn drain<const N: usize>(framer: &mut Framer<N>, payload: &mut [u8; 64], control: u8) {
    loop {
        if framer.in_data_mode() {
            match framer.poll_data(payload) {
                DataStatus::NeedMore { received } => {
                    assert!(received <= payload.len());
                    return;
                }
                DataStatus::Complete { len } => assert!(len <= payload.len()),
                DataStatus::Aborted(_) => {}
            }
            continue;
        }
        let Some(framed) = framer.next_line() else {
            return;
        };
        let Framed::Line(line) = framed else {
            continue;
        };
        assert!(line.len() <= MAX_LINE);
        assert!(line.ends_with(b"\r\n"));
        assert!(!line[..line.len() - 2]
            .windows(2)
            .any(|pair| pair == b"\r\n"));
        let length = check_parse(&line);
        if framer.barrier() {
            match length {
                Some(len) if control & 1 == 0 => {
                    let kind = if line.starts_with(b"AT+TCCERTADD") {
                        DataKind::Certificate
                    } else {
                        DataKind::Publish
                    };
                    framer.begin_data(len, kind);
                }
                _ => framer.release_barrier(),
            }
        }
    }
}

/// Parses a line, walks its tokens, and returns its last Integer if it could be a data length.
fn check_parse(line: &[u8]) -> Option<usize> {
    let Ok(Parsed::Command { name, form }) = parse_line(line) else {
        return None;
    };
    assert!(!name.is_empty());
    let Form::Set(args) = form else {
        return None;
    };
    let count = args.len();
    assert!(count >= 1);
    assert_eq!(args.iter().count(), count);
    assert!(args.get(count).is_none());
    let tokens = args.tokens();
    assert_eq!(tokens.len(), count);
    assert!(tokens.get(count).is_none());
    let mut last = None;
    for (index, token) in args.iter().enumerate() {
        assert_eq!(args.get(index), Some(token));
        assert_eq!(tokens.get(index), Some(token));
        last = match token {
            Token::String(text) => {
                assert_eq!(text.bytes().count(), text.len());
                if let Some(copy) = text.to_vec::<MAX_LINE>() {
                    assert!(text.eq_bytes(&copy));
                    let mut buffer = [0u8; MAX_LINE];
                    assert_eq!(text.unescape_to(&mut buffer), Some(copy.len()));
                    assert_eq!(&buffer[..copy.len()], copy.as_slice());
                }
                None
            }
            Token::Integer(value) => usize::try_from(value).ok().filter(|len| *len <= 64),
            Token::Omitted | Token::Bad => None,
        };
    }
    last
}
