//! Link state: CONNECT, keep-alive, timeouts, drops, reconnect attempts, re-subscription
//! (`cloud.md` §2.1, §3).

use super::*;

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    pub(super) fn write_connect(
        &mut self,
        identity: &Identity,
        now: u64,
    ) -> Result<(), EncodeError> {
        let connection_id = ConnectionId::from_random(self.random.next_u32());
        let fields = identity.connect_fields(connection_id);
        let connect = Connect {
            clean_session: self.config.clean_session,
            keep_alive: self.config.keep_alive_s,
            client_id: identity.client_id(),
            will: None,
            username: Some(&fields.username),
            password: fields.password.as_ref().map(|password| password.as_bytes()),
        };
        let end = self.transmit_end();
        let written = Packet::Connect(connect)
            .encode(&mut self.transmit[usize::from(self.transmit_length)..end])?;
        self.transmit_length += super::offset(written);
        self.history.connect_sent(now);
        self.last_ping_or_connect = now;
        self.ping = Ping::Idle;
        Ok(())
    }

    pub(super) fn ping_deadline(&self) -> Option<u64> {
        match self.ping {
            Ping::Idle if self.config.keep_alive_s == 0 => None,
            Ping::Idle => {
                Some(self.last_ping_or_connect + 1000 * u64::from(self.config.keep_alive_s))
            }
            Ping::AwaitingFirst | Ping::AwaitingSecond => {
                Some(self.ping_sent_at + PING_RESPONSE_TIMEOUT_MS)
            }
        }
    }

    pub(super) fn run_timers(&mut self, now: u64) {
        match self.phase {
            Phase::Idle => {}
            Phase::Connecting { deadline } if now >= deadline => {
                self.end_session();
                self.push_event(Event::ConnectFailed(ConnectFailure::Timeout));
            }
            Phase::Attempting {
                backoff, deadline, ..
            } if now >= deadline => self.attempt_failed(backoff, now),
            Phase::BackingOff { backoff, until } if now >= until => {
                let bound = u64::from(self.config.command_timeout_ms).max(5_000);
                self.phase = Phase::Attempting {
                    backoff,
                    deadline: now + bound,
                    connect_sent: false,
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

    pub(super) fn run_keep_alive(&mut self, now: u64) {
        let Some(deadline) = self.ping_deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.ping {
            Ping::AwaitingSecond => self.link_failed(DropReason::KeepAliveTimeout, now),
            _ if self.transmit_free() < 2 => {}
            Ping::Idle => {
                let _ = self.write(&Packet::PingReq);
                self.last_ping_or_connect = now;
                self.ping = Ping::AwaitingFirst;
                self.ping_sent_at = now;
            }
            Ping::AwaitingFirst => {
                let _ = self.write(&Packet::PingReq);
                self.last_ping_or_connect = now;
                self.ping = Ping::AwaitingSecond;
                self.ping_sent_at = now;
            }
        }
    }

    pub(super) fn expire_pending(&mut self, now: u64) {
        while let Some(position) = self
            .pending
            .iter()
            .position(|pending| now >= pending.deadline)
        {
            let expired = self.pending.remove(position);
            let packet_id = expired.packet_id;
            match expired.kind {
                PendingKind::Publish => self.push_event(Event::PublishTimeout { packet_id }),
                PendingKind::Subscribe { kind, slot } => {
                    let still_awaited = self.awaits_slot(kind, slot);
                    self.subscriptions.abandoned(kind, slot, still_awaited);
                    self.push_event(Event::SubscribeTimeout { packet_id, kind })
                }
                PendingKind::Unsubscribe => {
                    self.push_event(Event::UnsubscribeTimeout { packet_id })
                }
                PendingKind::Resubscribe { kind, index } => {
                    self.resubscribe_answered(kind, usize::from(index), None, now)
                }
            }
        }
    }

    /// Drops the link for `reason`: what follows depends on the phase (`cloud.md` §3).
    pub(super) fn link_failed(&mut self, reason: DropReason, now: u64) {
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
                // The runner decides again at this drop's event.
                self.defer_user = false;
                let random = &mut self.random;
                let step = self
                    .config
                    .reconnect
                    .then(|| self.history.step_after_drop(now, || random.next_u32()));
                let reconnecting = matches!(step, Some(Some(_)));
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
                match step {
                    Some(Some(backoff)) => {
                        self.phase = Phase::BackingOff {
                            backoff,
                            until: self.history.attempt_time(now, backoff),
                        };
                    }
                    // A short-lived link after the last step of the schedule: give up.
                    Some(None) => {
                        self.end_session();
                        self.push_event(Event::GaveUp);
                    }
                    None => self.end_session(),
                }
            }
        }
    }

    pub(super) fn attempt_failed(&mut self, backoff: Backoff, now: u64) {
        self.push_event(Event::ReconnectAttemptFailed {
            attempt: backoff.attempt,
        });
        self.reset_link();
        match backoff.next() {
            Some(next) => {
                self.phase = Phase::BackingOff {
                    backoff: next,
                    until: self.history.attempt_time(now, next),
                }
            }
            None => {
                self.end_session();
                self.push_event(Event::GaveUp);
            }
        }
    }

    /// Forgets everything that belongs to one transport connection.
    pub(super) fn reset_link(&mut self) {
        self.pending.clear();
        // New filters whose SUBACK was awaited on this link are not subscribed.
        self.subscriptions.drop_awaited();
        self.transmit_length = 0;
        self.discard = 0;
        self.ping = Ping::Idle;
        // A held message may be half-way to the UART: it stays until released, but the link
        // its acknowledgement belonged to is gone (a QoS 1 message comes again).
        match (self.held(), self.release.as_mut()) {
            (Some(_), Some(release)) => {
                release.acknowledgement = None;
                self.receive_length = release.length();
            }
            _ => {
                self.receive_length = 0;
                self.release = None;
                self.held_since = super::NOT_HELD;
            }
        }
    }

    /// Forgets the whole session (RUN becomes false).
    pub(super) fn end_session(&mut self) {
        self.reset_link();
        self.defer_user = false;
        self.phase = Phase::Idle;
        self.subscriptions.clear();
        self.recent_qos1.clear();
        self.awaiting_release.clear();
    }

    /// A reconnect's CONNACK: the link is usable at once (`Reconnected`), and the
    /// re-subscription runs behind it, one SUBSCRIBE per SUBACK. The broker may send (replay)
    /// any number of PUBLISHes before the first SUBACK; they are delivered and held like any
    /// other (`hold.rs`), so nothing needs to be copied aside until the SUBACKs are read.
    pub(super) fn start_resubscribe(&mut self, now: u64) {
        self.push_event(Event::Reconnected);
        self.phase = Phase::Resubscribing { next: 0 };
        self.advance_resubscribe(now);
    }

    /// Sends the SUBSCRIBE for the current slot, or ends the re-subscription; stops before
    /// the first user slot while the runner deferred them.
    pub(super) fn advance_resubscribe(&mut self, now: u64) {
        let Phase::Resubscribing { next } = self.phase else {
            return;
        };
        if self.defer_user && next == self.subscriptions.internal_count() {
            self.push_event(Event::InternalSlotsRestored);
            return;
        }
        let Some((kind, index, slot)) = self.subscriptions.nth_overall(next) else {
            self.phase = Phase::Up;
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
                // A slot index, below `USER_SLOTS` (`PendingKind::Resubscribe`).
                let index = index as u8;
                self.commit_packet_id(packet_id, PendingKind::Resubscribe { kind, index }, now)
            }
            Err(_) => self.resubscribe_answered(kind, index, None, now),
        }
    }

    /// Applies the SUBACK (`Some(code)`) or timeout (`None`) of a re-subscription.
    pub(super) fn resubscribe_answered(
        &mut self,
        kind: SlotKind,
        index: usize,
        code: Option<u8>,
        now: u64,
    ) {
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
