//! The receive path from broker bytes to `+TCMQTTRCVPUB` lines: a connected, subscribed
//! `mqtt_session::Session` is fed arbitrary broker bytes in arbitrary chunks; every message
//! event is rendered as the `urc.md` §2 line, queued in `command-core`'s real `Outbox` and read
//! back out, as the module's MQTT service does.
//!
//! Input: byte 0 picks the user filter and the clock step, then segments `[control, bytes…]`
//! where `control & 0x7F` is the segment length and the top bit advances the clock by one
//! keep-alive period (so PINGREQ and the keep-alive timeout are reached).
//! Invariants checked: no panic; the session writes only valid client MQTT; a message reaches
//! the user exactly when its topic matches the user filter, with a payload of at most 2048
//! bytes; every such message becomes exactly one outbox entry (the outbox is drained after each
//! event, so it is never full), and that entry is byte for byte the `urc.md` §2 line, which a
//! host framing by `<len>` parses back to the same payload.
//!
//! The line is rendered here, from the spec, because `command-core` renders it inside its
//! private event handler; when it exposes that function, call it instead.

#![no_main]

use command_core::mqtt::{Outbox, OUTBOX_BYTES, URC_MAX};
use libfuzzer_sys::fuzz_target;
use mqtt_session::codec::{decode, Packet, QoS};
use mqtt_session::session::{Event, Session, SessionConfig, SlotKind, MAX_INBOUND_PAYLOAD};
use mqtt_session::tencent::{Authentication, Identity};
use mqtt_session::topic::{is_valid_topic_name, matches};

type Broker = Session<fn() -> u32, 2304, 2560>;

const FILTERS: [&str; 4] = [
    "CTQS08Y5LG/Dev01/data",
    "CTQS08Y5LG/+/data",
    "#",
    "$sys/operation/result/CTQS08Y5LG/#",
];
const KEEP_ALIVE_S: u16 = 60;

fn fixed_random() -> u32 {
    0x2545_F491
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, mut rest)) = data.split_first() else {
        return;
    };
    let filter = FILTERS[usize::from(choice) % FILTERS.len()];
    let Some(mut session) = connected_session(filter) else {
        panic!("the scripted CONNACK and SUBACK did not connect and subscribe");
    };
    let mut outbox = Outbox::<OUTBOX_BYTES>::new();
    let mut now = 1_000u64;
    while let Some((&control, tail)) = rest.split_first() {
        let (segment, next) = tail.split_at(usize::from(control & 0x7F).min(tail.len()));
        rest = next;
        if control & 0x80 != 0 {
            now += u64::from(KEEP_ALIVE_S) * 1000;
        }
        let mut input = segment;
        while !input.is_empty() && session.is_usable() {
            let taken = session.handle_input(input);
            input = &input[taken..];
            deliver(&mut session, &mut outbox, filter, now);
            if taken == 0 && session.handle_input(input) == 0 {
                break;
            }
        }
        deliver(&mut session, &mut outbox, filter, now);
        if !session.is_usable() {
            return;
        }
    }
});

/// A session past CONNACK with one user subscription to `filter`.
fn connected_session(filter: &str) -> Option<Broker> {
    let mut session: Broker = Session::new(fixed_random as fn() -> u32);
    let identity = Identity::new(
        "CTQS08Y5LG",
        "Dev01",
        "ZHNkIGRzZCA=",
        Authentication::HmacSha1,
    )
    .ok()?;
    let config = SessionConfig {
        command_timeout_ms: 5000,
        keep_alive_s: KEEP_ALIVE_S,
        clean_session: true,
        reconnect: false,
    };
    session.connect(config, identity, 0).ok()?;
    session.handle_input(&[0x20, 0x02, 0x00, 0x00]);
    drain(&mut session, 0, |event| {
        matches!(event, Event::Connected { .. })
    })?;
    let packet_id = session
        .subscribe(SlotKind::User, filter, QoS::AtLeastOnce, 0)
        .ok()?
        .get()
        .to_be_bytes();
    session.handle_input(&[0x90, 0x03, packet_id[0], packet_id[1], 0x01]);
    drain(&mut session, 0, |event| {
        matches!(event, Event::Subscribed { .. })
    })?;
    Some(session)
}

