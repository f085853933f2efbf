//! Sans-IO MQTT client session (`cloud.md` §2–§3, `commands.md` §4).
//!
//! The session never owns a socket or a timer, in the style of smoltcp: the runner
//! * opens a transport and calls [`Session::connect`] (or [`Session::transport_opened`] after
//!   an [`Event::Reconnecting`]), and reports a closed transport with
//!   [`Session::transport_closed`];
//! * feeds received bytes with [`Session::handle_input`];
//! * calls [`Session::poll`] with the current time until it returns `None`, acting on each
//!   [`Event`], and again by [`Session::next_deadline`];
//! * writes [`Session::transmit`] to the transport and confirms with
//!   [`Session::mark_transmitted`];
//! * may write a publish's payload straight into the transmit buffer
//!   ([`Session::payload_area`], [`Session::publish_staged`]).
//!
//! Because time is an argument, every timeout of the spec (cmdtimeout, keep-alive, the
//! reconnect backoff) is tested with a plain integer clock. Randomness (connection ids, the
//! first packet id, the backoff start) comes from the runner's [`Entropy`].

mod backoff;
mod commands;
mod event;
mod event_queue;
mod hold;
mod in_flight;
mod inbound;
mod link;
mod staging;
mod subscriptions;

pub use backoff::{Backoff, MAX_DELAY_MS, MIN_CONNECT_INTERVAL_MS, STABLE_LINK_MS};

use backoff::ReconnectHistory;
pub use event::{
    ConnectError, ConnectFailure, ConnectRefusal, DisconnectError, DropReason, Event, Message,
    Operation, PublishError, SubscribeError, UnsubscribeError,
};
pub use subscriptions::{
    Slot, SlotKind, Slots, FILTER_CAPACITY, INTERNAL_FILTER_BYTES, INTERNAL_SLOTS,
    INTERNAL_TAIL_CAPACITY, USER_SLOTS,
};

use crate::codec::{Connect, SubscriptionRequest, Unsubscribe, UnsubscribeFilters};
use crate::codec::{EncodeError, Packet, PacketId, Publish, QoS, Subscribe, SubscribeFilters};
use crate::tencent::{ConnectionId, Identity};
use crate::topic;
use core::ops::Range;
use event_queue::EventQueue;
use fifo::Fifo;
use in_flight::InFlight;
use subscriptions::SubscriptionTable;

/// Largest inbound payload forwarded; larger ones are dropped (and still acknowledged).
pub const MAX_INBOUND_PAYLOAD: usize = 2048;
/// Smallest transmit buffer: a 2048-byte payload, a 128-byte topic and the headers.
pub const MIN_TRANSMIT_BUFFER: usize = 2048 + 128 + 7;
/// Longest CONNECT of a Tencent identity (64-byte client id, 128-byte user name, 80-byte
/// password): a reconnect's CONNECT fits in front of a lent 2048-byte payload area.
pub const CONNECT_MAX: usize = 3 + 10 + (2 + 64) + (2 + 128) + (2 + 80);
/// Longest topic of a received PUBLISH that the module forwards (`urc.md` §2: up to 255
/// bytes).
pub const MAX_INBOUND_TOPIC: usize = 255;
/// Smallest receive buffer, and the one [`DefaultSession`] has: exactly the largest PUBLISH
/// the module must deliver, a [`MAX_INBOUND_PAYLOAD`]-byte payload on a
/// [`MAX_INBOUND_TOPIC`]-byte topic with a packet id (QoS 1 or 2): 1 type byte, 2 bytes of
/// remaining length, 2 + 255 topic, 2 packet id, 2048 payload = 2,310 bytes.
///
/// Why not more: only whole packets are decoded, and a PUBLISH one byte longer is not
/// delivered anyway (its payload or its topic is over the limit), so it is skipped while it
/// streams in and still acknowledged ([`Session::handle_input`]). Control packets are a few
/// bytes. A held message may fill the buffer to the last byte: the reading then stops (TCP
/// pushes back) while the keep-alive still sends its PINGREQs (`hold.rs`), and the bytes
/// behind are read once the message was released.
pub const MIN_RECEIVE_BUFFER: usize = publish_length(MAX_INBOUND_TOPIC, MAX_INBOUND_PAYLOAD);
const _: () = assert!(MIN_RECEIVE_BUFFER == 2310);

