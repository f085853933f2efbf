//! The status queue's records, rendering, ring and room rules.

use super::*;
use crate::render::BUSY_REPLY;

/// The oldest entry as the writer puts it out: its bytes, then the reply of a `[BUSY]`
/// (an echo left in the framer is `framer`).
fn pop<const N: usize>(outbox: &mut Outbox<N>, framer: &[u8]) -> Option<std::vec::Vec<u8>> {
    let mut line = [0u8; RENDERED_MAX];
    let (mut length, busy) = match outbox.pop(&mut line)? {
        Popped::Rendered(length) => return Some(line[..length].to_vec()),
        Popped::Text(length) => (length, false),
        Popped::Busy(length) => (length, true),
        Popped::BusyInFramer(length) => {
            assert_eq!(length, framer.len());
            return Some([framer, BUSY_REPLY].concat());
        }
    };
    let mut entry = std::vec::Vec::new();
    let mut chunk = [0u8; 7];
    while length > 0 {
        let count = outbox.take(&mut chunk[..length.min(7)]);
        entry.extend_from_slice(&chunk[..count]);
        length -= count;
    }
    if busy {
        entry.extend_from_slice(BUSY_REPLY);
    }
    Some(entry)
}

#[test]
fn records_render_to_their_exact_lines() {
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    let fail = ota::Status::UpdateFail(ota::FailCode::Timeout);
    let cases: [(Status<'_>, &[u8]); 13] = [
        (Status::LinkDropped, b"+TCMQTTDISCON,-103\r\n"),
        (Status::GaveUp, b"+TCMQTTDISCON,-106\r\n"),
        (Status::Reconnecting, b"+TCMQTTRECONNECTING\r\n"),
        (Status::Reconnected, b"+TCMQTTRECONNECTED\r\n"),
        (
            Status::Result {
                name: "TCMQTTPUB",
                result: Ok(()),
            },
            b"+TCMQTTPUB:OK\r\n",
        ),
        (
            Status::Result {
                name: "TCMQTTPUBRAW",
                result: Err(i32::MIN),
            },
            b"+TCMQTTPUBRAW:FAIL,-2147483648\r\n",
        ),
        (
            Status::Result {
                name: "TCGWONLINE",
                result: Err(-224),
            },
            b"+TCGWONLINE:FAIL,-224\r\n",
        ),
        (
            Status::Result {
                name: "TCMQTTCONN",
                result: Err(202),
            },
            b"+TCMQTTCONN:FAIL,202\r\n",
        ),
        (
            Status::Result {
                name: "TCOTHER",
                result: Err(0),
            },
            b"+TCOTHER:FAIL,0\r\n",
        ),
        (
            Status::Ota(ota::Status::EnterUpdate),
            b"+TCOTASTATUS:ENTERUPDATE\r\n",
        ),
        (
            Status::Ota(ota::Status::UpdateReset),
            b"+TCOTASTATUS:UPDATERESET\r\n",
        ),
        (Status::Ota(fail), b""),
        (Status::Provisioning(b"+TCSAP:OK\r\n"), b"+TCSAP:OK\r\n"),
    ];
    for (status, _) in cases {
        assert!(outbox.push_status(status), "{status:?}");
    }
    assert_eq!(outbox.entries(), 13);
    for (status, line) in cases {
        let expected = match status {
            Status::Ota(ota::Status::UpdateFail(code)) => {
                std::format!("+TCOTASTATUS:UPDATEFAIL,{}\r\n", code.number()).into_bytes()
            }
            _ => line.to_vec(),
        };
        assert_eq!(pop(&mut outbox, b"").unwrap(), expected, "{status:?}");
    }
    assert_eq!(pop(&mut outbox, b""), None);
    assert!(outbox.is_empty());
}

#[test]
fn records_take_a_few_bytes_each() {
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    assert!(outbox.push_status(Status::Reconnecting));
    assert_eq!(outbox.length, 1);
    let failed = Status::Result {
        name: "TCMQTTSUB",
        result: Err(-108),
    };
    assert!(outbox.push_status(failed));
    assert_eq!(usize::from(outbox.length), 1 + RESULT_RECORD);
}

#[test]
fn the_reserve_holds_the_documented_worst_case() {
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    let echo = [b'x'; BUSY_ROOM - TEXT_HEADER];
    assert_eq!(outbox.push_busy(&echo), Busy::Queued);
    let longest = b"+TCSTARTSMART:WIFI_CONNECT_FAILED,-2147483648,-2147483648\r\n";
    assert_eq!(longest.len(), RENDERED_MAX);
    assert!(outbox.push_status(Status::Provisioning(b"+TCSTARTSMART:FAIL,-2147483648\r\n")));
    assert!(outbox.push_status(Status::Provisioning(longest)));
    assert!(outbox.push_status(Status::Result {
        name: "TCMQTTUNSUB",
        result: Err(i32::MIN),
    }));
    let fail = ota::Status::UpdateFail(ota::FailCode::Timeout);
    for status in [ota::Status::EnterUpdate, fail, ota::Status::UpdateReset] {
        assert!(outbox.push_status(Status::Ota(status)));
    }
    for _ in 0..EPISODES {
        assert!(outbox.push_status(Status::LinkDropped));
        for _ in 0..EPISODE - 2 {
            assert!(outbox.push_status(Status::Reconnecting));
        }
        assert!(outbox.push_status(Status::GaveUp));
    }
    // Within the reserve (records of the OTA's success are smaller than its failure's).
    assert!(usize::from(outbox.length) <= OUTBOX_BYTES);
    assert_eq!(
        pop(&mut outbox, b"").unwrap(),
        [&echo[..], BUSY_REPLY].concat()
    );
    assert_eq!(
        pop(&mut outbox, b"").unwrap(),
        b"+TCSTARTSMART:FAIL,-2147483648\r\n"
    );
    assert_eq!(pop(&mut outbox, b"").unwrap(), longest);
}

#[test]
fn provisioning_lines_of_a_known_shape_become_records_and_others_stay_text() {
    let records: [&[u8]; 6] = [
        b"+TCSAP:OK\r\n",
        b"+TCSTARTSMART:FAIL,3\r\n",
        b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n",
        b"+TCSAP:WIFI_CONNECT_FAILED,4,-110\r\n",
        b"+TCSTARTSMART:WIFI_CONNECT_FAILED,255,0\r\n",
        b"+TCSAP:FAIL,-1\r\n",
    ];
    let texts: [&[u8]; 7] = [
        b"+TCSAP:FAIL,+1\r\n",
        b"+TCSAP:FAIL,01\r\n",
        b"+TCSAP:FAIL,\r\n",
        b"+TCSAP:FAIL,1,2\r\n",
        b"+TCSAP:OK",
        b"+TCSAP:WIFI_CONNECT_FAILED,4\r\n",
        b"+TCSAP:FAIL,2147483648\r\n",
    ];
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    for line in records {
        assert!(outbox.push_status(Status::Provisioning(line)));
        assert!(
            usize::from(outbox.length) <= PROVISIONING_RECORD,
            "{line:?}"
        );
        assert_eq!(pop(&mut outbox, b"").unwrap(), line);
    }
    for line in texts {
        assert!(outbox.push_status(Status::Provisioning(line)));
        assert_eq!(usize::from(outbox.length), TEXT_HEADER + line.len());
        assert_eq!(pop(&mut outbox, b"").unwrap(), line);
    }
}

#[test]
fn entries_that_cross_the_end_of_the_ring_come_out_whole() {
    let mut outbox = Outbox::<16>::new();
    for round in 0..20u8 {
        let line = [b'a' + round % 26; 7];
        assert!(
            outbox.push_status(Status::Provisioning(&line)),
            "round {round}"
        );
        assert!(outbox.push_status(Status::Result {
            name: "TCMQTTSUB",
            result: Err(i32::from(round)),
        }));
        assert_eq!(pop(&mut outbox, b"").unwrap(), line, "round {round}");
        let result = std::format!("+TCMQTTSUB:FAIL,{round}\r\n");
        assert_eq!(pop(&mut outbox, b"").unwrap(), result.as_bytes());
        assert!(outbox.is_empty());
    }
    assert!(outbox.push_status(Status::Provisioning(b"0123456789abcd")));
    assert!(
        !outbox.push_status(Status::Provisioning(b"")),
        "full: not even a header fits"
    );
    assert_eq!(pop(&mut outbox, b"").unwrap(), b"0123456789abcd");
}

#[test]
fn busy_replies_leave_the_status_reserve_free() {
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    let echo = [b'x'; BUSY_ROOM];
    assert_eq!(outbox.push_busy(&echo[..BUSY_ROOM - 2]), Busy::Queued);
    assert_eq!(outbox.push_busy(b""), Busy::NoRoom);
    assert!(outbox.push_status(Status::LinkDropped));
    // The whole reserve is left for status lines.
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    assert_eq!(outbox.push_busy(&echo[..BUSY_ROOM - 2]), Busy::Queued);
    for _ in 0..STATUS_RESERVE {
        assert!(outbox.push_status(Status::Reconnecting));
    }
    assert!(!outbox.push_status(Status::Reconnected));
    assert_eq!(
        pop(&mut outbox, b"").unwrap(),
        [&echo[..BUSY_ROOM - 2], BUSY_REPLY].concat()
    );
    assert_eq!(pop(&mut outbox, b"").unwrap(), b"+TCMQTTRECONNECTING\r\n");
}

#[test]
fn an_echo_longer_than_the_busy_room_stays_in_the_framer_and_only_its_place_is_queued() {
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    let line = [b'L'; at_parser::MAX_LINE];
    assert!(outbox.push_status(Status::Reconnected));
    assert_eq!(outbox.push_busy(&line[..BUSY_ROOM - 1]), Busy::EchoInFramer);
    assert_eq!(outbox.push_busy(b"AT\r\n"), Busy::Queued);
    assert!(!outbox.front_in_framer());
    assert_eq!(pop(&mut outbox, b"").unwrap(), b"+TCMQTTRECONNECTED\r\n");
    assert!(outbox.front_in_framer());
    assert_eq!(
        pop(&mut outbox, &line[..BUSY_ROOM - 1]).unwrap(),
        [&line[..BUSY_ROOM - 1], BUSY_REPLY].concat()
    );
    assert!(!outbox.front_in_framer());
    assert_eq!(
        pop(&mut outbox, b"").unwrap(),
        [&b"AT\r\n"[..], BUSY_REPLY].concat()
    );
    // Its place takes room beside the reserve: with the busy room used up, none is queued.
    assert_eq!(outbox.push_busy(&line[..BUSY_ROOM - 2]), Busy::Queued);
    assert_eq!(outbox.push_busy(&line), Busy::NoRoom);
    pop(&mut outbox, b"");
    assert_eq!(outbox.push_busy(&line), Busy::EchoInFramer);
    assert!(outbox.front_in_framer());
}