/// Polls every event and writes out the transmit buffer; `Some` if one event passed `wanted`.
fn drain(session: &mut Broker, now: u64, wanted: fn(&Event<'_>) -> bool) -> Option<()> {
    let mut seen = None;
    while let Some(event) = session.poll(now) {
        if wanted(&event) {
            seen = Some(());
        }
    }
    transmit(session);
    seen
}

/// Renders every message event into the outbox and checks the line that comes out.
fn deliver(session: &mut Broker, outbox: &mut Outbox<OUTBOX_BYTES>, filter: &str, now: u64) {
    while let Some(event) = session.poll(now) {
        let Event::Message(message) = event else {
            continue;
        };
        assert!(
            is_valid_topic_name(message.topic),
            "invalid topic delivered"
        );
        assert!(
            message.payload.len() <= MAX_INBOUND_PAYLOAD,
            "oversize payload delivered"
        );
        assert_eq!(
            message.for_user,
            matches(filter, message.topic),
            "user delivery disagrees with the filter"
        );
        if !message.for_user {
            continue;
        }
        let length = message.payload.len().to_string();
        let parts: [&[u8]; 7] = [
            b"+TCMQTTRCVPUB:\"",
            message.topic.as_bytes(),
            b"\",",
            length.as_bytes(),
            b",\"",
            message.payload,
            b"\"\r\n",
        ];
        assert!(
            outbox.push_message(&parts),
            "a drained outbox refused a message"
        );
        let mut line = vec![0u8; URC_MAX];
        let size = outbox.pop_into(&mut line).expect("the entry just queued");
        line.truncate(size);
        assert_eq!(line, parts.concat(), "the outbox changed the line");
        assert_eq!(parse_payload(&line, message.topic), message.payload);
        assert!(outbox.is_empty(), "one entry per message");
    }
    transmit(session);
}

/// Parses a `+TCMQTTRCVPUB` line for a message on `topic` as `urc.md` §2 tells hosts to: by
/// `<len>`, not by quotes (topic and payload may hold both). Returns the payload.
fn parse_payload<'a>(line: &'a [u8], topic: &str) -> &'a [u8] {
    let rest = line
        .strip_prefix(b"+TCMQTTRCVPUB:\"")
        .and_then(|rest| rest.strip_prefix(topic.as_bytes()))
        .and_then(|rest| rest.strip_prefix(b"\","))
        .expect("heading and topic");
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let length_text = std::str::from_utf8(&rest[..digits]).expect("ASCII digits");
    assert!(
        length_text == "0" || !length_text.starts_with('0'),
        "<len> is empty or has a leading zero"
    );
    let length: usize = length_text.parse().expect("decimal length");
    let payload = rest[digits..]
        .strip_prefix(b",\"")
        .expect("payload opening quote");
    assert_eq!(
        &payload[length..],
        b"\"\r\n",
        "the line ends right after <len> bytes"
    );
    &payload[..length]
}

/// Checks and empties the session's transmit buffer: only client packets, all well formed.
fn transmit(session: &mut Broker) {
    let mut bytes = session.transmit();
    while !bytes.is_empty() {
        match decode(bytes) {
            Ok(Some((packet, used))) => {
                assert!(
                    !matches!(
                        packet,
                        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::PingResp
                    ),
                    "a client never sends server packets"
                );
                bytes = &bytes[used..];
            }
            other => panic!("session wrote invalid MQTT: {other:?}"),
        }
    }
    let written = session.transmit().len();
    session.mark_transmitted(written);
}
