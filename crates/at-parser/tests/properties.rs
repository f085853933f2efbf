//! Property tests: the framer against a byte-at-a-time model, chunking invariance, and parser
//! round trips.

use at_parser::{
    parse_line, Args, DataKind, DataStatus, Form, Framed, Framer, Parsed, Pending, Token, MAX_LINE,
};
use proptest::prelude::*;

/// Everything a driver observes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "test-only event log")]
enum Event {
    Framed(Framed),
    Data(DataStatus, Vec<u8>),
}

/// Reference model of §3 framing, written as the spec reads, one byte at a time.
fn model_lines(stream: &[u8]) -> Vec<Framed> {
    let mut events = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut overlong = false;
    let mut previous_cr = false;
    for &byte in stream {
        if overlong {
            if previous_cr && byte == b'\n' {
                events.push(Framed::Rejected);
                overlong = false;
            }
            previous_cr = byte == b'\r';
            continue;
        }
        current.push(byte);
        if current.ends_with(b"\r\n") {
            events.push(if current.len() == 2 {
                Framed::Empty
            } else {
                Framed::Line(heapless::Vec::from_slice(&current).unwrap())
            });
            current.clear();
        } else if current.len() >= MAX_LINE {
            overlong = true;
            previous_cr = current.last() == Some(&b'\r');
            current.clear();
        }
    }
    events
}

/// Feeds `stream` in chunks of the given sizes (cycled), draining after every feed. With
/// `data_mode`, a barrier line whose last token is an Integer 0..=64 opens a data phase;
/// otherwise every barrier is released at once.
fn drive(stream: &[u8], chunks: &[usize], data_mode: bool) -> Vec<Event> {
    let mut framer: Framer = Framer::new();
    let mut events = Vec::new();
    let mut payload = [0u8; 64];
    let mut offset = 0;
    let mut sizes = chunks.iter().cycle();
    while offset < stream.len() {
        let size = (*sizes.next().unwrap()).clamp(1, stream.len() - offset);
        assert_eq!(framer.feed(&stream[offset..offset + size]), size);
        offset += size;
        act(&mut framer, &mut events, &mut payload, data_mode);
    }
    events
}

/// Drives the engine's way: each read of the given sizes (cycled) goes to `receive_quiet`, then
/// if it declines to `receive` with back-pressure into a one-line framer, and the driver acts only when the framer says so
/// (`Lines`, `PayloadDue`, `Discard`, or no room), as the engine's receiver does.
fn drive_receiving(stream: &[u8], chunks: &[usize]) -> Vec<Event> {
    let mut framer: Framer<MAX_LINE> = Framer::new();
    let mut events = Vec::new();
    let mut payload = [0u8; 64];
    let mut offset = 0;
    let mut sizes = chunks.iter().cycle();
    while offset < stream.len() {
        let size = (*sizes.next().unwrap()).clamp(1, stream.len() - offset);
        let read = &stream[offset..offset + size];
        offset += size;
        // The receiver's one-byte path first: a byte it takes calls for nothing to be done.
        if let Some(pending) = framer.receive_quiet(read) {
            assert!(matches!(pending, Pending::Nothing | Pending::Payload));
            continue;
        }
        let mut fed = 0;
        while fed < read.len() {
            let (taken, pending) = framer.receive(&read[fed..]);
            fed += taken;
            let due = matches!(
                pending,
                Pending::Lines | Pending::PayloadDue | Pending::Discard
            );
            if taken == 0 || due {
                let before = framer.buffered();
                act(&mut framer, &mut events, &mut payload, true);
                assert!(taken > 0 || framer.buffered() < before, "no room made");
            }
        }
    }
    events
}

