//! The data phase (`at-engine.md` §7).

use at_parser::{DataAbort, DataKind, DataStatus, Framed, Framer, Pending};

fn line(bytes: &[u8]) -> Framed {
    Framed::Line(heapless::Vec::from_slice(bytes).unwrap())
}

fn drain<const N: usize>(framer: &mut Framer<N>) -> Vec<Framed> {
    core::iter::from_fn(|| framer.next_line()).collect()
}

/// A framer that has yielded `command` and is held by its barrier.
fn after_command(command: &[u8]) -> Framer {
    let mut framer = Framer::new();
    framer.feed(command);
    assert_eq!(framer.next_line(), Some(line(command)));
    assert!(framer.barrier());
    framer
}

const PUBL: &[u8] = b"AT+TCMQTTPUBL=\"t\",0,5\r\n";
const CERTADD: &[u8] = b"AT+TCCERTADD=\"c\",5\r\n";

#[test]
fn publish_payload_and_terminator_complete_then_framing_resumes() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    assert!(!framer.barrier());
    assert!(framer.in_data_mode());
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 0 }
    );
    framer.feed(b"he\r\nl");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 5 }
    );
    assert_eq!(&payload, b"he\r\nl");
    framer.feed(b"\r");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 5 }
    );
    framer.feed(b"\nAT\r\n");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert!(!framer.in_data_mode());
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
    // The final status is repeated until the next phase begins.
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
}

#[test]
fn bytes_that_arrived_before_begin_data_are_payload() {
    let mut framer: Framer = Framer::new();
    framer.feed(PUBL);
    framer.feed(b"AT\r\nA");
    assert_eq!(framer.next_line(), Some(line(PUBL)));
    assert_eq!(framer.next_line(), None);
    framer.begin_data(5, DataKind::Publish);
    assert_eq!(framer.next_line(), None);
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 5 }
    );
    assert_eq!(&payload, b"AT\r\nA");
    framer.feed(b"\r\nAT\r\n");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn early_bytes_with_a_wrong_terminator_abort_in_one_poll() {
    let mut framer = after_command(PUBL);
    framer.feed(b"AT\r\n\r\nAT\r\n");
    framer.begin_data(5, DataKind::Publish);
    let mut payload = [0; 5];
    // Payload "AT\r\n\r", then "\nA" is not a terminator; the discard ends at the next CR LF.
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::BadTerminator)
    );
    assert_eq!(drain(&mut framer), vec![]);
}

#[test]
fn payload_fed_byte_by_byte_completes() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    let mut payload = [0; 5];
    let mut last = DataStatus::NeedMore { received: 0 };
    for byte in b"a\0\xffbc\r\n" {
        framer.feed(core::slice::from_ref(byte));
        last = framer.poll_data(&mut payload);
    }
    assert_eq!(last, DataStatus::Complete { len: 5 });
    assert_eq!(&payload, b"a\0\xffbc");
}

/// Feeds `bytes` one per read, polling after each, and returns the last status, the payload
/// and the lines framed after the phase.
fn one_byte_reads(kind: DataKind, len: usize, bytes: &[u8]) -> (DataStatus, Vec<u8>, Vec<Framed>) {
    let command: &[u8] = match kind {
        DataKind::Publish => b"AT+TCMQTTPUBL=\"t\",0,9\r\n",
        DataKind::Certificate => CERTADD,
    };
    let mut framer = after_command(command);
    framer.begin_data(len, kind);
    let mut payload = vec![0; len];
    let mut last = DataStatus::NeedMore { received: 0 };
    let mut lines = Vec::new();
    for byte in bytes {
        framer.feed(core::slice::from_ref(byte));
        if framer.in_data_mode() {
            last = framer.poll_data(&mut payload);
        }
        lines.extend(drain(&mut framer));
    }
    (last, payload, lines)
}

