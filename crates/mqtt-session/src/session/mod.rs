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
//!   [`Session::mark_transmitted`].
//!
//! Because time is an argument, every timeout of the spec (cmdtimeout, keep-alive, the
//! reconnect backoff) is tested with a plain integer clock. Randomness (connection ids, the
//! first packet id, the backoff start) comes from the runner's [`Entropy`].

mod backoff;
mod event;
mod inbound;
mod subscriptions;

pub use backoff::{Backoff, MAX_DELAY_MS};
pub use event::{
    ConnectError, ConnectFailure, ConnectRefusal, DisconnectError, DropReason, Event, Message,
    Operation, PublishError, SubscribeError, UnsubscribeError,
};
pub use subscriptions::{Slot, SlotKind, FILTER_CAPACITY, INTERNAL_SLOTS, USER_SLOTS};

use crate::codec::{Connect, SubscriptionRequest, Unsubscribe, UnsubscribeFilters};
use crate::codec::{EncodeError, Packet, PacketId, Publish, QoS, Subscribe, SubscribeFilters};
use crate::tencent::{ConnectionId, Identity};
use crate::topic;
use heapless::{Deque, String, Vec};
use subscriptions::SubscriptionTable;

/// Largest inbound payload forwarded; larger ones are dropped (and still acknowledged).
pub const MAX_INBOUND_PAYLOAD: usize = 2048;
/// Smallest transmit buffer: a 2048-byte payload, a 128-byte topic and the headers.
pub const MIN_TRANSMIT_BUFFER: usize = 2048 + 128 + 7;
/// Smallest receive buffer: a 2048-byte payload with a 255-byte topic and headers.
pub const MIN_RECEIVE_BUFFER: usize = 2560;
/// QoS 1 publishes, subscribes and unsubscribes outstanding at once (one host command plus
/// overlapping OTA reports).
pub const MAX_IN_FLIGHT: usize = 4;
/// Wait for a PINGRESP before the second PINGREQ, and after it before the drop.
pub const PING_RESPONSE_TIMEOUT_MS: u64 = 5_000;

const EVENT_QUEUE: usize = 16;
const RECENT_IDS: usize = 10;
const ACKNOWLEDGEMENT_LENGTH: usize = 4;

