//! Line framing rules (`at-engine.md` §3) and the data-mode barrier (§6).

use at_parser::{Framed, FramedRef, Framer, MAX_LINE};

fn line(bytes: &[u8]) -> Framed {
    Framed::Line(heapless::Vec::from_slice(bytes).unwrap())
}

/// Drains every event currently available.
fn drain<const N: usize>(framer: &mut Framer<N>) -> Vec<Framed> {
    core::iter::from_fn(|| framer.next_line()).collect()
}

#[test]
fn crlf_ends_a_line_and_the_line_keeps_its_terminator() {
    let mut framer: Framer = Framer::new();
    assert_eq!(framer.feed(b"AT+GMR\r\n"), 8);
    assert_eq!(drain(&mut framer), vec![line(b"AT+GMR\r\n")]);
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn partial_line_waits_for_more_input() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT+GMR\r");
    assert_eq!(framer.next_line(), None);
    framer.feed(b"\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT+GMR\r\n")]);
}

#[test]
fn lone_cr_and_lone_lf_are_data() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT+X=\"a\nb\rc\"\n\r\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT+X=\"a\nb\rc\"\n\r\r\n")]);
}

#[test]
fn line_split_byte_by_byte_is_framed_once() {
    let mut framer: Framer = Framer::new();
    let mut events = Vec::new();
    for byte in b"AT+TCVER\r\nATE0\r\n" {
        framer.feed(core::slice::from_ref(byte));
        events.extend(drain(&mut framer));
    }
    assert_eq!(events, vec![line(b"AT+TCVER\r\n"), line(b"ATE0\r\n")]);
}

#[test]
fn two_commands_in_one_feed_are_two_lines() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT\r\nAT+GMR\r\nAT+C");
    assert_eq!(
        drain(&mut framer),
        vec![line(b"AT\r\n"), line(b"AT+GMR\r\n")]
    );
    assert_eq!(framer.buffered(), 4);
}

#[test]
fn empty_line_is_reported_as_empty() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"\r\n\r\nAT\r\n");
    assert_eq!(
        drain(&mut framer),
        vec![Framed::Empty, Framed::Empty, line(b"AT\r\n")]
    );
}

#[test]
fn line_of_exactly_256_bytes_including_crlf_is_accepted() {
    let mut text = b"AT+X=".to_vec();
    text.resize(MAX_LINE - 2, b'a');
    text.extend_from_slice(b"\r\n");
    assert_eq!(text.len(), 256);
    let mut framer: Framer = Framer::new();
    framer.feed(&text);
    assert_eq!(drain(&mut framer), vec![line(&text)]);
}

#[test]
fn line_of_257_bytes_including_crlf_is_rejected_once() {
    let mut text = b"AT+X=".to_vec();
    text.resize(MAX_LINE - 1, b'a');
    text.extend_from_slice(b"\r\nAT\r\n");
    let mut framer: Framer = Framer::new();
    framer.feed(&text);
    assert_eq!(drain(&mut framer), vec![Framed::Rejected, line(b"AT\r\n")]);
}

#[test]
fn overlong_line_is_discarded_up_to_its_terminator_fed_in_pieces() {
    let mut framer: Framer = Framer::new();
    let mut events = Vec::new();
    for _ in 0..10 {
        framer.feed(&[b'x'; 100]);
        events.extend(drain(&mut framer));
    }
    // Nothing is reported before the terminator, and the discarded bytes are not kept.
    assert_eq!(events, vec![]);
    assert!(framer.buffered() < MAX_LINE);
    framer.feed(b"x\r");
    assert_eq!(framer.next_line(), None);
    framer.feed(b"\nAT\r\n");
    assert_eq!(drain(&mut framer), vec![Framed::Rejected, line(b"AT\r\n")]);
}

#[test]
fn overlong_line_whose_256th_byte_is_cr_ends_at_the_following_lf() {
    let mut text = vec![b'a'; MAX_LINE - 1];
    text.extend_from_slice(b"\r\nAT\r\n");
    let mut framer: Framer = Framer::new();
    framer.feed(&text);
    assert_eq!(drain(&mut framer), vec![Framed::Rejected, line(b"AT\r\n")]);
}