/// The encoded length of a PUBLISH with a packet id: the fixed header (type byte and the
/// variable-length remaining length), the topic with its length, the id and the payload.
const fn publish_length(topic: usize, payload: usize) -> usize {
    let remaining = 2 + topic + 2 + payload;
    let length_bytes = if remaining < 128 {
        1
    } else if remaining < 16_384 {
        2
    } else if remaining < 2_097_152 {
        3
    } else {
        4
    };
    1 + length_bytes + remaining
}
/// QoS 1 publishes, subscribes and unsubscribes outstanding at once (one host command plus
/// overlapping OTA reports).
pub const MAX_IN_FLIGHT: usize = 4;
/// Wait for a PINGRESP before the second PINGREQ, and after it before the drop.
pub const PING_RESPONSE_TIMEOUT_MS: u64 = 5_000;

const EVENT_QUEUE: usize = 16;
const RECENT_IDS: usize = 10;
const ACKNOWLEDGEMENT_LENGTH: usize = 4;

/// A session with the buffer sizes the design fixes: out, a 2048-byte payload area with the
/// longest CONNECT in front of it (the PUBLISH data phase writes into that area,
/// [`Session::payload_area`]); in, the largest deliverable PUBLISH ([`MIN_RECEIVE_BUFFER`]).
pub type DefaultSession<R> = Session<R, { 2048 + CONNECT_MAX }, MIN_RECEIVE_BUFFER>;

/// Source of random numbers (the board's RNG); any `FnMut() -> u32` closure is one.
pub trait Entropy {
    /// Returns 32 random bits.
    fn next_u32(&mut self) -> u32;
}

impl<F: FnMut() -> u32> Entropy for F {
    fn next_u32(&mut self) -> u32 {
        self()
    }
}

/// The AT+TCMQTTCONN parameters the session needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionConfig {
    /// Bound for CONNACK, PUBACK, SUBACK and UNSUBACK waits (1000..=20000 ms).
    pub command_timeout_ms: u32,
    /// Keep-alive (60..=690 s); 0 disables PINGREQ.
    pub keep_alive_s: u16,
    /// Clean-session flag of the CONNECT.
    pub clean_session: bool,
    /// Reconnect automatically after a drop.
    pub reconnect: bool,
}

/// Inbound messages the session did not deliver (diagnostics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Statistics {
    /// Payload over [`MAX_INBOUND_PAYLOAD`].
    pub oversize_dropped: u32,
    /// No filter matched the topic.
    pub unmatched_dropped: u32,
    /// DUP re-deliveries (QoS 1) or repeated QoS 2 ids acknowledged without delivery.
    pub duplicates_suppressed: u32,
}

/// 16 bytes: a deadline, a 4-byte [`Backoff`] and a flag beside the tag
/// (`backoff::tests::a_step_takes_four_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Initial connect: CONNECT written, waiting for CONNACK.
    Connecting {
        deadline: u64,
    },
    Up,
    /// After a reconnect CONNACK (already usable): re-subscribing slot `next` (internal
    /// slots, then user slots, `cloud.md` §3 item 4).
    Resubscribing {
        next: usize,
    },
    BackingOff {
        backoff: Backoff,
        until: u64,
    },
    /// A reconnect attempt; `connect_sent` once the runner reported its transport open.
    Attempting {
        backoff: Backoff,
        deadline: u64,
        connect_sent: bool,
    },
}

/// The keep-alive's state; the time its PINGREQ left is `Session::ping_sent_at` (a byte and
/// a separate `u64`, 9 bytes, not an enum that carries the time in each variant, 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ping {
    Idle,
    AwaitingFirst,
    AwaitingSecond,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PendingKind {
    Publish,
    /// Into the slot with this id (`subscriptions::Slot`), which holds the filter.
    Subscribe {
        kind: SlotKind,
        slot: u8,
    },
    /// The `index`th slot of its kind: a `u8` (at most [`USER_SLOTS`] slots), which makes an
    /// in-flight entry 16 bytes, not 32.
    Resubscribe {
        kind: SlotKind,
        index: u8,
    },
    Unsubscribe,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    packet_id: PacketId,
    deadline: u64,
    kind: PendingKind,
}

/// A delivered message still in the receive buffer, with its deferred acknowledgement.
///
/// 14 bytes, not 18: its packet's length is where its payload ends ([`Release::length`]) and
/// its three flags share a byte ([`Release::RETAIN`] and the routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Release {
    acknowledgement: Option<Acknowledgement>,
    /// Where the message lies in the receive buffer, for [`Session::held_message`].
    topic: Span,
    payload: Span,
    qos: QoS,
    /// [`Release::RETAIN`], [`Release::FOR_USER`], [`Release::FOR_INTERNAL`].
    flags: u8,
}