/// A session with the buffer sizes the design fixes (2.25 KiB out, 2.5 KiB in).
pub type DefaultSession<R> = Session<R, 2304, 2560>;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Initial connect: CONNECT written, waiting for CONNACK.
    Connecting {
        deadline: u64,
    },
    Up,
    /// After a reconnect CONNACK: re-subscribing slot `next` (user slots, then internal).
    Resubscribing {
        next: usize,
    },
    BackingOff {
        backoff: Backoff,
        until: u64,
    },
    Attempting {
        backoff: Backoff,
        deadline: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ping {
    Idle,
    AwaitingFirst { sent_at: u64 },
    AwaitingSecond { sent_at: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PendingKind {
    Publish,
    Subscribe {
        kind: SlotKind,
        filter: String<FILTER_CAPACITY>,
    },
    Resubscribe {
        kind: SlotKind,
        index: usize,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Release {
    length: usize,
    acknowledgement: Option<Acknowledgement>,
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
    identity: Option<Identity>,
    phase: Phase,
    ping: Ping,
    last_ping_or_connect: u64,
    next_packet_id: PacketId,
    pending: Vec<Pending, MAX_IN_FLIGHT>,
    subscriptions: SubscriptionTable,
    events: Deque<Event<'static>, EVENT_QUEUE>,
    transmit: [u8; TX],
    transmit_length: usize,
    receive: [u8; RX],
    receive_length: usize,
    discard: usize,
    release: Option<Release>,
    recent_qos1: Deque<PacketId, RECENT_IDS>,
    awaiting_release: Deque<PacketId, RECENT_IDS>,
    statistics: Statistics,
}

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Creates an idle session.
    pub fn new(random: R) -> Self {
        Self {
            random,
            config: SessionConfig {
                command_timeout_ms: 5000,
                keep_alive_s: 240,
                clean_session: true,
                reconnect: true,
            },
            identity: None,
            phase: Phase::Idle,
            ping: Ping::Idle,
            last_ping_or_connect: 0,
            next_packet_id: PacketId::new(1).unwrap_or_else(|| unreachable!()),
            pending: Vec::new(),
            subscriptions: SubscriptionTable::default(),
            events: Deque::new(),
            transmit: [0; TX],
            transmit_length: 0,
            receive: [0; RX],
            receive_length: 0,
            discard: 0,
            release: None,
            recent_qos1: Deque::new(),
            awaiting_release: Deque::new(),
            statistics: Statistics::default(),
        }
    }

    /// Starts a session over a transport the runner has just opened: writes the CONNECT
    /// (fresh connection id) and waits for the CONNACK until `now + cmdtimeout`.
    ///
    /// # Errors
    /// [`ConnectError::AlreadyRunning`] unless idle; [`ConnectError::BufferFull`] if the
    /// CONNECT does not fit. The session stays idle on error.
    pub fn connect(
        &mut self,
        config: SessionConfig,
        identity: Identity,
        now: u64,
    ) -> Result<(), ConnectError> {
        if self.phase != Phase::Idle {
            return Err(ConnectError::AlreadyRunning);
        }
        self.end_session();
        self.config = config;
        self.identity = Some(identity);
        let start = (self.random.next_u32() % 65_535) as u16 + 1;
        self.next_packet_id = PacketId::new(start).unwrap_or(self.next_packet_id);
        if self.write_connect(now).is_err() {
            self.end_session();
            return Err(ConnectError::BufferFull);
        }
        self.phase = Phase::Connecting {
            deadline: now + u64::from(config.command_timeout_ms),
        };
        Ok(())
    }

    /// Reports that the transport for the current reconnect attempt is open: the CONNECT
    /// is written. Ignored outside a reconnect attempt.
    pub fn transport_opened(&mut self, now: u64) {
        if let Phase::Attempting { backoff, .. } = self.phase {
            if self.write_connect(now).is_err() {
                self.attempt_failed(backoff, now);
            }
        }
    }

    /// Reports that the transport closed or failed (read/write error, peer close, a failed
    /// DNS/TCP/TLS stage of a reconnect attempt). Ignored while no link is expected.
    pub fn transport_closed(&mut self, now: u64) {
        self.link_failed(DropReason::TransportClosed, now);
    }

    /// Publishes at QoS 0 or 1 (retain 0, DUP 0). Returns the packet id of a QoS 1 publish,
    /// whose outcome arrives as [`Event::Published`], [`Event::PublishTimeout`] or
    /// [`Event::LinkLost`].
    ///
    /// # Errors
    /// [`PublishError`]; nothing is written and no packet id is used.
    pub fn publish(
        &mut self,
        topic_name: &str,
        payload: &[u8],
        qos: QoS,
        now: u64,
    ) -> Result<Option<PacketId>, PublishError> {
        if !self.is_usable() {
            return Err(PublishError::NotConnected);
        }
        if !topic::is_valid_topic_name(topic_name) || topic_name.len() > usize::from(u16::MAX) {
            return Err(PublishError::InvalidTopic);
        }
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce if self.pending.is_full() => {
                return Err(PublishError::TooManyInFlight)
            }
            QoS::AtLeastOnce => Some(self.peek_packet_id()),
            QoS::ExactlyOnce => return Err(PublishError::UnsupportedQos),
        };
        let packet = Packet::Publish(Publish {
            duplicate: false,
            qos,
            retain: false,
            topic: topic_name,
            packet_id,
            payload,
        });
        if packet.encoded_length() > TX {
            return Err(PublishError::TooLarge);
        }
        self.write(&packet).map_err(|_| PublishError::BufferFull)?;
        if let Some(packet_id) = packet_id {
            self.commit_packet_id(packet_id, PendingKind::Publish, now);
        }
        Ok(packet_id)
    }

    /// Subscribes one filter into a slot of `kind`. A filter already in that table is
    /// re-subscribed in place. The outcome arrives as [`Event::Subscribed`],
    /// [`Event::SubscribeRefused`], [`Event::SubscribeTimeout`] or [`Event::LinkLost`].
    ///
    /// # Errors
    /// [`SubscribeError`]; nothing is written. [`SubscribeError::TableFull`] is the
    /// immediate `-107` of the 11th user filter.
    pub fn subscribe(
        &mut self,
        kind: SlotKind,
        filter: &str,
        qos: QoS,
        now: u64,
    ) -> Result<PacketId, SubscribeError> {
        if !self.is_usable() {
            return Err(SubscribeError::NotConnected);
        }
        if !topic::is_valid_filter(filter) || filter.len() > FILTER_CAPACITY {
            return Err(SubscribeError::InvalidFilter);
        }
        if qos == QoS::ExactlyOnce {
            return Err(SubscribeError::UnsupportedQos);
        }
        if self.subscriptions.position(kind, filter).is_none()
            && self.new_filter_would_overflow(kind, filter)
        {
            return Err(SubscribeError::TableFull);
        }
        if self.pending.is_full() {
            return Err(SubscribeError::TooManyInFlight);
        }
        let packet_id = self.peek_packet_id();
        let request = [SubscriptionRequest { filter, qos }];
        let packet = Packet::Subscribe(Subscribe {
            packet_id,
            filters: SubscribeFilters::from_list(&request),
        });
        self.write(&packet)
            .map_err(|_| SubscribeError::BufferFull)?;
        let filter = String::try_from(filter).map_err(|_| SubscribeError::InvalidFilter)?;
        self.commit_packet_id(packet_id, PendingKind::Subscribe { kind, filter }, now);
        Ok(packet_id)
    }

    /// Removes exactly this filter from the table of `kind` and sends UNSUBSCRIBE, unless
    /// the other table still holds the same filter (then `Ok(None)`, nothing sent). The
    /// slot stays removed whatever the UNSUBACK does.
    ///
    /// # Errors
    /// [`UnsubscribeError`]; the table is unchanged.
    pub fn unsubscribe(
        &mut self,
        kind: SlotKind,
        filter: &str,
        now: u64,
    ) -> Result<Option<PacketId>, UnsubscribeError> {
        if !self.is_usable() {
            return Err(UnsubscribeError::NotConnected);
        }
        let index = self
            .subscriptions
            .position(kind, filter)
            .ok_or(UnsubscribeError::NotSubscribed)?;
        let other = match kind {
            SlotKind::User => SlotKind::Internal,
            SlotKind::Internal => SlotKind::User,
        };
        let mut sent = None;
        if self.subscriptions.position(other, filter).is_none() {
            if self.pending.is_full() {
                return Err(UnsubscribeError::TooManyInFlight);
            }
            let packet_id = self.peek_packet_id();
            let filters = [filter];
            let packet = Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters: UnsubscribeFilters::from_list(&filters),
            });
            self.write(&packet)
                .map_err(|_| UnsubscribeError::BufferFull)?;
            self.commit_packet_id(packet_id, PendingKind::Unsubscribe, now);
            sent = Some(packet_id);
        }
        self.subscriptions.remove(kind, index);
        Ok(sent)
    }

    /// Ends the session at the host's request: queues DISCONNECT if the link is up, forgets
    /// subscriptions, outstanding operations and queued events. No event follows; the
    /// runner transmits what is pending and closes the transport.
    ///
    /// # Errors
    /// [`DisconnectError::NotRunning`] when no session exists.
    pub fn disconnect(&mut self) -> Result<(), DisconnectError> {
        let link_up = match self.phase {
            Phase::Idle => return Err(DisconnectError::NotRunning),
            Phase::Up | Phase::Resubscribing { .. } => true,
            _ => false,
        };
        self.end_session();
        self.events.clear();
        if link_up {
            // The buffer was just emptied, so two bytes always fit.
            let _ = self.write(&Packet::Disconnect);
        }
        Ok(())
    }

    /// Bytes waiting to be written to the transport.
    pub fn transmit(&self) -> &[u8] {
        &self.transmit[..self.transmit_length]
    }

    /// Drops the first `count` bytes of [`Session::transmit`] once written.
    pub fn mark_transmitted(&mut self, count: usize) {
        let count = count.min(self.transmit_length);
        self.transmit.copy_within(count..self.transmit_length, 0);
        self.transmit_length -= count;
    }

    /// Returns the next event, running timers and decoding received packets as needed.
    /// Call until it returns `None`. A [`Event::Message`] borrows the receive buffer; its
    /// PUBACK/PUBREC is queued on the next call, i.e. after the runner handled the message.
    pub fn poll(&mut self, now: u64) -> Option<Event<'_>> {
        if !self.finish_release() {
            return self.events.pop_front();
        }
        if let Some(event) = self.events.pop_front() {
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
        self.events.pop_front()
    }

    /// The earliest time [`Session::poll`] has timer work to do.
    pub fn next_deadline(&self) -> Option<u64> {
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

    /// CONN: the link is usable (false while reconnecting and re-subscribing).
    pub fn is_usable(&self) -> bool {
        self.phase == Phase::Up
    }

    /// The slots of one table, oldest first (AT+TCMQTTSUB? lists the user table).
    pub fn subscriptions(&self, kind: SlotKind) -> &[Slot] {
        self.subscriptions.slots(kind)
    }

    /// Counters of undelivered inbound messages.
    pub fn statistics(&self) -> Statistics {
        self.statistics
    }

    /// Overrides the next packet id (reproducing captures; normally random per connect).
    pub fn set_next_packet_id(&mut self, packet_id: PacketId) {
        self.next_packet_id = packet_id;
    }

    fn new_filter_would_overflow(&self, kind: SlotKind, filter: &str) -> bool {
        let capacity = match kind {
            SlotKind::User => USER_SLOTS,
            SlotKind::Internal => INTERNAL_SLOTS,
        };
        // New filters awaiting their SUBACK count, so two overlapping subscribes cannot
        // both take the last slot.
        let pending_new = self
            .pending
            .iter()
            .filter(|pending| match &pending.kind {
                PendingKind::Subscribe {
                    kind: pending_kind,
                    filter: pending_filter,
                } => {
                    *pending_kind == kind
                        && pending_filter != filter
                        && self.subscriptions.position(kind, pending_filter).is_none()
                }
                _ => false,
            })
            .count();
        self.subscriptions.is_full(kind)
            || self.subscriptions.slots(kind).len() + pending_new >= capacity
    }

    fn peek_packet_id(&self) -> PacketId {
        let mut candidate = self.next_packet_id;
        while self
            .pending
            .iter()
            .any(|pending| pending.packet_id == candidate)
        {
            candidate = candidate.next();
        }
        candidate
    }

    fn commit_packet_id(&mut self, packet_id: PacketId, kind: PendingKind, now: u64) {
        self.next_packet_id = packet_id.next();
        let deadline = now + u64::from(self.config.command_timeout_ms);
        // Callers checked for room; a full table only loses the timeout of this entry.
        let _ = self.pending.push(Pending {
            packet_id,
            deadline,
            kind,
        });
    }

    fn write(&mut self, packet: &Packet<'_>) -> Result<(), EncodeError> {
        let written = packet.encode(&mut self.transmit[self.transmit_length..])?;
        self.transmit_length += written;
        Ok(())
    }

    fn transmit_free(&self) -> usize {
        TX - self.transmit_length
    }

    fn write_connect(&mut self, now: u64) -> Result<(), EncodeError> {
        let connection_id = ConnectionId::from_random(self.random.next_u32());
        let Some(identity) = &self.identity else {
            return Err(EncodeError::InvalidString);
        };
        let fields = identity.connect_fields(connection_id);
        let connect = Connect {
            clean_session: self.config.clean_session,
            keep_alive: self.config.keep_alive_s,
            client_id: identity.client_id(),
            will: None,
            username: Some(&fields.username),
            password: fields.password.as_ref().map(|password| password.as_bytes()),
        };
        let written =
            Packet::Connect(connect).encode(&mut self.transmit[self.transmit_length..])?;
        self.transmit_length += written;
        self.last_ping_or_connect = now;
        self.ping = Ping::Idle;
        Ok(())
    }

    fn ping_deadline(&self) -> Option<u64> {
        match self.ping {
            Ping::Idle if self.config.keep_alive_s == 0 => None,
            Ping::Idle => {
                Some(self.last_ping_or_connect + 1000 * u64::from(self.config.keep_alive_s))
            }
            Ping::AwaitingFirst { sent_at } | Ping::AwaitingSecond { sent_at } => {
                Some(sent_at + PING_RESPONSE_TIMEOUT_MS)
            }
        }
    }

    fn run_timers(&mut self, now: u64) {
        match self.phase {
            Phase::Idle => {}
            Phase::Connecting { deadline } if now >= deadline => {
                self.end_session();
                self.push_event(Event::ConnectFailed(ConnectFailure::Timeout));
            }
            Phase::Attempting { backoff, deadline } if now >= deadline => {
                self.attempt_failed(backoff, now)
            }
            Phase::BackingOff { backoff, until } if now >= until => {
                let bound = u64::from(self.config.command_timeout_ms).max(5_000);
                self.phase = Phase::Attempting {
                    backoff,
                    deadline: now + bound,
                };
                self.push_event(Event::Reconnecting {
                    attempt: backoff.attempt,
                });
            }
            Phase::Up | Phase::Resubscribing { .. } => {
                self.run_keep_alive(now);
                self.expire_pending(now);
            }
            _ => {}
        }
    }

    fn run_keep_alive(&mut self, now: u64) {
        let Some(deadline) = self.ping_deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.ping {
            Ping::AwaitingSecond { .. } => self.link_failed(DropReason::KeepAliveTimeout, now),
            _ if self.transmit_free() < 2 => {}
            Ping::Idle => {
                let _ = self.write(&Packet::PingReq);
                self.last_ping_or_connect = now;
                self.ping = Ping::AwaitingFirst { sent_at: now };
            }
            Ping::AwaitingFirst { .. } => {
                let _ = self.write(&Packet::PingReq);
                self.last_ping_or_connect = now;
                self.ping = Ping::AwaitingSecond { sent_at: now };
            }
        }
    }

    fn expire_pending(&mut self, now: u64) {
        while let Some(position) = self
            .pending
            .iter()
            .position(|pending| now >= pending.deadline)
        {
            let expired = self.pending.remove(position);
            let packet_id = expired.packet_id;
            match expired.kind {
                PendingKind::Publish => self.push_event(Event::PublishTimeout { packet_id }),
                PendingKind::Subscribe { kind, .. } => {
                    self.push_event(Event::SubscribeTimeout { packet_id, kind })
                }
                PendingKind::Unsubscribe => {
                    self.push_event(Event::UnsubscribeTimeout { packet_id })
                }
                PendingKind::Resubscribe { kind, index } => {
                    self.resubscribe_answered(kind, index, None, now)
                }
            }
        }
    }

    fn push_event(&mut self, event: Event<'static>) {
        // EVENT_QUEUE exceeds what one call can produce (a drop with MAX_IN_FLIGHT
        // operations and a reconnect step), so nothing is lost while the runner polls.
        let _ = self.events.push_back(event);
    }

    /// Drops the link for `reason`: what follows depends on the phase (`cloud.md` §3).
    fn link_failed(&mut self, reason: DropReason, now: u64) {
        match self.phase {
            Phase::Idle | Phase::BackingOff { .. } => {}
            Phase::Connecting { .. } => {
                self.end_session();
                let failure = match reason {
                    DropReason::TransportClosed => ConnectFailure::ClosedBeforeConnack,
                    _ => ConnectFailure::ProtocolViolation,
                };
                self.push_event(Event::ConnectFailed(failure));
            }
            Phase::Attempting { backoff, .. } => self.attempt_failed(backoff, now),
            Phase::Up | Phase::Resubscribing { .. } => {
                let reconnecting = self.config.reconnect;
                self.push_event(Event::Dropped {
                    reason,
                    reconnecting,
                });
                let pending = core::mem::take(&mut self.pending);
                for entry in pending {
                    let operation = match entry.kind {
                        PendingKind::Publish => Operation::Publish,
                        PendingKind::Subscribe { kind, .. } => Operation::Subscribe(kind),
                        PendingKind::Unsubscribe => Operation::Unsubscribe,
                        PendingKind::Resubscribe { .. } => continue,
                    };
                    self.push_event(Event::LinkLost {
                        packet_id: entry.packet_id,
                        operation,
                    });
                }
                self.reset_link();
                if reconnecting {
                    let backoff = Backoff::first(self.random.next_u32());
                    self.phase = Phase::BackingOff {
                        backoff,
                        until: now + u64::from(backoff.delay_ms),
                    };
                } else {
                    self.end_session();
                }
            }
        }
    }

    fn attempt_failed(&mut self, backoff: Backoff, now: u64) {
        self.push_event(Event::ReconnectAttemptFailed {
            attempt: backoff.attempt,
        });
        self.reset_link();
        match backoff.next() {
            Some(next) => {
                self.phase = Phase::BackingOff {
                    backoff: next,
                    until: now + u64::from(next.delay_ms),
                }
            }
            None => {
                self.end_session();
                self.push_event(Event::GaveUp);
            }
        }
    }

    /// Forgets everything that belongs to one transport connection.
    fn reset_link(&mut self) {
        self.pending.clear();
        self.transmit_length = 0;
        self.receive_length = 0;
        self.discard = 0;
        self.release = None;
        self.ping = Ping::Idle;
    }

    /// Forgets the whole session (RUN becomes false).
    fn end_session(&mut self) {
        self.reset_link();
        self.phase = Phase::Idle;
        self.subscriptions.clear();
        self.recent_qos1.clear();
        self.awaiting_release.clear();
    }

    fn start_resubscribe(&mut self, now: u64) {
        self.phase = Phase::Resubscribing { next: 0 };
        self.advance_resubscribe(now);
    }

    /// Sends the SUBSCRIBE for the current slot, or finishes with `Reconnected`.
    fn advance_resubscribe(&mut self, now: u64) {
        let Phase::Resubscribing { next } = self.phase else {
            return;
        };
        let Some((kind, index, slot)) = self.subscriptions.nth_overall(next) else {
            self.phase = Phase::Up;
            self.push_event(Event::Reconnected);
            return;
        };
        let filter = slot.filter.clone();
        let request = [SubscriptionRequest {
            filter: &filter,
            qos: slot.qos,
        }];
        let packet_id = self.peek_packet_id();
        let packet = Packet::Subscribe(Subscribe {
            packet_id,
            filters: SubscribeFilters::from_list(&request),
        });
        match self.write(&packet) {
            Ok(()) => {
                self.commit_packet_id(packet_id, PendingKind::Resubscribe { kind, index }, now)
            }
            Err(_) => self.resubscribe_answered(kind, index, None, now),
        }
    }

    /// Applies the SUBACK (`Some(code)`) or timeout (`None`) of a re-subscription.
    fn resubscribe_answered(&mut self, kind: SlotKind, index: usize, code: Option<u8>, now: u64) {
        let Phase::Resubscribing { next } = self.phase else {
            return;
        };
        let granted = code.and_then(QoS::from_bits);
        let mut following = next + 1;
        match (granted, kind) {
            (Some(qos), _) => {
                if let Some(slot) = self.subscriptions.slot_mut(kind, index) {
                    slot.qos = qos;
                }
            }
            (None, SlotKind::User) => {
                self.subscriptions.remove(kind, index);
                following = next;
            }
            // Internal slots (OTA) stay: their owner decides what a refusal means.
            (None, SlotKind::Internal) => {}
        }
        self.phase = Phase::Resubscribing { next: following };
        self.advance_resubscribe(now);
    }
}
