//! The receive path from broker bytes to `+TCMQTTRCVPUB` lines: a connected, subscribed
//! `mqtt_session::Session` is fed broker bytes in arbitrary reads; every message event is
//! held in the session where it was decoded (back-pressure: `Session::hold_message`), rendered
//! from the held bytes as the `urc.md` §2 line and then released, as the module's URC writer
//! does.
//!
//! Input: byte 0 picks the user filter, then segments led by a control byte `c`. `c & 0x80`
//! advances the clock by one keep-alive period. `c & 0x40` is a PUBLISH built from fields
//! `[flags, topic, id high, id low, split]` and `c & 0x3F` payload bytes (flags: bit 0 QoS 1,
//! bit 1 DUP, bit 2 retain, bits 3–7 add 68 filler bytes each, so payloads cross 2048 while the
//! packet still fits the session's receive buffer); it is
//! appended to the bytes not yet read and, unless `split & 0x80`, everything is read in reads
//! of `split` bytes, so packets arrive split and several to a read. Otherwise the segment is
//! `c & 0x3F` raw bytes, read at once.
//!
//! Invariants checked: no panic; the session writes only valid client MQTT; a message reaches
//! the user exactly when its topic matches the user filter, with a payload of at most 2048
//! bytes; every such message is held unchanged, gets no acknowledgement while held, and becomes
//! exactly one line, byte for byte the `urc.md` §2 line, which a host framing by `<len>` parses
//! back to the same payload. Nothing lost: while only built PUBLISHes arrived and
//! the link is up, the lines are exactly the messages `urc.md` §2 says are forwarded (matching
//! topic, payload at most 2048 bytes, not a DUP repeat of one of the last 10 QoS 1 ids), in
//! order, whatever the read boundaries, and every QoS 1 PUBLISH got one PUBACK, in order.
//!
//! The line is assembled by `command_core::render::received_message_parts`, the function the
//! module's URC writer streams to the UART.

#![no_main]

use std::collections::VecDeque;

use command_core::render::{received_message_parts, MessageLength};
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
/// Topics of built PUBLISHes: each filter matches some and not others.
const TOPICS: [&str; 8] = [
    "CTQS08Y5LG/Dev01/data",
    "CTQS08Y5LG/Dev02/data",
    "CTQS08Y5LG/Dev01/control",
    "CTQS08Y5LG/Dev01/data/more",
    "$sys/operation/result/CTQS08Y5LG/Dev01",
    "$ota/update/CTQS08Y5LG/Dev01",
    "a\",1,\"b",
    "x",
];
const KEEP_ALIVE_S: u16 = 60;
/// QoS 1 ids the module remembers to recognise a DUP repeat (`urc.md` §2).
const RECENT_IDS: usize = 10;

fn fixed_random() -> u32 {
    0x2545_F491
}

/// The session and the messages that came out as lines.
struct Module {
    session: Broker,
    filter: &'static str,
    now: u64,
    lines: Vec<(String, Vec<u8>)>,
    /// Packet ids of the PUBACKs the session wrote, in order.
    acknowledged: Vec<u16>,
}

/// The messages `urc.md` §2 says must be forwarded, for the built PUBLISHes.
#[derive(Default)]
struct Expected {
    recent_qos1: VecDeque<u16>,
    messages: Vec<(String, Vec<u8>)>,
    /// Every QoS 1 PUBLISH is acknowledged, forwarded or dropped (`urc.md` §2).
    acknowledgements: Vec<u16>,
}