const _: () = assert!(core::mem::size_of::<Option<Release>>() == 14);

impl Release {
    const RETAIN: u8 = 1;
    const FOR_USER: u8 = 2;
    const FOR_INTERNAL: u8 = 4;

    fn flags(retain: bool, for_user: bool, for_internal: bool) -> u8 {
        (u8::from(retain) * Self::RETAIN)
            | (u8::from(for_user) * Self::FOR_USER)
            | (u8::from(for_internal) * Self::FOR_INTERNAL)
    }

    fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The message's packet length: packets are decoded from the start of the receive buffer
    /// and a PUBLISH's payload runs to its packet's end.
    fn length(self) -> u16 {
        self.payload.end
    }
}

/// `Session::staged` while no payload area is lent (no area is that large: `TX < u16::MAX`).
const NOT_STAGED: u16 = u16::MAX;

/// `Session::held_since` while no message is held.
const NOT_HELD: u64 = u64::MAX;

/// A length or offset into one of the buffers as stored: a `u16` (both buffers are at most
/// 64 KiB, checked in [`Session::new`]).
fn offset(value: usize) -> u16 {
    value as u16
}

/// A range of the receive buffer in two `u16`s, not two `usize`s (both buffers are at most
/// 64 KiB, checked in [`Session::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
}

impl Span {
    fn new(range: Range<usize>) -> Self {
        // Offsets into the receive buffer, at most `RX <= u16::MAX`.
        Span {
            start: range.start as u16,
            end: range.end as u16,
        }
    }

    fn range(self) -> Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acknowledgement {
    PubAck(PacketId),
    PubRec(PacketId),
}

impl Acknowledgement {
    fn packet(self) -> Packet<'static> {
        match self {
            Self::PubAck(packet_id) => Packet::PubAck(packet_id),
            Self::PubRec(packet_id) => Packet::PubRec(packet_id),
        }
    }
}

