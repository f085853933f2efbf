//! Test harness: a session with scripted randomness, an integer clock and helpers to play
//! the broker.

#![allow(dead_code)]

use mqtt_session::codec::{decode, ConnAck, Packet, PacketId, Publish, QoS, SubAck};
use mqtt_session::session::{Event, Session, SessionConfig, SlotKind, MIN_RECEIVE_BUFFER};
use mqtt_session::tencent::{Authentication, Identity};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

pub type Random = Box<dyn FnMut() -> u32>;
/// The receive buffer of `DefaultSession`: the largest deliverable PUBLISH, no byte more.
pub type TestSession = Session<Random, 2304, MIN_RECEIVE_BUFFER>;

/// What the runner saw, without borrowing the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        for_user: bool,
        for_internal: bool,
    },
    Other(String),
}

pub fn other(event: Event<'_>) -> Seen {
    Seen::Other(format!("{event:?}"))
}

pub fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

pub struct Harness {
    pub session: TestSession,
    pub now: u64,
    pub random: Rc<RefCell<VecDeque<u32>>>,
}

pub fn config(reconnect: bool) -> SessionConfig {
    SessionConfig {
        command_timeout_ms: 5000,
        keep_alive_s: 60,
        clean_session: true,
        reconnect,
    }
}

pub fn identity() -> Identity {
    Identity::new(
        "CTQS08Y5LG",
        "Dev01",
        "k3Zq8cB1vP+Lx0T2mY9wRg==",
        Authentication::Transport,
    )
    .unwrap()
}

impl Harness {
    /// A session whose RNG returns `values` in order, then 0.
    pub fn new(values: &[u32]) -> Self {
        let random = Rc::new(RefCell::new(
            values.iter().copied().collect::<VecDeque<u32>>(),
        ));
        let source = Rc::clone(&random);
        let generator: Random = Box::new(move || source.borrow_mut().pop_front().unwrap_or(0));
        Self {
            session: Session::new(generator),
            now: 1_000,
            random,
        }
    }

    /// Reports the reconnect attempt's transport open, with the identity the session was
    /// connected with (the runner keeps it, not the session).
    pub fn transport_opened(&mut self) {
        self.session.transport_opened(&identity(), self.now);
    }

    /// Queues more random values.
    pub fn push_random(&mut self, values: &[u32]) {
        self.random.borrow_mut().extend(values.iter().copied());
    }

    /// Connected session with first packet id 4661.
    pub fn connected(reconnect: bool) -> Self {
        let mut harness = Self::new(&[4660, 12345]);
        harness
            .session
            .connect(config(reconnect), &identity(), harness.now)
            .unwrap();
        harness.take_sent();
        harness.feed(&Packet::ConnAck(ConnAck {
            session_present: false,
            return_code: 0,
        }));
        assert_eq!(
            harness.events(),
            vec![other(Event::Connected {
                session_present: false
            })]
        );
        harness
    }

    pub fn feed(&mut self, packet: &Packet<'_>) {
        let mut buffer = vec![0u8; packet.encoded_length()];
        packet.encode(&mut buffer).unwrap();
        self.feed_bytes(&buffer);
    }

    pub fn feed_bytes(&mut self, bytes: &[u8]) {
        let mut offset = 0;
        while offset < bytes.len() {
            let taken = self.session.handle_input(&bytes[offset..]);
            offset += taken;
            if taken == 0 {
                // The buffer is full: let the session work, as a runner would.
                let _ = self.events();
            }
        }
    }

    /// Polls until idle, returning every event.
    pub fn events(&mut self) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Some(event) = self.session.poll(self.now) {
            seen.push(match event {
                Event::Message(message) => Seen::Message {
                    topic: message.topic.to_owned(),
                    payload: message.payload.to_vec(),
                    qos: message.qos,
                    for_user: message.for_user,
                    for_internal: message.for_internal,
                },
                event => other(event),
            });
        }
        seen
    }

    pub fn advance_to(&mut self, now: u64) -> Vec<Seen> {
        self.now = now;
        self.events()
    }

    /// Takes the transmit buffer as raw bytes.
    pub fn take_sent(&mut self) -> Vec<u8> {
        let bytes = self.session.transmit().to_vec();
        self.session.mark_transmitted(bytes.len());
        bytes
    }

    /// Takes the transmit buffer and renders each packet with `Debug`.
    pub fn sent(&mut self) -> Vec<String> {
        let bytes = self.take_sent();
        let mut packets = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (packet, length) = decode(rest).unwrap().expect("complete packets only");
            packets.push(format!("{packet:?}"));
            rest = &rest[length..];
        }
        packets
    }

    pub fn suback(&mut self, packet_id: u16, code: u8) {
        self.feed(&Packet::SubAck(SubAck {
            packet_id: id(packet_id),
            return_codes: &[code],
        }));
    }

    /// Subscribes and grants, returning the packet id used.
    pub fn subscribe_granted(&mut self, kind: SlotKind, filter: &str, qos: QoS) -> PacketId {
        let packet_id = self.session.subscribe(kind, filter, qos, self.now).unwrap();
        self.take_sent();
        self.suback(packet_id.get(), qos as u8);
        let events = self.events();
        assert_eq!(events.len(), 1, "{events:?}");
        packet_id
    }

    pub fn publish_in(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        packet_id: u16,
        duplicate: bool,
    ) {
        self.feed(&Packet::Publish(Publish {
            duplicate,
            qos,
            retain: false,
            topic,
            packet_id: (qos != QoS::AtMostOnce).then(|| id(packet_id)),
            payload,
        }));
    }

    pub fn user_filters(&self) -> Vec<(String, QoS)> {
        self.session
            .subscriptions(SlotKind::User)
            .iter()
            .map(|slot| (slot.filter.to_string(), slot.qos))
            .collect()
    }
}