impl Expected {
    fn publish(
        &mut self,
        filter: &str,
        topic: &str,
        qos1: bool,
        dup: bool,
        id: u16,
        payload: &[u8],
    ) {
        let mut duplicate = false;
        if qos1 {
            self.acknowledgements.push(id);
            let seen = self.recent_qos1.contains(&id);
            duplicate = seen && dup;
            if !seen {
                if self.recent_qos1.len() == RECENT_IDS {
                    self.recent_qos1.pop_front();
                }
                self.recent_qos1.push_back(id);
            }
        }
        if !duplicate && payload.len() <= MAX_INBOUND_PAYLOAD && matches(filter, topic) {
            self.messages.push((topic.to_owned(), payload.to_vec()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, mut rest)) = data.split_first() else {
        return;
    };
    let filter = FILTERS[usize::from(choice) % FILTERS.len()];
    let Some(session) = connected_session(filter) else {
        panic!("the scripted CONNACK and SUBACK did not connect and subscribe");
    };
    let mut module = Module {
        session,
        filter,
        now: 1_000,
        lines: Vec::new(),
        acknowledged: Vec::new(),
    };
    let mut expected = Expected::default();
    let mut only_built = true;
    let mut unread = Vec::new();
    while let Some((&control, tail)) = rest.split_first() {
        rest = tail;
        if control & 0x80 != 0 {
            module.now += u64::from(KEEP_ALIVE_S) * 1000;
        }
        let length = usize::from(control & 0x3F);
        if control & 0x40 != 0 {
            let Some((&[flags, topic, id_high, id_low, split], tail)) = rest.split_first_chunk()
            else {
                break;
            };
            let (payload, tail) = tail.split_at(length.min(tail.len()));
            rest = tail;
            let mut payload = payload.to_vec();
            payload.resize(payload.len() + usize::from(flags >> 3) * 68, b'"');
            let topic = TOPICS[usize::from(topic) % TOPICS.len()];
            let (qos1, retain) = (flags & 1 != 0, flags & 4 != 0);
            let dup = qos1 && flags & 2 != 0;
            let id = u16::from_be_bytes([id_high, id_low]).max(1);
            expected.publish(filter, topic, qos1, dup, id, &payload);
            unread.extend(publish_packet(topic, qos1, dup, retain, id, &payload));
            if split & 0x80 == 0 {
                module.read(&std::mem::take(&mut unread), usize::from(split).max(1));
            }
        } else {
            let (segment, tail) = rest.split_at(length.min(rest.len()));
            rest = tail;
            only_built &= segment.is_empty();
            unread.extend_from_slice(segment);
            module.read(&std::mem::take(&mut unread), usize::MAX);
        }
        if !module.session.is_usable() {
            return;
        }
    }
    module.read(&unread, usize::MAX);
    if only_built && module.session.is_usable() {
        assert_eq!(
            module.lines, expected.messages,
            "messages lost, repeated or reordered"
        );
        assert_eq!(
            module.acknowledged, expected.acknowledgements,
            "every QoS 1 PUBLISH is acknowledged once, in order"
        );
    }
});

impl Module {
    /// Offers `bytes` to the session in reads of at most `size` bytes, handling events as a
    /// read is taken in (so a full receive buffer makes room).
    fn read(&mut self, bytes: &[u8], size: usize) {
        for mut input in bytes.chunks(size) {
            while !input.is_empty() && self.session.is_usable() {
                let taken = self.session.handle_input(input);
                input = &input[taken..];
                self.deliver();
                if taken == 0 && self.session.handle_input(input) == 0 {
                    return;
                }
            }
        }
        self.deliver();
    }
}

/// A PUBLISH as a broker encodes it.
fn publish_packet(
    topic: &str,
    qos1: bool,
    dup: bool,
    retain: bool,
    id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let flags = u8::from(dup) << 3 | u8::from(qos1) << 1 | u8::from(retain);
    let mut remaining = 2 + topic.len() + if qos1 { 2 } else { 0 } + payload.len();
    let mut packet = vec![0x30 | flags];
    loop {
        let digit = (remaining % 128) as u8;
        remaining /= 128;
        packet.push(if remaining > 0 { digit | 0x80 } else { digit });
        if remaining == 0 {
            break;
        }
    }
    packet.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    packet.extend_from_slice(topic.as_bytes());
    if qos1 {
        packet.extend_from_slice(&id.to_be_bytes());
    }
    packet.extend_from_slice(payload);
    packet
}

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
    session.connect(config, &identity, 0).ok()?;
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
    let _acknowledged = transmit(session);
    seen
}

impl Module {
    /// Holds every message event, checks the line rendered from the held bytes, then releases
    /// it: the acknowledgement may leave only after that.
    fn deliver(&mut self) {
        loop {
            let delivered = {
                let Some(event) = self.session.poll(self.now) else {
                    break;
                };
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
                    matches(self.filter, message.topic),
                    "user delivery disagrees with the filter"
                );
                if !message.for_user {
                    continue;
                }
                (message.topic.to_owned(), message.payload.to_vec())
            };
            // Acknowledgements of earlier messages may already be queued: they leave first.
            let earlier = transmit(&mut self.session);
            self.acknowledged.extend(earlier);
            self.session.hold_message(self.now);
            let held = self
                .session
                .held_message()
                .expect("a delivered message holds");
            assert_eq!(held.topic, delivered.0, "the held topic changed");
            assert_eq!(held.payload, &delivered.1[..], "the held payload changed");
            let line = render(held.topic, held.payload);
            assert_eq!(parse_payload(&line, held.topic), held.payload);
            let early = transmit(&mut self.session);
            assert!(
                early.is_empty(),
                "acknowledged {early:?} while a message was held"
            );
            self.session.release_held(self.now);
            self.lines.push(delivered);
        }
        let acknowledged = transmit(&mut self.session);
        self.acknowledged.extend(acknowledged);
    }
}

/// The `urc.md` §2 line of a message, as command-core's URC writer assembles it.
fn render(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut length = MessageLength::new();
    received_message_parts(topic.as_bytes(), payload, &mut length).concat()
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
/// Returns the packet ids of the PUBACKs in it.
fn transmit(session: &mut Broker) -> Vec<u16> {
    let mut acknowledged = Vec::new();
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
                if let Packet::PubAck(packet_id) = packet {
                    acknowledged.push(packet_id.get());
                }
                bytes = &bytes[used..];
            }
            other => panic!("session wrote invalid MQTT: {other:?}"),
        }
    }
    let written = session.transmit().len();
    session.mark_transmitted(written);
    acknowledged
}