#[test]
fn nul_and_non_utf8_bytes_are_kept() {
    let text = b"AT+X=\"\0\xff\xfe\x80\"\r\n";
    let mut framer: Framer = Framer::new();
    framer.feed(text);
    assert_eq!(drain(&mut framer), vec![line(text)]);
}

#[test]
fn bytes_beyond_the_buffer_are_dropped_and_their_line_rejected() {
    let mut framer: Framer<16> = Framer::new();
    assert_eq!(framer.feed(b"AT\r\nAT+ABCDEFGHIJKLMN"), 16);
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
    // The line continues; its terminator makes it answered [E:04].
    assert_eq!(framer.feed(b"O\r\n"), 3);
    assert_eq!(drain(&mut framer), vec![Framed::Rejected]);
    framer.feed(b"ATE1\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"ATE1\r\n")]);
}

#[test]
fn bytes_dropped_right_after_a_complete_line_taint_the_next_line() {
    let mut framer: Framer<8> = Framer::new();
    assert_eq!(framer.feed(b"AT\r\nAT\r\nAT"), 8);
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n"), line(b"AT\r\n")]);
    // "ATE0\r\n" lost its first two bytes.
    framer.feed(b"E0\r\nAT\r\n");
    assert_eq!(drain(&mut framer), vec![Framed::Rejected, line(b"AT\r\n")]);
}

#[test]
fn cr_and_lf_separated_by_lost_bytes_do_not_end_a_line() {
    let mut framer: Framer<8> = Framer::new();
    assert_eq!(framer.feed(b"AT+ABCD\r"), 8);
    assert_eq!(framer.feed(b"XY"), 0);
    // A line that fills a buffer smaller than MAX_LINE can never complete: it is over-long.
    assert_eq!(drain(&mut framer), vec![]);
    framer.feed(b"\nAT\r\n");
    // "\r" + lost "XY" + "\n" is not a terminator; the line ends at the later CR LF.
    assert_eq!(drain(&mut framer), vec![Framed::Rejected]);
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn clear_forgets_lost_bytes() {
    let mut framer: Framer<4> = Framer::new();
    assert_eq!(framer.feed(b"ATE\rX"), 4);
    framer.clear();
    assert_eq!(framer.buffered(), 0);
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn full_buffer_accepts_no_bytes_until_lines_are_taken() {
    let mut framer: Framer<8> = Framer::new();
    assert_eq!(framer.feed(b"AT\r\nAT\r\n"), 8);
    assert_eq!(framer.feed(b"AT\r\n"), 0);
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n"), line(b"AT\r\n")]);
    assert_eq!(framer.feed(b"ATE0\r\n"), 6);
    assert_eq!(drain(&mut framer), vec![Framed::Rejected]);
}

#[test]
fn data_mode_set_lines_set_the_barrier_and_keep_following_bytes_raw() {
    for command in [
        &b"AT+TCMQTTPUBL=\"t\",0,5\r\n"[..],
        b"AT+TCMQTTPUBRAW=\"t\",0,5\r\n",
        b"AT+TCCERTADD=\"c\",5\r\n",
        b"AT+TCCERTADD=\r\n",
    ] {
        let mut framer: Framer = Framer::new();
        framer.feed(command);
        framer.feed(b"AT\r\nAT\r\n");
        assert_eq!(framer.next_line(), Some(line(command)));
        assert!(framer.barrier());
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.buffered(), 8);
    }
}

#[test]
fn test_forms_query_forms_and_other_commands_set_no_barrier() {
    for command in [
        &b"AT+TCMQTTPUBL=?\r\n"[..],
        b"AT+TCMQTTPUBRAW=?\r\n",
        b"AT+TCCERTADD=?\r\n",
        b"AT+TCCERTADD?\r\n",
        b"AT+TCMQTTPUB=\"t\",0,\"x\"\r\n",
        b"AT+TCMQTTPUBLX=1\r\n",
        b"at+TCMQTTPUBL=\"t\",0,5\r\n",
    ] {
        let mut framer: Framer = Framer::new();
        framer.feed(command);
        framer.feed(b"AT\r\n");
        assert_eq!(drain(&mut framer), vec![line(command), line(b"AT\r\n")]);
        assert!(!framer.barrier());
    }
}

#[test]
fn released_barrier_frames_the_held_bytes_as_lines() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT+TCMQTTPUBL=\"t\",0,5\r\nATE0\r\n");
    assert!(matches!(framer.next_line(), Some(Framed::Line(_))));
    assert_eq!(framer.next_line(), None);
    framer.feed(b"AT\r\n");
    assert_eq!(framer.next_line(), None);
    framer.release_barrier();
    assert!(!framer.barrier());
    assert_eq!(drain(&mut framer), vec![line(b"ATE0\r\n"), line(b"AT\r\n")]);
}