/// Polls an open data phase and frames lines until neither makes progress, deciding each
/// barrier at once: a data-mode line enters its data phase when `data_mode` is set, else its
/// barrier is released.
fn act<const N: usize>(
    framer: &mut Framer<N>,
    events: &mut Vec<Event>,
    payload: &mut [u8],
    data_mode: bool,
) {
    loop {
        if framer.in_data_mode() {
            match framer.poll_data(payload) {
                DataStatus::NeedMore { .. } => break,
                status => {
                    let stored = match status {
                        DataStatus::Complete { len } => payload[..len].to_vec(),
                        _ => Vec::new(),
                    };
                    events.push(Event::Data(status, stored));
                }
            }
            continue;
        }
        let Some(framed) = framer.next_line() else {
            break;
        };
        if let Framed::Line(line) = &framed {
            assert!(line.len() <= MAX_LINE && line.ends_with(b"\r\n"));
            if framer.barrier() {
                match data_length(line).filter(|_| data_mode) {
                    Some(len) if line.starts_with(b"AT+TCCERTADD") => {
                        framer.begin_data(len, DataKind::Certificate)
                    }
                    Some(len) => framer.begin_data(len, DataKind::Publish),
                    None => framer.release_barrier(),
                }
            }
        }
        events.push(Event::Framed(framed));
    }
}

fn data_length(line: &[u8]) -> Option<usize> {
    let Ok(Parsed::Command {
        form: Form::Set(args),
        ..
    }) = parse_line(line)
    else {
        return None;
    };
    match args.get(args.len() - 1) {
        Some(Token::Integer(len)) if (0..=64).contains(&len) => usize::try_from(len).ok(),
        _ => None,
    }
}

/// Streams made of fragments that exercise every rule.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"AT\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"+".to_vec()),
        Just(b"+++\r\n".to_vec()),
        Just(b"\x1a".to_vec()),
        Just(b"AT+TCMQTTPUBL=\"t\",0,3\r\n".to_vec()),
        Just(b"AT+TCMQTTPUBRAW=\"t\",0,99\r\n".to_vec()),
        Just(b"AT+TCCERTADD=\"c\",4\r\n".to_vec()),
        Just(b"AT+TCCERTADD=?\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
        (0usize..300).prop_map(|length| vec![b'x'; length]),
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|fragments| fragments.concat())
}

fn line(bytes: &[u8]) -> Event {
    Event::Framed(Framed::Line(heapless::Vec::from_slice(bytes).unwrap()))
}

#[test]
fn driver_sees_data_phases() {
    let stream = b"AT+TCMQTTPUBL=\"t\",0,3\r\nab+++\r\nAT+TCCERTADD=\"c\",4\r\nxy\x1aAT\r\n";
    let expected = vec![
        line(b"AT+TCMQTTPUBL=\"t\",0,3\r\n"),
        Event::Data(
            DataStatus::Aborted(at_parser::DataAbort::BadTerminator),
            Vec::new(),
        ),
        line(b"AT+TCCERTADD=\"c\",4\r\n"),
        Event::Data(DataStatus::Complete { len: 2 }, b"xy".to_vec()),
        line(b"AT\r\n"),
    ];
    assert_eq!(drive(stream, &[usize::MAX], true), expected);
    assert_eq!(drive(stream, &[1], true), expected);
}

