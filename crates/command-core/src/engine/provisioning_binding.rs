//! The provisioning runner's binding session (`cloud.md` §6.5): after the dynamic
//! registration that comes first when only a product record is stored (the runner's
//! `Action::Register`, AT+TCDEVREG's [`Executor::register`]), the connect, the subscription and the token
//! PUBLISH as requests to the MQTT service, whose outcomes come back through the service's
//! mailbox while the runner waits (`provisioning_jobs::provisioning_input`), and the bind
//! reply, held in the session until the machine has read it.
//!
//! One request at a time: a new one first waits for the outcome of the one in flight (at
//! most the 5 s cmdtimeout), so an outcome always belongs to the request the runner
//! remembers.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use mqtt_session::codec::QoS;
use mqtt_session::session::SlotKind;
use provisioning::MqttEvent;

use super::provisioning_jobs::identity;
use super::Executor;
use crate::board::{Clock, Network, Wifi};
use crate::mqtt::{Outcome, Request, TOPIC_MAX};
use crate::state::{MqttParameters, RamState};

/// The binding session's request the service is serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Connect,
    Subscribe,
    Publish,
}

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Hands the held message of the binding session to the machine, then releases it.
    pub(super) fn bind_message(&mut self, state: &RamState, now: u64) {
        let mut session = self.mqtt.session.borrow_mut();
        if let (Some(message), Some(identity)) = (session.held_message(), identity(state)) {
            let event = MqttEvent::Message {
                topic: message.topic.as_bytes(),
                payload: message.payload,
            };
            self.provisioning.machine.mqtt(&identity, event, now);
        }
        session.release_held(now);
        drop(session);
        self.mqtt.service_wake.raise();
    }

    pub(super) fn operation_ended(
        &mut self,
        state: &RamState,
        operation: Operation,
        outcome: Outcome,
        now: u64,
    ) {
        let Some(identity) = identity(state) else {
            return;
        };
        let succeeded = outcome == Outcome::Succeeded;
        let machine = &mut self.provisioning.machine;
        let events: &[MqttEvent<'_>] = match (operation, succeeded) {
            (Operation::Connect, true) => &[MqttEvent::Connected],
            (Operation::Connect, false) => {
                let code = self.mqtt.last_failure.get();
                machine.mqtt(&identity, MqttEvent::ConnectFailed(code), now);
                &[]
            }
            (Operation::Subscribe, true) => &[MqttEvent::Subscribed],
            (Operation::Subscribe, false) => &[MqttEvent::SubscribeFailed],
            (Operation::Publish, true) => &[MqttEvent::Puback],
            // No PUBACK: the machine's own 5 s wait, begun at the write, gives -104.
            (Operation::Publish, false) => &[],
        };
        for event in events {
            machine.mqtt(&identity, *event, now);
        }
    }

    /// Subscribes the bind reply topic the machine wrote at the front of the data buffer.
    pub(super) async fn binding_subscribe(&mut self, state: &RamState, length: usize) {
        let filter = topic(&self.mqtt.data.borrow()[..length]);
        self.binding_request(
            state,
            Operation::Subscribe,
            |filter| Request::Subscribe {
                filter,
                qos: QoS::AtMostOnce,
                kind: SlotKind::Internal,
            },
            filter,
        )
        .await;
    }

    /// Publishes the token: the topic, then the payload, at the front of the data buffer; the
    /// payload goes where every publish payload goes, the session's payload area (without
    /// one, the publish fails like one that does not fit).
    pub(super) async fn binding_publish(
        &mut self,
        state: &RamState,
        topic_length: usize,
        payload_length: usize,
    ) {
        let name = {
            let data = self.mqtt.data.borrow();
            let mut session = self.mqtt.session.borrow_mut();
            let payload = &data[topic_length..topic_length + payload_length];
            match session.payload_area(payload_length) {
                Some(area) => {
                    area.copy_from_slice(payload);
                    topic(&data[..topic_length])
                }
                None => None,
            }
        };
        self.binding_request(
            state,
            Operation::Publish,
            |topic| Request::Publish {
                name: "",
                topic,
                length: payload_length,
                qos: QoS::AtLeastOnce,
            },
            name,
        )
        .await;
    }

    /// Waits until the service ended the binding session's request in flight, if any.
    pub(super) async fn settle_operation(&mut self) {
        if self.provisioning.operation.take().is_some() {
            self.outcome().await;
        }
    }

    /// Hands one request of the binding session to the service; its outcome wakes the
    /// runner. A topic that does not fit a request fails the operation at once.
    async fn binding_request(
        &mut self,
        state: &RamState,
        operation: Operation,
        request: impl FnOnce(heapless::String<TOPIC_MAX>) -> Request,
        topic: Option<heapless::String<TOPIC_MAX>>,
    ) {
        self.settle_operation().await;
        match topic {
            Some(topic) => {
                self.send(request(topic));
                self.provisioning.operation = Some(operation);
                if operation == Operation::Publish {
                    // The service writes it at once (its transmit buffer takes any PUBLISH
                    // of the machine); the PUBACK wait starts now.
                    if let Some(identity) = identity(state) {
                        let now = self.clock.now_ms();
                        let event = MqttEvent::PublishWritten;
                        self.provisioning.machine.mqtt(&identity, event, now);
                    }
                }
            }
            None => {
                self.mqtt.done.clear();
                self.mqtt.last_failure.set(204);
                self.mqtt.done.put(Outcome::Failed);
                self.provisioning.operation = Some(operation);
            }
        }
    }

    /// Step 2 of `cloud.md` §6.5: the device record's identity, cmdtimeout 5000, keep-alive
    /// 240, clean session, reconnect, AT+TCMQTTSRV honoured.
    pub(super) async fn binding_connect(&mut self, state: &mut RamState) {
        self.settle_operation().await;
        let tls_mode = state
            .settings
            .device
            .as_ref()
            .map_or(1, |device| device.tls_mode);
        let parameters = MqttParameters {
            tls_mode,
            ..MqttParameters::default()
        };
        self.mqtt.internal.set(true);
        match self.connect_request(state, parameters).await {
            Ok(request) => {
                self.send(Request::Connect(request));
                self.provisioning.operation = Some(Operation::Connect);
            }
            Err(code) => {
                let now = self.clock.now_ms();
                if let Some(identity) = identity(state) {
                    let event = MqttEvent::ConnectFailed(code);
                    self.provisioning.machine.mqtt(&identity, event, now);
                }
            }
        }
    }
}

/// A topic the machine wrote, as a request's topic.
fn topic(bytes: &[u8]) -> Option<heapless::String<TOPIC_MAX>> {
    let text = core::str::from_utf8(bytes).ok()?;
    heapless::String::try_from(text).ok()
}
