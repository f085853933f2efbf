//! The gateway commands and the re-online as the service runs them (`commands.md` §10,
//! `cloud.md` §9): the `gateway::Gateway` state machine decides, the service acts on the
//! session it owns.
//!
//! Why the service and not the executor: every step is an MQTT packet or a reply read from
//! the link, and the re-online after an automatic reconnect runs with no command at all, in
//! the middle of the session's re-subscription (internal slots, then the sub-devices, then the
//! user slots, `cloud.md` §3 item 4). The executor only hands a checked request over and
//! waits for its outcome, like AT+TCMQTTPUB.
//!
//! Memory: the requests are written straight into the session's transmit buffer
//! (`Session::publish_with`), the replies read where the session keeps them; the result line
//! goes into the outbox. Besides the `Gateway` in `MqttShared` (the online list of 16), the
//! service keeps one SUBACK id and whether a re-online is due.

use gateway::{Action, Channel, Operation, Outcome, Subscription};
use mqtt_session::codec::{PacketId, QoS};
use mqtt_session::session::{PublishError, SlotKind, SubscribeError};

use super::{Service, Waiting};
use crate::mqtt::TOPIC_MAX;

impl Service<'_, '_> {
    /// The gateway's own product id and device name: the session's client id split where
    /// the device record's product id ends.
    fn gateway_identity(&self) -> Option<(&[u8], &[u8])> {
        let client_id = self.target.identity.as_ref()?.client_id().as_bytes();
        let split = usize::from(self.product_id_length);
        (split > 0 && split < client_id.len()).then(|| client_id.split_at(split))
    }