#[test]
fn one_byte_reads_keep_plus_ctrl_z_and_the_cancel_pattern_meaningful() {
    // `+` and Ctrl+Z in a publish are payload.
    let (status, payload, lines) = one_byte_reads(DataKind::Publish, 9, b"a+b\x1a++c+d\r\nAT\r\n");
    assert_eq!(status, DataStatus::Complete { len: 9 });
    assert_eq!(payload, b"a+b\x1a++c+d");
    assert_eq!(lines, vec![line(b"AT\r\n")]);
    // The cancel pattern, one byte at a time.
    let (status, _, lines) = one_byte_reads(DataKind::Publish, 9, b"ab+++\r\nAT\r\n");
    assert_eq!(status, DataStatus::Aborted(DataAbort::Cancelled));
    assert_eq!(lines, vec![line(b"AT\r\n")]);
    // Ctrl+Z ends a certificate early.
    let (status, payload, lines) = one_byte_reads(DataKind::Certificate, 5, b"AB\x1aAT\r\n");
    assert_eq!(status, DataStatus::Complete { len: 2 });
    assert_eq!(&payload[..2], b"AB");
    assert_eq!(lines, vec![line(b"AT\r\n")]);
    // A certificate of exactly its length, then a line.
    let (status, payload, lines) = one_byte_reads(DataKind::Certificate, 5, b"ABCDEAT\r\n");
    assert_eq!(status, DataStatus::Complete { len: 5 });
    assert_eq!(payload, b"ABCDE");
    assert_eq!(lines, vec![line(b"AT\r\n")]);
}

#[test]
fn cancel_sequence_in_the_payload_aborts_at_that_point() {
    let mut framer = after_command(b"AT+TCMQTTPUBL=\"t\",0,20\r\n");
    framer.begin_data(20, DataKind::Publish);
    framer.feed(b"ab+++\r\nAT\r\n");
    let mut payload = [0; 20];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::Cancelled)
    );
    assert!(!framer.in_data_mode());
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn cancel_sequence_split_across_chunks_is_found() {
    for split in 1..5 {
        let mut framer = after_command(b"AT+TCMQTTPUBL=\"t\",0,20\r\n");
        framer.begin_data(20, DataKind::Publish);
        let mut payload = [0; 20];
        let sequence = b"x++++\r\n";
        framer.feed(&sequence[..split + 2]);
        assert!(matches!(
            framer.poll_data(&mut payload),
            DataStatus::NeedMore { .. }
        ));
        framer.feed(&sequence[split + 2..]);
        assert_eq!(
            framer.poll_data(&mut payload),
            DataStatus::Aborted(DataAbort::Cancelled),
            "split at {split}"
        );
    }
}

#[test]
fn payload_ending_in_plus_plus_plus_is_cancelled_by_its_terminator() {
    let mut framer = after_command(b"AT+TCMQTTPUBRAW=\"t\",0,4\r\n");
    framer.begin_data(4, DataKind::Publish);
    framer.feed(b"a+++\r\n");
    let mut payload = [0; 4];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::Cancelled)
    );
}

#[test]
fn cancel_sequence_in_a_certificate_aborts() {
    let mut framer = after_command(b"AT+TCCERTADD=\"c\",100\r\n");
    framer.begin_data(100, DataKind::Certificate);
    framer.feed(b"-----BEGIN+++\r\n");
    let mut payload = [0; 100];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::Cancelled)
    );
}

#[test]
fn interrupted_cancel_sequence_is_payload() {
    let mut framer = after_command(b"AT+TCMQTTPUBL=\"t\",0,6\r\n");
    framer.begin_data(6, DataKind::Publish);
    framer.feed(b"++x+\r\n\r\n");
    let mut payload = [0; 6];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 6 }
    );
    assert_eq!(&payload, b"++x+\r\n");
}

#[test]
fn wrong_terminator_aborts_and_discards_through_the_next_crlf() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"helloX junk\r\nAT\r\n");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::BadTerminator)
    );
    assert!(framer.discarding());
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
    assert!(!framer.discarding());
}

#[test]
fn cr_then_wrong_byte_is_a_bad_terminator_and_the_wrong_byte_starts_the_discard() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"hello\r\r\nAT\r\n");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::BadTerminator)
    );
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn discard_after_bad_terminator_waits_across_feeds() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"helloXX\r");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::BadTerminator)
    );
    assert_eq!(drain(&mut framer), vec![]);
    framer.feed(b"\nAT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn finish_discard_after_silence_drops_what_was_buffered() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"helloXjunk");
    let mut payload = [0; 5];
    framer.poll_data(&mut payload);
    assert!(framer.discarding());
    framer.finish_discard();
    assert!(!framer.discarding());
    assert_eq!(framer.buffered(), 0);
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn finish_discard_keeps_lines_after_a_buffered_terminator() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"helloXjunk\r\nAT\r\n");
    let mut payload = [0; 5];
    framer.poll_data(&mut payload);
    framer.finish_discard();
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn timeout_during_payload_resumes_framing_at_once() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"he");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 2 }
    );
    framer.abort_data();
    assert!(!framer.in_data_mode());
    assert!(!framer.discarding());
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::Timeout)
    );
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn missing_terminator_timeout_discards_through_the_next_crlf() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"hello");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 5 }
    );
    framer.abort_data();
    assert!(framer.discarding());
    framer.feed(b"late\r\nAT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn late_lf_after_cr_completes_the_discard() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"hello\r");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 5 }
    );
    framer.abort_data();
    assert_eq!(drain(&mut framer), vec![]);
    framer.feed(b"\nAT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn abort_without_data_phase_does_nothing() {
    let mut framer: Framer = Framer::new();
    framer.abort_data();
    framer.finish_discard();
    let mut payload = [0; 1];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 0 }
    );
    framer.feed(b"AT\r\n");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn certificate_needs_no_terminator() {
    let mut framer = after_command(CERTADD);
    framer.feed(b"ABCDE\r\nAT\r\n");
    framer.begin_data(5, DataKind::Certificate);
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert_eq!(&payload, b"ABCDE");
    // The host's CR LF after the data is an empty line.
    assert_eq!(drain(&mut framer), vec![Framed::Empty, line(b"AT\r\n")]);
}

