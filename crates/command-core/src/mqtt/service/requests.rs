//! The executor's requests (connect, publish, subscribe, unsubscribe, disconnect) as the
//! service serves them: checked against the session, handed to it, and remembered in
//! `Waiting` until the broker's answer or a deadline completes them.

use embassy_futures::select::select;
use mqtt_session::session::{PublishError, SlotKind, SubscribeError, UnsubscribeError};
use rand_core::{CryptoRng, RngCore};

use super::link::Link;
use super::{Opening, Service, Waiting, LINK_LOST};
use crate::board::Clock;
use crate::mqtt::{Outcome, Payload, Request};

impl Service<'_, '_> {
    /// Serves one request over `link`; a connect returns the transport it needs instead.
    pub(super) async fn handle_request<S, R, C>(
        &mut self,
        request: Request,
        link: &mut Option<Link<'_, S, R>>,
        clock: &C,
    ) -> Option<Opening>
    where
        S: embedded_io_async::Read + embedded_io_async::Write,
        R: RngCore + CryptoRng,
        C: Clock,
    {
        let now = clock.now_ms();
        match request {
            Request::Connect(connect) => return Some(Opening::Connect(connect)),
            Request::Publish {
                name,
                topic,
                payload,
                qos,
            } => {
                let data = self.shared.data.borrow();
                let payload = match &payload {
                    Payload::Line(line) => &line[..],
                    Payload::Data(length) => data.get(..*length).unwrap_or_default(),
                };
                let result = self
                    .shared
                    .session
                    .borrow_mut()
                    .publish(&topic, payload, qos, now);
                drop(data);
                match result {
                    Ok(Some(packet_id)) => {
                        self.waiting = Some(Waiting::Acknowledgement { name, packet_id })
                    }
                    Ok(None) => self.waiting = Some(Waiting::Written { name }),
                    Err(PublishError::NotConnected) => self.finish(name, Err(LINK_LOST)),
                    Err(_) => self.finish(name, Err(204)),
                }
            }
            Request::Subscribe { filter, qos, kind } => {
                let name = match kind {
                    SlotKind::User => "TCMQTTSUB",
                    // The internal slot's requester writes its own result line.
                    _ => "",
                };
                let result = self
                    .shared
                    .session
                    .borrow_mut()
                    .subscribe(kind, &filter, qos, now);
                match result {
                    Ok(packet_id) => {
                        self.waiting = Some(Waiting::Acknowledgement { name, packet_id })
                    }
                    Err(SubscribeError::TableFull) => self.finish(name, Err(-107)),
                    Err(SubscribeError::NotConnected) => self.finish(name, Err(LINK_LOST)),
                    Err(_) => self.finish(name, Err(204)),
                }
            }
            Request::Unsubscribe { filter } => {
                let result = match core::str::from_utf8(&filter) {
                    Ok(filter) => {
                        self.shared
                            .session
                            .borrow_mut()
                            .unsubscribe(SlotKind::User, filter, now)
                    }
                    Err(_) => Err(UnsubscribeError::NotSubscribed),
                };
                match result {
                    Ok(Some(packet_id)) => {
                        self.waiting = Some(Waiting::Acknowledgement {
                            name: "TCMQTTUNSUB",
                            packet_id,
                        })
                    }
                    Ok(None) => self.finish("TCMQTTUNSUB", Ok(())),
                    Err(UnsubscribeError::NotSubscribed) => self.finish("TCMQTTUNSUB", Err(-121)),
                    Err(UnsubscribeError::NotConnected) => {
                        self.finish("TCMQTTUNSUB", Err(LINK_LOST))
                    }
                    Err(_) => self.finish("TCMQTTUNSUB", Err(204)),
                }
            }
            Request::Disconnect => {
                let timeout = self.command_timeout_ms;
                if self.shared.session.borrow_mut().disconnect().is_ok() {
                    self.shared.diagnose(|diagnostics| {
                        diagnostics.last_disconnect = crate::mqtt::DisconnectCause::Requested
                    });
                }
                self.shared.discard_window();
                // Teardown is forced: the DISCONNECT (and TLS close_notify) gets a bounded
                // chance to leave.
                let teardown = async {
                    self.transmit(link, clock).await;
                    if let Some(open) = link.take() {
                        open.close().await;
                    }
                };
                let _ = select(teardown, clock.sleep_until(now + timeout)).await;
                *link = None;
                self.waiting = None;
                self.shared.done.put(Outcome::Succeeded);
            }
        }
        None
    }
}