    /// `channel`'s topic for this gateway into `out`.
    fn gateway_topic<'t>(&self, channel: Channel, out: &'t mut [u8]) -> Option<&'t str> {
        let (product_id, device_name) = self.gateway_identity()?;
        let length = channel.write_topic(product_id, device_name, out).ok()?;
        core::str::from_utf8(&out[..length]).ok()
    }

    /// AT+TCGWBIND= / AT+TCGWONLINE= after their `OK`. `<r>` of a bind is drawn here, from
    /// the board's RNG.
    pub(super) fn start_gateway(&mut self, mut request: gateway::Request) {
        if let gateway::Request::Bind { random, .. } = &mut request {
            *random = self.shared.random().random_u32();
        }
        self.waiting = Some(Waiting::Gateway);
        let mut gateway = self.shared.gateway.borrow_mut();
        if gateway.is_busy() {
            // Only the re-online can be running (commands never overlap): it stops, keeping
            // the list, and starts again from the oldest after this command (a repeated online
            // is answered 0). A late reply to its request cannot answer the command: an
            // online of a listed sub-device is refused before anything is sent, and every
            // other command waits for another type.
            gateway.link_lost();
            self.reonline_due = true;
        }
        let timeout = self.command_timeout_ms;
        // Not busy any more, so it starts.
        let _ = gateway.begin(request, timeout);
    }

    /// A message on an internal topic: the gateway's reply or cloud time, if it is one.
    pub(super) fn gateway_message(&self, topic: &str, payload: &[u8]) {
        let Some((product_id, device_name)) = self.gateway_identity() else {
            return;
        };
        if let Some(channel) = Channel::of_topic(topic.as_bytes(), product_id, device_name) {
            self.shared
                .gateway
                .borrow_mut()
                .handle_message(channel, payload);
        }
    }

    /// The SUBACK (or its absence) of a SUBSCRIBE, if it was the gateway's.
    pub(super) fn gateway_subscribed(&mut self, packet_id: PacketId, outcome: Subscription) {
        if let Some((id, channel)) = self.gateway_subscription {
            if id == packet_id {
                self.gateway_subscription = None;
                self.shared
                    .gateway
                    .borrow_mut()
                    .subscribed(channel, outcome);
            }
        }
    }

    /// The link dropped: a waiting command fails `-103`, a re-online stops. With a list to
    /// re-online, the session keeps the user slots back after the internal ones.
    pub(super) fn gateway_link_lost(&mut self, reconnecting: bool) {
        self.gateway_subscription = None;
        self.reonline_due = false;
        let mut gateway = self.shared.gateway.borrow_mut();
        if reconnecting {
            gateway.link_lost();
            if !gateway.online().is_empty() {
                self.shared.session.borrow_mut().defer_user_resubscription();
            }
        } else {
            gateway.end_session();
        }
    }

    /// The internal slots are back after a reconnect: re-online the listed sub-devices
    /// (`cloud.md` §9.7), or go on with the user slots at once.
    pub(super) fn gateway_internal_slots_restored(&mut self, now: u64) {
        let mut gateway = self.shared.gateway.borrow_mut();
        if gateway.online().is_empty() {
            drop(gateway);
            self.shared.session.borrow_mut().resume_resubscription(now);
            return;
        }
        let timeout = self.command_timeout_ms;
        if gateway.begin_reonline(timeout).is_err() {
            // A command that started at the reconnect's CONNACK: the re-online follows it.
            self.reonline_due = true;
        }
    }

    /// Acts on the gateway's actions until it waits.
    pub(super) fn drive_gateway(&mut self, now: u64) {
        if !self.shared.session.borrow().is_running() {
            // Session end (AT+TCMQTTDISCONN, a drop without reconnect, -106): list and
            // internal slots cleared, nothing sent (`cloud.md` §9.7).
            self.gateway_subscription = None;
            self.shared.gateway.borrow_mut().end_session();
        }
        loop {
            let action = self.shared.gateway.borrow_mut().poll(now);
            match action {
                None => return,
                Some(Action::Subscribe(channel)) => self.gateway_subscribe(channel, now),
                Some(Action::Publish(channel)) => self.gateway_publish(channel, now),
                Some(Action::Finished(operation, outcome)) => {
                    self.gateway_finished(operation, outcome);
                    if core::mem::take(&mut self.reonline_due) {
                        self.gateway_internal_slots_restored(now);
                    }
                }
                Some(Action::ReonlineFinished) => {
                    self.shared.session.borrow_mut().resume_resubscription(now);
                }
            }
        }
    }

    fn gateway_subscribe(&mut self, channel: Channel, now: u64) {
        let mut topic = [0u8; TOPIC_MAX];
        let qos = if channel.qos() == 1 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let result = match self.gateway_topic(channel, &mut topic) {
            Some(filter) => {
                self.shared
                    .session
                    .borrow_mut()
                    .subscribe(SlotKind::Internal, filter, qos, now)
            }
            None => Err(SubscribeError::InvalidFilter),
        };
        let mut gateway = self.shared.gateway.borrow_mut();
        match result {
            Ok(packet_id) => self.gateway_subscription = Some((packet_id, channel)),
            Err(SubscribeError::NotConnected) => gateway.link_lost(),
            // No slot or no room: the cloud never sees it, as if it had refused.
            Err(_) => gateway.subscribed(channel, Subscription::Refused),
        }
    }

    fn gateway_publish(&mut self, channel: Channel, now: u64) {
        let mut topic = [0u8; TOPIC_MAX];
        let Some(topic) = self.gateway_topic(channel, &mut topic) else {
            return;
        };
        let gateway = self.shared.gateway.borrow();
        let result =
            self.shared
                .session
                .borrow_mut()
                .publish_with(topic, QoS::AtMostOnce, now, |room| {
                    gateway.write_payload(room).ok()
                });
        drop(gateway);
        if let Err(PublishError::NotConnected) = result {
            self.shared.gateway.borrow_mut().link_lost();
        }
        // Any other error (a transmit buffer full of a stuck link) sends nothing: the reply
        // wait ends with 202, as for a request the cloud never answered.
    }

    /// Queues `+TCGWBIND:…` / `+TCGWONLINE:…` and wakes the executor.
    fn gateway_finished(&mut self, operation: Operation, outcome: Outcome) {
        let name = match operation {
            Operation::Bind | Operation::Unbind => "TCGWBIND",
            Operation::Online | Operation::Offline => "TCGWONLINE",
        };
        let result = match outcome {
            Outcome::Ok => Ok(()),
            Outcome::Fail(code) => Err(code),
        };
        self.shared
            .outbox
            .borrow_mut()
            .push_status(crate::mqtt::Status::Result { name, result });
        self.shared.output_ready.raise();
        if self.waiting == Some(Waiting::Gateway) {
            self.waiting = None;
        }
        self.shared.done.put(match outcome {
            Outcome::Ok => crate::mqtt::Outcome::Succeeded,
            Outcome::Fail(_) => crate::mqtt::Outcome::Failed,
        });
    }
}