#[test]
fn ctrl_z_ends_a_certificate_early_and_is_not_stored() {
    let mut framer = after_command(CERTADD);
    framer.begin_data(5, DataKind::Certificate);
    framer.feed(b"AB\x1aAT\r\n");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 2 }
    );
    assert_eq!(&payload[..2], b"AB");
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
    // Repeated with the length it ended at, not the length asked for.
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 2 }
    );
}

#[test]
fn an_aborted_phase_repeats_its_abort_until_the_next_phase() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"ab");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 2 }
    );
    framer.abort_data();
    for _ in 0..2 {
        assert_eq!(
            framer.poll_data(&mut payload),
            DataStatus::Aborted(DataAbort::Timeout)
        );
    }
    framer.begin_data(1, DataKind::Publish);
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 0 }
    );
}

#[test]
fn ctrl_z_is_ordinary_payload_in_a_publish() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"\x1a\x1a\x1a\x1a\x1a\r\n");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert_eq!(&payload, &[0x1a; 5]);
}

#[test]
fn zero_length_phases() {
    let mut framer = after_command(CERTADD);
    framer.begin_data(0, DataKind::Certificate);
    assert_eq!(framer.poll_data(&mut []), DataStatus::Complete { len: 0 });
    let mut framer = after_command(PUBL);
    framer.begin_data(0, DataKind::Publish);
    framer.feed(b"\r\n");
    assert_eq!(framer.poll_data(&mut []), DataStatus::Complete { len: 0 });
}

#[test]
fn short_output_buffer_does_not_panic() {
    let mut framer = after_command(PUBL);
    framer.begin_data(5, DataKind::Publish);
    framer.feed(b"hello\r\n");
    let mut payload = [0; 2];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert_eq!(&payload, b"he");
}

#[test]
fn largest_publish_arriving_before_the_command_is_framed_fits() {
    let mut stream = PUBL.to_vec();
    stream.extend(core::iter::repeat_n(b'x', 2048));
    stream.extend_from_slice(b"\r\n");
    let mut framer: Framer = Framer::new();
    assert_eq!(framer.feed(&stream), stream.len());
    assert!(matches!(framer.next_line(), Some(Framed::Line(_))));
    framer.begin_data(2048, DataKind::Publish);
    let mut payload = [0; 2048];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 2048 }
    );
}

#[test]
fn largest_certificate_with_its_command_fits_the_default_buffer() {
    let command = b"AT+TCCERTADD=\"device.crt\",4096\r\n";
    let mut stream = command.to_vec();
    stream.extend(core::iter::repeat_n(b'c', 4096));
    let mut framer: Framer = Framer::new();
    assert_eq!(framer.feed(&stream), stream.len());
    assert_eq!(framer.next_line(), Some(line(command)));
    framer.begin_data(4096, DataKind::Certificate);
    let mut payload = [0; 4096];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 4096 }
    );
}

#[test]
fn begin_data_after_a_previous_phase_starts_fresh() {
    // The first phase ends with a partial cancel sequence "++".
    let mut framer = after_command(CERTADD);
    framer.begin_data(5, DataKind::Certificate);
    framer.feed(b"abc++");
    let mut payload = [0; 5];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    framer.feed(CERTADD);
    assert_eq!(framer.next_line(), Some(line(CERTADD)));
    framer.begin_data(5, DataKind::Certificate);
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 0 }
    );
    framer.feed(b"+\r\nxy");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 5 }
    );
    assert_eq!(&payload, b"+\r\nxy");
}

