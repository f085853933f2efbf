//! The executor's requests (connect, publish, subscribe, unsubscribe, disconnect) as the
//! service serves them: checked against the session, handed to it, and remembered in
//! `Waiting` until the broker's answer or a deadline completes them.

use embassy_futures::select::{select, Either};
use embedded_io_async::{Read, Write};
use mqtt_session::session::{PublishError, SlotKind, SubscribeError, UnsubscribeError};

use super::{open_transport, Service, Waiting, LINK_LOST, PLAIN_PORT, TLS_FAILED, TLS_PORT};
use crate::board::{Clock, Network};
use crate::mqtt::{Outcome, Request};

impl<S: Read + Write> Service<'_, '_, S> {
    pub(super) async fn handle_request<N, C>(
        &mut self,
        request: Request,
        network: &mut N,
        clock: &C,
    ) where
        N: Network<Stream = S>,
        C: Clock,
    {
        let now = clock.now_ms();
        match request {
            Request::Connect(connect) => {
                self.command_timeout_ms = u64::from(connect.config.command_timeout_ms);
                let deadline = now + self.command_timeout_ms;
                self.port = if connect.tls_mode == 0 {
                    PLAIN_PORT
                } else {
                    TLS_PORT
                };
                self.host = connect.host;
                let opened = if connect.tls_mode == 0 {
                    let attempt = open_transport(network, &self.host, self.port);
                    match select(attempt, clock.sleep_until(deadline)).await {
                        Either::First(result) => result,
                        Either::Second(()) => Err(202),
                    }
                } else {
                    Err(TLS_FAILED)
                };
                let stream = match opened {
                    Ok(stream) => stream,
                    Err(code) => return self.finish("TCMQTTCONN", Err(code)),
                };
                let started = self.shared.session.borrow_mut().connect(
                    connect.config,
                    connect.identity,
                    clock.now_ms(),
                );
                match started {
                    Ok(()) => {
                        self.link = Some(stream);
                        self.waiting = Some(Waiting::Connack { deadline });
                    }
                    Err(_) => self.finish("TCMQTTCONN", Err(-112)),
                }
            }
            Request::Publish {
                name,
                topic,
                payload,
                qos,
            } => {
                let result = self
                    .shared
                    .session
                    .borrow_mut()
                    .publish(&topic, &payload, qos, now);
                match result {
                    Ok(Some(packet_id)) => {
                        self.waiting = Some(Waiting::Acknowledgement { name, packet_id })
                    }
                    Ok(None) => self.waiting = Some(Waiting::Written { name }),
                    Err(PublishError::NotConnected) => self.finish(name, Err(LINK_LOST)),
                    Err(_) => self.finish(name, Err(204)),
                }
            }
            Request::Subscribe { filter, qos } => {
                let result =
                    self.shared
                        .session
                        .borrow_mut()
                        .subscribe(SlotKind::User, &filter, qos, now);
                match result {
                    Ok(packet_id) => {
                        self.waiting = Some(Waiting::Acknowledgement {
                            name: "TCMQTTSUB",
                            packet_id,
                        })
                    }
                    Err(SubscribeError::TableFull) => self.finish("TCMQTTSUB", Err(-107)),
                    Err(SubscribeError::NotConnected) => self.finish("TCMQTTSUB", Err(LINK_LOST)),
                    Err(_) => self.finish("TCMQTTSUB", Err(204)),
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
                let _ = self.shared.session.borrow_mut().disconnect();
                self.held.clear();
                // Teardown is forced: the DISCONNECT gets a bounded chance to leave.
                let _ = select(self.transmit(clock), clock.sleep_until(now + timeout)).await;
                self.link = None;
                self.waiting = None;
                self.shared.done.signal(Outcome::Succeeded);
            }
        }
    }
}
