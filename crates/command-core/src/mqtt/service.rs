//! The service loop: owns the transport, feeds the session, turns its events into URCs and
//! command results, and serves the executor's requests.
//!
//! Each turn: handle every pending session event, write what the session wants sent, then
//! wait for whichever comes first: received bytes, a request, or the next deadline (the
//! session's timers or the AT+TCMQTTCONN budget). The transport's `read` is dropped when
//! another branch wins, which is why [`Network::Stream`] reads must be cancel-safe.
//!
//! Transports: TLS mode 0 is plain TCP to port 1883. Modes 1 and 2 need the TLS transport
//! that the `tls-psk` issue adds in [`open_transport`]; until then they fail at their TLS
//! stage (`FAIL,-703`), never with a fake success.

mod events;
mod requests;

use embassy_futures::select::{select, select3, Either, Either3};
use embedded_io_async::{Read, Write};
use mqtt_session::codec::PacketId;

use super::{MqttShared, HOST_MAX};
use crate::board::{Clock, Network};

/// Port of TLS mode 0 (plain TCP).
pub const PLAIN_PORT: u16 = 1883;
/// Port of TLS modes 1 and 2.
pub const TLS_PORT: u16 = 8883;
/// `+TCMQTTCONN:FAIL` code when the TLS stage fails (`errors.md` §3).
const TLS_FAILED: i32 = -703;
/// The link was lost while a command waited on it.
const LINK_LOST: i32 = -103;

/// What the command waiting on the service is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// CONNACK of AT+TCMQTTCONN, until the deadline measured from its `OK`.
    Connack { deadline: u64 },
    /// An acknowledgement of this packet id.
    Acknowledgement {
        name: &'static str,
        packet_id: PacketId,
    },
    /// A QoS 0 publish: done once the transmit buffer has been written.
    Written { name: &'static str },
}

/// Loop state that is not the session's.
struct Service<'s, 'a, S> {
    shared: &'s MqttShared<'a>,
    link: Option<S>,
    waiting: Option<Waiting>,
    host: heapless::Vec<u8, HOST_MAX>,
    port: u16,
    /// cmdtimeout of the last connect: bounds the teardown of AT+TCMQTTDISCONN.
    command_timeout_ms: u64,
    /// Messages received after a reconnect's CONNACK, until `+TCMQTTRECONNECTED`.
    held: super::Outbox<{ super::OUTBOX_BYTES }>,
}

/// Runs the MQTT service forever.
pub async fn serve<N: Network, C: Clock>(shared: &MqttShared<'_>, network: &mut N, clock: &C) {
    let mut service = Service {
        shared,
        link: None,
        waiting: None,
        host: heapless::Vec::new(),
        port: PLAIN_PORT,
        command_timeout_ms: 5_000,
        held: super::Outbox::new(),
    };
    let mut input = [0u8; 512];
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        let now = clock.now_ms();
        if start < end {
            start += shared.session.borrow_mut().handle_input(&input[start..end]);
        }
        let reconnect = service.handle_events(now);
        if let Some(Waiting::Connack { deadline }) = service.waiting {
            if now >= deadline {
                // The budget of AT+TCMQTTCONN ran out: cancel the attempt entirely.
                let _ = shared.session.borrow_mut().disconnect();
                service.link = None;
                service.finish("TCMQTTCONN", Err(202));
                continue;
            }
        }
        if reconnect {
            service.reconnect(network, clock).await;
            continue;
        }
        if !service.transmit(clock).await {
            continue;
        }
        let deadline = service.deadline();
        let read = async {
            match (&mut service.link, start < end) {
                (Some(link), false) => link.read(&mut input).await.unwrap_or(0),
                // Nothing to read from, or the session must make room first.
                _ => core::future::pending().await,
            }
        };
        let wait = async {
            match deadline {
                Some(deadline) => clock.sleep_until(deadline).await,
                None => core::future::pending().await,
            }
        };
        match select3(read, shared.requests.receive(), wait).await {
            Either3::First(0) => {
                service.link = None;
                shared.session.borrow_mut().transport_closed(clock.now_ms());
            }
            Either3::First(count) => (start, end) = (0, count),
            Either3::Second(request) => service.handle_request(request, network, clock).await,
            Either3::Third(()) => {}
        }
    }
}

impl<S: Read + Write> Service<'_, '_, S> {
    /// The earliest moment the loop must wake without input.
    fn deadline(&self) -> Option<u64> {
        let session = self.shared.session.borrow().next_deadline();
        let connack = match self.waiting {
            Some(Waiting::Connack { deadline }) => Some(deadline),
            _ => None,
        };
        match (session, connack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Writes the session's pending bytes; false if the link failed (the loop goes round).
    async fn transmit<C: Clock>(&mut self, clock: &C) -> bool {
        let Some(link) = &mut self.link else {
            return true;
        };
        let mut chunk = [0u8; 256];
        loop {
            let count = {
                let session = self.shared.session.borrow();
                let pending = session.transmit();
                let count = pending.len().min(chunk.len());
                chunk[..count].copy_from_slice(&pending[..count]);
                count
            };
            if count == 0 {
                break;
            }
            if link.write_all(&chunk[..count]).await.is_err() || link.flush().await.is_err() {
                self.link = None;
                self.shared
                    .session
                    .borrow_mut()
                    .transport_closed(clock.now_ms());
                return false;
            }
            self.shared.session.borrow_mut().mark_transmitted(count);
        }
        if let Some(Waiting::Written { name }) = self.waiting {
            self.finish(name, Ok(()));
        }
        true
    }

    /// Opens the transport of a reconnect attempt, bounded by the attempt's deadline.
    async fn reconnect<N, C>(&mut self, network: &mut N, clock: &C)
    where
        N: Network<Stream = S>,
        C: Clock,
    {
        let deadline = self.shared.session.borrow().next_deadline();
        let deadline = deadline.unwrap_or(clock.now_ms() + 5_000);
        let opened = select(
            open_transport(network, &self.host, self.port),
            clock.sleep_until(deadline),
        )
        .await;
        let now = clock.now_ms();
        let mut session = self.shared.session.borrow_mut();
        match opened {
            Either::First(Ok(stream)) => {
                self.link = Some(stream);
                session.transport_opened(now);
            }
            _ => session.transport_closed(now),
        }
    }
}

/// The transport hook: plain TCP for mode 0. The TLS issue wraps the stream for modes 1/2.
async fn open_transport<N: Network>(
    network: &mut N,
    host: &[u8],
    port: u16,
) -> Result<N::Stream, i32> {
    network
        .connect(host, port)
        .await
        .map_err(|error| error.code())
}
