//! Session events into URCs and command results: what the service does after feeding the
//! session input or time. Results are queued in the outbox behind the URCs of the same
//! events, so they keep the order of `urc.md` §7.
//!
//! A message for the host stops the polling: the session holds it (no acknowledgement, no
//! further decoding) until the service wrote it to the UART (`engine::output`). That
//! holds in the reconnect window too: the session reports `Reconnected` at the reconnect's
//! CONNACK (its `+TCMQTTRECONNECTED` is queued first) and re-subscribes behind it, so a
//! broker's replay ahead of the SUBACKs waits in the session and the stream, never in a copy.
//!
//! Messages on internal topics feed the OTA machine and the gateway (`gateway.rs`), which
//! also hears about its SUBACKs, drops and the end of the internal re-subscription.

use gateway::Subscription;
use mqtt_session::codec::PacketId;
use mqtt_session::session::{ConnectFailure, Event};

use super::{Service, Waiting, LINK_LOST};
use crate::mqtt::{Outcome, Status};

impl Service<'_, '_> {
    /// Acts on every queued session event; returns whether a reconnect attempt must start.
    /// Drops `link` when an event ends it.
    pub(super) fn handle_events<L>(&mut self, now: u64, link: &mut Option<L>) -> bool {
        let shared = self.shared;
        let mut session = shared.session.borrow_mut();
        let mut reconnect = false;
        let mut hold = false;
        let mut hold_internal = false;
        let mut dropped = false;
        let internal = shared.internal.get();
        while let Some(event) = session.poll(now) {
            if let Event::Message(message) = &event {
                if message.for_internal && internal {
                    // The binding session's reply: the executor reads it where it lies.
                    hold_internal = true;
                    break;
                }
                if message.for_internal {
                    shared
                        .ota
                        .message(message.topic, message.payload, &shared.data, now);
                    self.gateway_message(message.topic, message.payload);
                }
            }
            // The binding session's drops and reconnects are silent (`cloud.md` §6.5).
            let status = |status: Status<'_>| {
                if !internal {
                    shared.outbox.borrow_mut().push_status(status);
                }
            };
            match event {
                Event::Connected { .. } => {
                    shared.host_link(true);
                    shared.diagnose(|diagnostics| diagnostics.last_connack = Some(0));
                    self.complete_connack(Ok(()));
                }
                Event::ConnectRefused(refusal) => {
                    shared.diagnose(|diagnostics| {
                        diagnostics.last_connack = Some(refusal.return_code)
                    });
                    *link = None;
                    self.complete_connack(Err(refusal.sdk_code()));
                }
                Event::ConnectFailed(failure) => {
                    *link = None;
                    self.complete_connack(Err(match failure {
                        ConnectFailure::Timeout => 202,
                        ConnectFailure::ClosedBeforeConnack => -608,
                        _ => -112,
                    }));
                }
                Event::Published { packet_id } => self.complete_operation(packet_id, Ok(())),
                Event::SubscribeTimeout { packet_id, .. } => {
                    self.gateway_subscribed(packet_id, Subscription::TimedOut);
                    self.complete_operation(packet_id, Err(202))
                }
                Event::PublishTimeout { packet_id } | Event::UnsubscribeTimeout { packet_id } => {
                    self.complete_operation(packet_id, Err(202))
                }
                Event::Subscribed { packet_id, .. } => {
                    self.gateway_subscribed(packet_id, Subscription::Granted);
                    self.complete_operation(packet_id, Ok(()))
                }
                Event::Unsubscribed { packet_id } => self.complete_operation(packet_id, Ok(())),
                Event::SubscribeRefused { packet_id, .. } => {
                    self.gateway_subscribed(packet_id, Subscription::Refused);
                    self.complete_operation(packet_id, Err(-108))
                }
                Event::LinkLost { packet_id, .. } => {
                    self.complete_operation(packet_id, Err(LINK_LOST))
                }
                Event::Message(message) if message.for_user => {
                    hold = true;
                    break;
                }
                Event::Message(_) => {}
                Event::Dropped {
                    reason,
                    reconnecting,
                } => {
                    shared.host_link(false);
                    dropped = true;
                    drop(session);
                    self.gateway_link_lost(reconnecting);
                    session = shared.session.borrow_mut();
                    shared.diagnose(|diagnostics| diagnostics.last_disconnect = reason.into());
                    *link = None;
                    status(Status::LinkDropped);
                }
                Event::Reconnecting { .. } => {
                    shared.diagnose(|diagnostics| diagnostics.reconnect_attempts += 1);
                    status(Status::Reconnecting);
                    reconnect = true;
                }
                Event::ReconnectAttemptFailed { .. } => {
                    *link = None;
                }
                Event::Reconnected => {
                    shared.host_link(true);
                    shared.diagnose(|diagnostics| diagnostics.last_connack = Some(0));
                    status(Status::Reconnected);
                }
                Event::InternalSlotsRestored => {
                    drop(session);
                    self.gateway_internal_slots_restored(now);
                    session = shared.session.borrow_mut();
                }
                Event::GaveUp => {
                    shared.host_link(false);
                    *link = None;
                    status(Status::GaveUp);
                }
                _ => {}
            }
        }
        shared.ota.link_changed(dropped, session.is_running());
        if hold_internal {
            session.hold_message(now);
            shared.internal_message.raise();
        } else if hold {
            session.hold_message(now);
            shared
                .held_position
                // The outbox counts its entries in a `u16`: lossless.
                .set(Some(shared.outbox.borrow().entries()));
        } else if shared.held_position.get().is_some() && !session.is_holding() {
            // The link went down with the held message (a QoS 1 one comes again, unacknowledged).
            shared.held_position.set(None);
            shared.urc_written.raise();
        }
        if shared.has_output() {
            shared.output_ready.raise();
        }
        reconnect
    }

    pub(super) fn complete_connack(&mut self, result: Result<(), i32>) {
        if matches!(self.waiting, Some(Waiting::Connack { .. })) {
            self.finish("TCMQTTCONN", result);
        }
    }

    pub(super) fn complete_operation(&mut self, id: PacketId, result: Result<(), i32>) {
        if let Some(Waiting::Acknowledgement { name, packet_id }) = self.waiting {
            if packet_id == id {
                self.finish(name, result);
            }
        }
    }

    /// Queues the result line of the waiting command and wakes the executor.
    /// An empty `name` queues no line (the internal OTA subscription and version report:
    /// AT+TCOTASET writes its own result from the outcome).
    pub(super) fn finish(&mut self, name: &str, result: Result<(), i32>) {
        self.waiting = None;
        let outcome = match result {
            Ok(()) => Outcome::Succeeded,
            Err(value) => {
                self.shared.last_failure.set(value);
                Outcome::Failed
            }
        };
        if !name.is_empty() && !self.shared.internal.get() {
            self.shared
                .outbox
                .borrow_mut()
                .push_status(Status::Result { name, result });
            self.shared.output_ready.raise();
        }
        self.shared.done.put(outcome);
    }
}
