//! Back-pressure: the runner holds a delivered message until it could pass it on.
//!
//! A runner that cannot write a `+TCMQTTRCVPUB` right away (the UART is busy or slow) calls
//! [`Session::hold_message`] instead of polling on. The message then stays where it was
//! decoded, its PUBACK/PUBREC is not queued, and no further packet is decoded: received bytes
//! still fill the receive buffer, and once it is full [`Session::handle_input`] takes
//! nothing, so the runner stops reading the transport and TCP flow control reaches the
//! broker. [`Session::release_held`] ends the hold; the acknowledgement is queued by the next
//! [`Session::poll`], i.e. after the runner passed the message on (`urc.md` §2). Events that
//! need no received bytes (the keep-alive's) still come out of [`Session::poll`] meanwhile.
//!
//! While a message is held the keep-alive keeps the broker's side of the link alive: a
//! PINGREQ still leaves every keep-alive period, but no response is awaited, because the
//! PINGRESP may be queued behind the unread bytes. Operation timeouts (PUBACK, SUBACK,
//! UNSUBACK) stop as well, for the same reason; on release every such timer, and the
//! PINGRESP wait, resume with the time they had left when the hold began.

use super::{Entropy, Message, Phase, Ping, Release, Session, NOT_HELD};
use crate::codec::Packet;

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Holds the message the last [`Session::poll`] delivered (no effect without one, or when
    /// already held).
    pub fn hold_message(&mut self, now: u64) {
        if self.release.is_some() && self.held().is_none() {
            self.held_since = now;
        }
    }

    /// Since when the delivered message is held, if it is.
    pub(super) fn held(&self) -> Option<u64> {
        (self.held_since != NOT_HELD).then_some(self.held_since)
    }

    /// The held message, as it was delivered.
    pub fn held_message(&self) -> Option<Message<'_>> {
        self.held()?;
        let release = self.release.as_ref()?;
        let buffer = &self.receive[..usize::from(self.receive_length)];
        let topic = buffer.get(release.topic.range())?;
        Some(Message {
            topic: core::str::from_utf8(topic).unwrap_or_default(),
            payload: buffer.get(release.payload.range())?,
            qos: release.qos,
            retain: release.has(Release::RETAIN),
            for_user: release.has(Release::FOR_USER),
            for_internal: release.has(Release::FOR_INTERNAL),
        })
    }

    /// Whether [`Session::handle_input`] would take at least one byte now.
    pub fn can_take_input(&self) -> bool {
        matches!(self.phase, Phase::Idle | Phase::BackingOff { .. })
            || self.discard > 0
            || usize::from(self.receive_length) < RX
    }

    /// Whether a delivered message is held.
    pub fn is_holding(&self) -> bool {
        self.held().is_some()
    }

    /// Ends the hold: the acknowledgement is queued by the next [`Session::poll`], and the
    /// stopped timers resume.
    pub fn release_held(&mut self, now: u64) {
        let Some(since) = self.held() else {
            return;
        };
        self.held_since = NOT_HELD;
        let paused = now.saturating_sub(since);
        for pending in self.pending.iter_mut() {
            pending.deadline += paused;
        }
        // A wait that began before the hold keeps what it had left; a PINGREQ sent during
        // the hold is answered from now on at the earliest.
        if self.ping != Ping::Idle {
            self.ping_sent_at = if self.ping_sent_at < since {
                self.ping_sent_at + paused
            } else {
                now
            };
        }
    }

    /// While held: the next PINGREQ is due one keep-alive period after the last one.
    pub(super) fn held_ping_deadline(&self) -> Option<u64> {
        if !matches!(self.phase, Phase::Up | Phase::Resubscribing { .. })
            || self.config.keep_alive_s == 0
        {
            return None;
        }
        Some(self.last_ping_or_connect + 1000 * u64::from(self.config.keep_alive_s))
    }

    /// While held: sends the PINGREQ when due and never gives up on a response.
    pub(super) fn run_held_keep_alive(&mut self, now: u64) {
        let Some(deadline) = self.held_ping_deadline() else {
            return;
        };
        if now < deadline || self.transmit_free() < 2 {
            return;
        }
        let _ = self.write(&Packet::PingReq);
        self.last_ping_or_connect = now;
        if self.ping == Ping::Idle {
            self.ping = Ping::AwaitingFirst;
            self.ping_sent_at = now;
        }
    }
}