#[test]
fn release_without_barrier_changes_nothing() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT");
    framer.release_barrier();
    assert!(!framer.barrier());
    framer.feed(b"\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn clear_discards_buffered_bytes_and_the_barrier() {
    let mut framer: Framer = Framer::new();
    framer.feed(b"AT+TCCERTADD=\"c\",5\r\nAT\r\npartial");
    framer.next_line();
    assert!(framer.barrier());
    framer.clear();
    assert!(!framer.barrier());
    assert_eq!(framer.buffered(), 0);
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn rejected_data_mode_line_sets_no_barrier() {
    let mut text = b"AT+TCMQTTPUBL=\"".to_vec();
    text.resize(300, b'a');
    text.extend_from_slice(b"\",0,5\r\nAT\r\n");
    let mut framer: Framer = Framer::new();
    framer.feed(&text);
    assert_eq!(drain(&mut framer), vec![Framed::Rejected, line(b"AT\r\n")]);
    assert!(!framer.barrier());
}

#[test]
fn next_line_with_lends_each_event_where_it_lies_and_then_consumes_it() {
    let mut framer = Framer::<512>::new();
    framer.feed(b"AT\r\n\r\nAT+TCMQTTPUBL=\"t\",0,3\r\nabc");
    let mut seen = Vec::new();
    while let Some(length) = framer.next_line_with(|framed| {
        seen.push(framed.to_owned());
        match framed {
            FramedRef::Line(line) => line.len(),
            _ => 0,
        }
    }) {
        assert!(length <= MAX_LINE);
    }
    assert_eq!(
        seen,
        vec![
            line(b"AT\r\n"),
            Framed::Empty,
            line(b"AT+TCMQTTPUBL=\"t\",0,3\r\n")
        ]
    );
    // The data-mode line set the barrier; the bytes behind it stay raw.
    assert!(framer.barrier());
    assert_eq!(framer.buffered(), 3);
    framer.release_barrier();
    framer.feed(&[b'x'; MAX_LINE]);
    framer.feed(b"\r\n");
    assert_eq!(
        framer.next_line_with(|framed| framed == FramedRef::Rejected),
        Some(true)
    );
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn offer_line_leaves_a_line_not_taken_in_place_without_its_barrier() {
    let mut framer = Framer::<512>::new();
    framer.feed(b"AT+TCMQTTPUBL=\"t\",0,3\r\nAT\r\n");
    let publish = line(b"AT+TCMQTTPUBL=\"t\",0,3\r\n");
    // Not taken: lent again, unconsumed, and the barrier it would set is not set.
    for _ in 0..2 {
        assert_eq!(
            framer.offer_line(|framed| (framed.to_owned(), false)),
            Some(publish.clone())
        );
        assert!(!framer.barrier());
        assert_eq!(framer.buffered(), 27);
    }
    // Taken: consumed, and now it sets its barrier.
    assert_eq!(
        framer.offer_line(|framed| (framed.to_owned(), true)),
        Some(publish)
    );
    assert!(framer.barrier());
    assert_eq!(framer.buffered(), 4);
    framer.release_barrier();
    assert_eq!(framer.next_line(), Some(line(b"AT\r\n")));
    assert_eq!(framer.next_line(), None);
}