/// The client session; `TX`/`RX` are the transmit and receive buffer sizes in bytes
/// (at least [`MIN_TRANSMIT_BUFFER`] / [`MIN_RECEIVE_BUFFER`] for the spec's limits).
pub struct Session<R, const TX: usize, const RX: usize> {
    random: R,
    config: SessionConfig,
    phase: Phase,
    ping: Ping,
    /// When the PINGREQ that [`Ping`] awaits an answer to left; meaningless while idle.
    ping_sent_at: u64,
    last_ping_or_connect: u64,
    history: ReconnectHistory,
    next_packet_id: PacketId,
    pending: InFlight,
    subscriptions: SubscriptionTable,
    events: EventQueue<EVENT_QUEUE>,
    transmit: [u8; TX],
    /// Lengths and offsets into the buffers in `u16`s (both at most 64 KiB, checked in
    /// [`Session::new`]), written through [`offset`].
    transmit_length: u16,
    /// Size of the payload area lent at the end of the transmit buffer
    /// ([`Session::payload_area`]), [`NOT_STAGED`] for none; writes stop in front of it. A
    /// plain `u16` (the buffer is below 64 KiB): 2 bytes, not an `Option`'s 4 (read through
    /// `Session::staged`).
    staged: u16,
    receive: [u8; RX],
    receive_length: u16,
    /// What is left of an oversized packet: a remaining length is at most 268,435,455.
    discard: u32,
    release: Option<Release>,
    /// Since when the runner holds the delivered message (`Session::hold_message`);
    /// [`NOT_HELD`] for none (8 bytes, not an `Option`'s 16; read through `Session::held`).
    held_since: u64,
    /// The next re-subscription stops after the internal slots until the runner resumes it
    /// (`Session::defer_user_resubscription`).
    defer_user: bool,
    /// The last QoS 1 ids received (duplicate detection, `README.md` table B).
    recent_qos1: Fifo<PacketId, RECENT_IDS>,
    /// QoS 2 ids received and not yet released by their PUBREL.
    awaiting_release: Fifo<PacketId, RECENT_IDS>,
    statistics: Statistics,
}

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Creates an idle session.
    pub fn new(random: R) -> Self {
        // Offsets into the buffers are kept in `u16`s (`Span`, `staged`, the lengths).
        // `TX` below it: `u16::MAX` is `NOT_STAGED`.
        const { assert!(TX < u16::MAX as usize && RX <= u16::MAX as usize) };
        let first_id = PacketId::new(1).unwrap_or_else(|| unreachable!());
        Self {
            random,
            config: SessionConfig {
                command_timeout_ms: 5000,
                keep_alive_s: 240,
                clean_session: true,
                reconnect: true,
            },
            phase: Phase::Idle,
            ping: Ping::Idle,
            ping_sent_at: 0,
            last_ping_or_connect: 0,
            history: ReconnectHistory::default(),
            next_packet_id: first_id,
            pending: InFlight::default(),
            subscriptions: SubscriptionTable::default(),
            events: EventQueue::new(),
            transmit: [0; TX],
            transmit_length: 0,
            staged: NOT_STAGED,
            receive: [0; RX],
            receive_length: 0,
            discard: 0,
            release: None,
            held_since: NOT_HELD,
            defer_user: false,
            recent_qos1: Fifo::new(first_id),
            awaiting_release: Fifo::new(first_id),
            statistics: Statistics::default(),
        }
    }

    /// Starts a session over a transport the runner has just opened: writes the CONNECT
    /// (fresh connection id) and waits for the CONNACK until `now + cmdtimeout`.
    ///
    /// The session does not keep `identity`: the runner keeps it (it authenticates the
    /// transport too, TLS-PSK) and lends it again to [`Session::transport_opened`] for each
    /// reconnect's CONNECT, so the identity is stored once.
    ///
    /// # Errors
    /// [`ConnectError::AlreadyRunning`] unless idle; [`ConnectError::BufferFull`] if the
    /// CONNECT does not fit. The session stays idle on error.
    pub fn connect(
        &mut self,
        config: SessionConfig,
        identity: &Identity,
        now: u64,
    ) -> Result<(), ConnectError> {
        if self.phase != Phase::Idle {
            return Err(ConnectError::AlreadyRunning);
        }
        self.end_session();
        self.config = config;
        let start = (self.random.next_u32() % 65_535) as u16 + 1;
        self.next_packet_id = PacketId::new(start).unwrap_or(self.next_packet_id);
        if self.write_connect(identity, now).is_err() {
            self.end_session();
            return Err(ConnectError::BufferFull);
        }
        self.phase = Phase::Connecting {
            deadline: now + u64::from(config.command_timeout_ms),
        };
        Ok(())
    }

    /// Reports that the transport for the current reconnect attempt is open: the CONNECT
    /// of `identity` (the one [`Session::connect`] was given) is written. Ignored outside a
    /// reconnect attempt and when repeated.
    pub fn transport_opened(&mut self, identity: &Identity, now: u64) {
        if let Phase::Attempting {
            backoff,
            deadline,
            connect_sent: false,
        } = self.phase
        {
            if self.write_connect(identity, now).is_err() {
                self.attempt_failed(backoff, now);
            } else {
                self.phase = Phase::Attempting {
                    backoff,
                    deadline,
                    connect_sent: true,
                };
            }
        }
    }

    /// Reports that the transport closed or failed (read/write error, peer close, a failed
    /// DNS/TCP/TLS stage of a reconnect attempt). Ignored while no link is expected.
    pub fn transport_closed(&mut self, now: u64) {
        self.link_failed(DropReason::TransportClosed, now);
    }

    /// Bytes waiting to be written to the transport.
    pub fn transmit(&self) -> &[u8] {
        &self.transmit[..usize::from(self.transmit_length)]
    }

    /// Drops the first `count` bytes of [`Session::transmit`] once written.
    pub fn mark_transmitted(&mut self, count: usize) {
        let length = usize::from(self.transmit_length);
        let count = count.min(length);
        self.transmit.copy_within(count..length, 0);
        self.transmit_length = offset(length - count);
    }

    /// Returns the next event, running timers and decoding received packets as needed.
    /// Call until it returns `None`. A [`Event::Message`] borrows the receive buffer; its
    /// PUBACK/PUBREC is queued on the next call, i.e. after the runner handled the message.
    pub fn poll(&mut self, now: u64) -> Option<Event<'_>> {
        if self.held().is_some() {
            // The runner still holds the delivered message: nothing is decoded; on a live
            // link only the keep-alive runs, otherwise the reconnect timers do.
            if self.events.is_empty() {
                if matches!(self.phase, Phase::Up | Phase::Resubscribing { .. }) {
                    self.run_held_keep_alive(now);
                } else {
                    self.run_timers(now);
                }
            }
            return self.events.pop();
        }
        if !self.finish_release() {
            return self.events.pop();
        }
        if let Some(event) = self.events.pop() {
            return Some(event);
        }
        // Received bytes arrived before `now`, so they are handled before the timers: a
        // PINGRESP or PUBACK that is waiting in the buffer must not lose to its timeout.
        if let Some(delivery) = self.next_delivery(now) {
            return Some(self.message_event(delivery));
        }
        if self.events.is_empty() {
            self.run_timers(now);
        }
        self.events.pop()
    }

    /// The earliest time [`Session::poll`] has timer work to do.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.held().is_some() && matches!(self.phase, Phase::Up | Phase::Resubscribing { .. }) {
            return self.held_ping_deadline();
        }
        let phase = match self.phase {
            Phase::Idle => return None,
            Phase::Connecting { deadline } | Phase::Attempting { deadline, .. } => Some(deadline),
            Phase::BackingOff { until, .. } => Some(until),
            Phase::Up | Phase::Resubscribing { .. } => self.ping_deadline(),
        };
        self.pending
            .iter()
            .map(|pending| pending.deadline)
            .chain(phase)
            .min()
    }

    /// RUN: a session exists (connecting, connected or reconnecting).
    pub fn is_running(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// CONN: the link is usable (false while reconnecting; true from a reconnect's CONNACK
    /// on, while the re-subscription still runs).
    pub fn is_usable(&self) -> bool {
        matches!(self.phase, Phase::Up | Phase::Resubscribing { .. })
    }

    /// Asks that the next re-subscription stop after the internal slots with
    /// [`Event::InternalSlotsRestored`] until [`Session::resume_resubscription`]. Call it at the
    /// [`Event::Dropped`] that starts reconnecting (a drop clears the request); the session end
    /// clears it too.
    pub fn defer_user_resubscription(&mut self) {
        if self.phase != Phase::Idle {
            self.defer_user = true;
        }
    }

    /// Re-subscribes the user slots after [`Event::InternalSlotsRestored`].
    pub fn resume_resubscription(&mut self, now: u64) {
        if core::mem::replace(&mut self.defer_user, false) {
            self.advance_resubscribe(now);
        }
    }

    /// Whether the re-subscription after a reconnect still waits for a SUBACK.
    pub fn is_resubscribing(&self) -> bool {
        matches!(self.phase, Phase::Resubscribing { .. })
    }

    /// The slots of one table, oldest first (AT+TCMQTTSUB? lists the user table), lent from
    /// the table's byte arena.
    pub fn subscriptions(&self, kind: SlotKind) -> Slots<'_> {
        self.subscriptions.slots(kind)
    }

    /// The entropy source the session was made with: a runner that draws from the same
    /// source elsewhere (its TLS randoms) reads it here instead of keeping a second copy.
    pub fn entropy(&self) -> &R {
        &self.random
    }

    /// Counters of undelivered inbound messages.
    pub fn statistics(&self) -> Statistics {
        self.statistics
    }

    /// Overrides the next packet id (reproducing captures; normally random per connect).
    pub fn set_next_packet_id(&mut self, packet_id: PacketId) {
        self.next_packet_id = packet_id;
    }

    fn write(&mut self, packet: &Packet<'_>) -> Result<(), EncodeError> {
        let written = packet.encode(self.transmit_space())?;
        self.transmit_length += offset(written);
        Ok(())
    }

    /// Where the next packet goes: behind the pending bytes, in front of a lent payload area.
    fn transmit_space(&mut self) -> &mut [u8] {
        let end = self.transmit_end();
        &mut self.transmit[usize::from(self.transmit_length)..end]
    }

    fn transmit_end(&self) -> usize {
        TX - self.staged().unwrap_or(0)
    }

    fn transmit_free(&self) -> usize {
        self.transmit_end() - usize::from(self.transmit_length)
    }

    /// Whether a SUBSCRIBE into slot `slot` of `kind` is still in flight.
    fn awaits_slot(&self, kind: SlotKind, slot: u8) -> bool {
        self.pending
            .iter()
            .any(|pending| pending.kind == PendingKind::Subscribe { kind, slot })
    }

    fn push_event(&mut self, event: Event<'static>) {
        // EVENT_QUEUE exceeds what one call can produce (a drop with MAX_IN_FLIGHT
        // operations and a reconnect step), so nothing is lost while the runner polls.
        let _ = self.events.push(event);
    }
}