proptest! {
    #[test]
    fn framer_matches_the_byte_at_a_time_model(
        stream in stream(),
        chunks in prop::collection::vec(1usize..80, 1..8),
    ) {
        let framed: Vec<Framed> = drive(&stream, &chunks, false)
            .into_iter()
            .map(|event| match event {
                Event::Framed(framed) => framed,
                Event::Data(..) => unreachable!("no data phase without data mode"),
            })
            .collect();
        prop_assert_eq!(framed, model_lines(&stream));
    }

    #[test]
    fn any_chunking_yields_the_same_events(
        stream in stream(),
        chunks in prop::collection::vec(1usize..80, 1..8),
    ) {
        let whole = drive(&stream, &[usize::MAX], true);
        prop_assert_eq!(&drive(&stream, &[1], true), &whole);
        prop_assert_eq!(&drive(&stream, &chunks, true), &whole);
    }

    #[test]
    fn receiving_with_back_pressure_acts_only_when_told_and_sees_the_same_events(
        stream in stream(),
        chunks in prop::collection::vec(1usize..80, 1..8),
    ) {
        let whole = drive(&stream, &[usize::MAX], true);
        prop_assert_eq!(&drive_receiving(&stream, &[1]), &whole);
        prop_assert_eq!(&drive_receiving(&stream, &chunks), &whole);
    }

    #[test]
    fn overflowing_without_draining_never_panics_and_lines_stay_valid(
        chunks in prop::collection::vec(stream(), 1..6),
    ) {
        let mut framer: Framer<300> = Framer::new();
        for chunk in &chunks {
            let accepted = framer.feed(chunk);
            prop_assert!(accepted <= chunk.len());
            prop_assert!(framer.buffered() <= 300);
        }
        while let Some(framed) = framer.next_line() {
            if let Framed::Line(line) = framed {
                prop_assert!(line.len() <= MAX_LINE && line.ends_with(b"\r\n"));
                prop_assert!(!line[..line.len() - 2].windows(2).any(|pair| pair == b"\r\n"));
            }
            framer.release_barrier();
        }
    }

    #[test]
    fn escaped_strings_round_trip(text in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut parameter = vec![b'"'];
        for &byte in &text {
            if matches!(byte, b'\\' | b',' | b'"') {
                parameter.push(b'\\');
            }
            parameter.push(byte);
        }
        parameter.extend_from_slice(b"\",7");
        let args = Args::new(&parameter);
        prop_assert_eq!(args.len(), 2);
        match args.get(0) {
            Some(Token::String(string)) => {
                prop_assert_eq!(string.len(), text.len());
                prop_assert!(string.eq_bytes(&text));
                prop_assert_eq!(string.bytes().collect::<Vec<u8>>(), text);
            }
            other => prop_assert!(false, "not a String: {:?}", other),
        }
        prop_assert_eq!(args.get(1), Some(Token::Integer(7)));
    }

    #[test]
    fn tokens_split_once_agree_with_args(text in prop::collection::vec(
        prop_oneof![Just(b','), Just(b'\\'), Just(b'"'), Just(b'-'), b'0'..=b'9', any::<u8>()], 0..120)
    ) {
        let args = Args::new(&text);
        let tokens = args.tokens();
        prop_assert_eq!(tokens.len(), args.len());
        for index in 0..=args.len() {
            prop_assert_eq!(tokens.get(index), args.get(index));
            if let Some(Token::String(string)) = tokens.get(index) {
                let unescaped: Vec<u8> = string.bytes().collect();
                prop_assert_eq!(string.len(), unescaped.len());
                let mut vector = heapless::Vec::<u8, 128>::new();
                prop_assert!(string.unescape_into(&mut vector));
                prop_assert_eq!(vector.as_slice(), unescaped.as_slice());
                let mut buffer = [0u8; 128];
                prop_assert_eq!(string.unescape_to(&mut buffer), Some(unescaped.len()));
                prop_assert_eq!(&buffer[..unescaped.len()], unescaped.as_slice());
                if !unescaped.is_empty() {
                    prop_assert_eq!(string.unescape_to(&mut buffer[..unescaped.len() - 1]), None);
                }
            }
        }
    }

    #[test]
    fn integers_round_trip(value in any::<i32>()) {
        let text = value.to_string();
        prop_assert_eq!(Args::new(text.as_bytes()).get(0), Some(Token::Integer(value)));
    }

    #[test]
    fn token_count_is_unescaped_commas_plus_one(text in prop::collection::vec(
        prop_oneof![Just(b','), Just(b'\\'), Just(b'"'), any::<u8>()], 0..64)
    ) {
        let mut separators = 0;
        let mut index = 0;
        while index < text.len() {
            match text[index] {
                b'\\' => index += 2,
                b',' => { separators += 1; index += 1 }
                _ => index += 1,
            }
        }
        let args = Args::new(&text);
        prop_assert_eq!(args.len(), separators + 1);
        prop_assert_eq!(args.iter().count(), separators + 1);
    }

    #[test]
    fn parse_line_never_panics_and_names_are_valid(line in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Parsed::Command { name, form }) = parse_line(&line) {
            prop_assert!(!name.is_empty());
            prop_assert!(name.iter().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || *byte == b'_'));
            if let Form::Set(args) = form {
                for token in args.iter() {
                    if let Token::String(string) = token {
                        prop_assert_eq!(string.bytes().count(), string.len());
                    }
                }
            }
        }
    }
}