#[test]
fn data_abort_display_is_not_empty() {
    for abort in [
        DataAbort::Cancelled,
        DataAbort::BadTerminator,
        DataAbort::Timeout,
    ] {
        assert!(!abort.to_string().is_empty());
    }
}

#[test]
fn pending_asks_for_a_poll_only_when_the_bytes_can_change_the_phase() {
    let mut framer = after_command(b"AT+TCMQTTPUBL=\"t\",0,8\r\n");
    // Behind the barrier the executor decides, not the bytes.
    assert_eq!(framer.receive(b"a"), (1, Pending::Nothing));
    framer.begin_data(8, DataKind::Publish);
    let mut payload = [0; 8];
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 1 }
    );
    // Plain mid-payload bytes, a `+` included, may wait in the buffer.
    for byte in [b"b", b"+", b"c"] {
        assert_eq!(framer.receive(byte).1, Pending::Payload);
    }
    // An LF may end `+++\r\n`: due until polled.
    assert_eq!(framer.receive(b"\n").1, Pending::PayloadDue);
    assert_eq!(framer.receive(b"d").1, Pending::PayloadDue);
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 6 }
    );
    assert_eq!(framer.receive(b"").1, Pending::Payload);
    assert_eq!(framer.receive(b"e").1, Pending::Payload);
    // The payload may be complete: due from its last byte on.
    assert_eq!(framer.receive(b"f").1, Pending::PayloadDue);
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::NeedMore { received: 8 }
    );
    assert_eq!(framer.receive(b"\r").1, Pending::PayloadDue);
    framer.receive(b"\nAT");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Complete { len: 8 }
    );
    assert_eq!(&payload, b"ab+c\ndef");
    // Line mode: framing only once a line may be complete (the bytes left after the
    // payload hold no LF).
    assert_eq!(framer.receive(b"").1, Pending::Nothing);
    assert_eq!(framer.next_line(), None);
    assert_eq!(framer.receive(b"\r").1, Pending::Nothing);
    assert_eq!(framer.receive(b"\n").1, Pending::Lines);
    assert_eq!(drain(&mut framer), vec![line(b"AT\r\n")]);
}

#[test]
fn pending_when_the_buffer_is_full_for_certificates_and_while_discarding() {
    let mut framer = Framer::<4>::new();
    framer.begin_data(100, DataKind::Publish);
    // Back-pressure: what does not fit is left to the caller, not dropped.
    assert_eq!(framer.receive(b"abc"), (3, Pending::Payload));
    assert_eq!(framer.receive(b"de"), (1, Pending::PayloadDue));
    assert_eq!(framer.receive(b"e").0, 0);
    let mut payload = [0; 100];
    framer.poll_data(&mut payload);
    assert_eq!(&payload[..4], b"abcd");
    framer.begin_data(5, DataKind::Certificate);
    assert_eq!(framer.receive(b"x").1, Pending::PayloadDue);
    let mut framer = after_command(PUBL);
    framer.begin_data(1, DataKind::Publish);
    framer.receive(b"hXY");
    assert_eq!(
        framer.poll_data(&mut payload),
        DataStatus::Aborted(DataAbort::BadTerminator)
    );
    assert_eq!(framer.receive(b"z").1, Pending::Discard);
}

#[test]
fn the_one_byte_path_takes_only_bytes_that_call_for_nothing_more() {
    let mut framer = Framer::<8>::new();
    assert_eq!(framer.receive_quiet(b"A"), Some(Pending::Nothing));
    // Two bytes, an LF, or a byte that would make the line as long as the buffer: declined,
    // nothing stored.
    assert_eq!(framer.receive_quiet(b"TE"), None);
    assert_eq!(framer.receive_quiet(b"\n"), None);
    for _ in 0..6 {
        assert_eq!(framer.receive_quiet(b"x"), Some(Pending::Nothing));
    }
    assert_eq!(framer.buffered(), 7);
    assert_eq!(framer.receive_quiet(b"x"), None);
    assert_eq!(framer.buffered(), 7);
    framer.clear();
    // A publish phase: payload bytes until the last one, which is due.
    framer.begin_data(3, DataKind::Publish);
    assert_eq!(framer.receive_quiet(b"a"), Some(Pending::Payload));
    assert_eq!(framer.receive_quiet(b"b"), Some(Pending::Payload));
    assert_eq!(framer.receive_quiet(b"c"), None);
    assert_eq!(framer.receive(b"c"), (1, Pending::PayloadDue));
    // A certificate decides on every byte (Ctrl+Z ends it).
    framer.clear();
    framer.begin_data(3, DataKind::Certificate);
    assert_eq!(framer.receive_quiet(b"a"), None);
}
