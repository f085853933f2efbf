//! The executor's requests (connect, publish, subscribe, unsubscribe, disconnect) as the
//! service serves them: checked against the session, handed to it, and remembered in
//! `Waiting` until the broker's answer or a deadline completes them.

use core::future::Future;

use mqtt_session::session::{PublishError, SlotKind, SubscribeError, UnsubscribeError};
use rand_core::{CryptoRng, RngCore};

use embassy_futures::select::{select, Either};

use super::link::Link;
use super::{Opening, PendingBytes, Service, Waiting, LINK_LOST};
use crate::board::Clock;
use crate::mqtt::{Outcome, Request};

/// What serving a request left to do.
pub(super) enum Handled {
    /// Nothing: the request is with the session, or already answered.
    Served,
    /// The request needs a transport first.
    Open(Opening),
    /// AT+TCMQTTDISCONN: the link gets until `deadline` to send the DISCONNECT and close.
    TearDown { deadline: u64 },
}

impl<'s, 'a> Service<'s, 'a> {
    /// Serves one request over `link`; a connect returns the transport it needs instead.
    ///
    /// Not async: the request (432 bytes) is consumed here and never stored in a future; the
    /// one request that waits for IO (a disconnect's teardown) returns what remains to do.
    pub(super) fn handle_request<S, R>(
        &mut self,
        request: Request,
        link: &mut Option<Link<'_, S, R>>,
        now: u64,
    ) -> Handled
    where
        S: embedded_io_async::Read + embedded_io_async::Write,
        R: RngCore + CryptoRng,
    {
        match request {
            Request::Connect(connect) => return Handled::Open(self.take_connect(connect)),
            Request::Publish {
                name,
                topic,
                length,
                qos,
            } => {
                // The payload lies in the session's payload area already.
                let result = self
                    .shared
                    .session
                    .borrow_mut()
                    .publish_staged(&topic, length, qos, now);
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
            Request::Gateway(request) => self.start_gateway(request),
            Request::Disconnect => {
                if self.shared.session.borrow_mut().disconnect().is_ok() {
                    self.shared.diagnose(|diagnostics| {
                        diagnostics.last_disconnect = crate::mqtt::DisconnectCause::Requested
                    });
                }
                if link.is_some() {
                    return Handled::TearDown {
                        deadline: now + u64::from(self.command_timeout_ms),
                    };
                }
                self.disconnected();
            }
        }
        Handled::Served
    }

    /// AT+TCMQTTDISCONN's last writes: the DISCONNECT (the session's pending bytes, sent as
    /// [`Service::transmit`] sends them), then TLS `close_notify`, each write bounded by the
    /// teardown `deadline`; the caller then drops the link ([`Self::disconnected`]). Each
    /// piece's send and the deadline are raced here, piece by piece, rather than the whole
    /// of a `transmit` against the deadline: that select held `transmit`'s frame and the
    /// timer beside the loop's other awaits.
    // An `async` block, not an `async fn`: its arguments are kept once.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn send_goodbye<'f, 'l, S, R, C>(
        &'f mut self,
        link: &'f mut Option<Link<'l, S, R>>,
        clock: &'f C,
        deadline: u64,
    ) -> impl Future<Output = ()> + use<'f, 'l, 's, 'a, S, R, C>
    where
        S: embedded_io_async::Read + embedded_io_async::Write,
        R: RngCore + CryptoRng,
        C: Clock,
    {
        async move {
            let pending = PendingBytes(self.shared);
            while let Some(open) = link.as_mut() {
                let count = pending.next_record_length();
                if count == 0 {
                    let _ = select(open.close(), clock.sleep_until(deadline)).await;
                    return;
                }
                match select(open.send(&pending, count), clock.sleep_until(deadline)).await {
                    Either::First(Ok(())) => self.sent(count),
                    _ => return,
                }
            }
        }
    }

    /// The disconnect is done: its command gets its outcome.
    pub(super) fn disconnected(&mut self) {
        self.shared.host_link(false);
        self.waiting = None;
        self.shared.done.put(Outcome::Succeeded);
    }
}
