//! The service loop: owns the transport, feeds the session, turns its events into URCs and
//! command results, and serves the executor's requests.
//!
//! Each turn: handle every pending session event, write what the session wants sent, then
//! wait for whichever comes first: received bytes, a request, or the next deadline (the
//! session's timers or the AT+TCMQTTCONN budget). The transport's `read` is dropped when
//! another branch wins, which is why [`Network::Stream`] reads must be cancel-safe.
//!
//! Transports ([`link`]): TLS mode 0 is plain TCP to port 1883, mode 1 TLS-PSK to 8883, mode 2
//! the board's certificate TLS to 8883 (`-702` on boards without it). The TLS receive buffer
//! belongs to [`serve`]'s future (a static task on a device, so no heap and no stack spike)
//! and is lent to one link at a time: the link lives in [`serve`]'s loop, [`link::open`]
//! fills it (the TLS handshake runs where the connection lies) and [`Service::run`] serves it
//! until the next one must be opened; the link is dropped at the end of the turn, which ends
//! its borrow of the buffer before it is lent again.
//!
//! Sizes (`docs/performance.md`, "Engine RAM"): the loop's future is the TLS receive buffer,
//! the link, the [`Service`] and the larger of opening a link ([`link::open`], awaited in the
//! loop itself) and [`Service::run`], which are kept about equal: each holds references and
//! one awaited record, read or timer, never a copy of bytes that lie elsewhere. There is no
//! transmit buffer: the session's transmit bytes are sent from where they lie, one piece at a
//! time ([`Service::transmit`]); the handshake's messages, secrets and transcript live in the
//! idle TLS receive buffer.

mod events;
mod gateway;
mod link;
mod opening;
mod requests;

use core::cell::RefCell;
use core::convert::Infallible;
use core::future::Future;

use embassy_futures::select::{select, select4, Either, Either4};
use mqtt_session::codec::PacketId;
use mqtt_session::SessionConfig;

use super::{MqttShared, SharedRandom};
use crate::board::{Clock, Network};
use link::{Link, Target};
use requests::Handled;

/// Port of TLS mode 0 (plain TCP).
pub const PLAIN_PORT: u16 = 1883;
/// Port of TLS modes 1 and 2.
pub const TLS_PORT: u16 = 8883;
/// TLS receive buffer: one whole server record with minimal CBC padding (5 header + 16 IV +
/// 16 384 data + 20 MAC + 12 padding, `tls-psk` README).
pub const TLS_READ_BUFFER: usize = 16_437;
// The handshake writes its ClientHello (65 bytes and a 64-byte server name) in front of its
// state in the receive buffer.
const _: () = assert!(TLS_READ_BUFFER >= tls_psk::HANDSHAKE_STATE_LENGTH + 65 + super::HOST_MAX);
/// Bytes of the session's transmit buffer one link write carries: with TLS, one record's
/// plaintext. The records on the wire have always had this size; it no longer sizes a
/// buffer (the record is sealed and written in pieces from the session's bytes).
const TRANSMIT_PIECE: usize = 256;
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
    /// AT+TCGWBIND / AT+TCGWONLINE: done when the gateway job finishes.
    Gateway,
}

/// Why [`Service::run`] gave up its link: a transport must be opened first.
///
/// Small on purpose: it lives in `serve`'s state for good. A connect request's destination and
/// identity go into the [`Service`] at once (a reconnect needs them anyway), so only its session
/// parameters ride here.
enum Opening {
    /// AT+TCMQTTCONN: its cmdtimeout bounds the transport and then the CONNACK.
    Connect(SessionConfig),
    /// The session started a reconnect attempt.
    Reconnect,
}

/// The session's pending transmit bytes, lent to the link one piece at a time.
struct PendingBytes<'s, 'a>(&'s MqttShared<'a>);

impl PendingBytes<'_, '_> {
    /// How many of the pending bytes the next write carries (with TLS, one record's
    /// plaintext); 0 when nothing is pending.
    fn next_record_length(&self) -> usize {
        self.0.session.borrow().transmit().len().min(TRANSMIT_PIECE)
    }
}

impl tls_psk::Plaintext for PendingBytes<'_, '_> {
    fn lend<T>(&self, reader: impl FnOnce(&[u8]) -> T) -> T {
        reader(self.0.session.borrow().transmit())
    }
}

/// The link type of a board's network.
type BoardLink<'buffer, 's, 'a, N> = Link<'buffer, <N as Network>::Stream, SharedRandom<'s, 'a>>;

/// Loop state that is not the session's.
struct Service<'s, 'a> {
    shared: &'s MqttShared<'a>,
    waiting: Option<Waiting>,
    /// Where and as whom the last connect went: reconnects repeat it.
    target: Target,
    /// cmdtimeout of the last connect: bounds the teardown of AT+TCMQTTDISCONN.
    command_timeout_ms: u32,
    /// Where the product id ends in the identity's client id (`<pid><dn>`).
    product_id_length: u8,
    /// The gateway's internal SUBSCRIBE awaiting its SUBACK.
    gateway_subscription: Option<(PacketId, ::gateway::Channel)>,
    /// The re-online is due (again) once the running gateway command ends.
    reonline_due: bool,
}

/// Runs the MQTT service until the UART fails.
// The opening of a link runs here, not in a method of its own: a future nested beside
// `Service::run` would store its arguments twice. The client files stay borrowed (shared)
// across the handshake so that mode 2 needs no second 8 KiB copy; the executor only writes
// them with `try_borrow_mut` before a connect request, when no link is being opened, and
// fails the connect with -702 otherwise. The network is borrowed for the opening only.
// An `async` block, not an `async fn`: an `async fn` keeps each argument twice in its future
// (the argument and the local it is moved into), for as long as the service runs.
#[allow(clippy::await_holding_refcell_ref)]
#[allow(clippy::manual_async_fn)]
pub(crate) fn serve<'f, 'a, 'n, N: Network, C: Clock>(
    shared: &'f MqttShared<'a>,
    network: &'f RefCell<&'n mut N>,
    clock: &'f C,
) -> impl Future<Output = Infallible> + use<'f, 'a, 'n, N, C> {
    async move {
        let mut read_buffer = [0u8; TLS_READ_BUFFER];
        let mut service = Service {
            shared,
            waiting: None,
            target: Target {
                host: heapless::Vec::new(),
                tls_mode: 0,
                identity: None,
            },
            command_timeout_ms: 5_000,
            product_id_length: 0,
            gateway_subscription: None,
            reonline_due: false,
        };
        let mut opening = None;
        loop {
            // The link lives here and is lent to `link::open` and `run`: moved, it would be stored
            // twice.
            let mut link = None;
            // Nothing of the opening is kept here across its await (the opening itself is read
            // again afterwards): this state is beside the larger of the opening and `run`.
            if let Some(deadline) = opening
                .as_ref()
                .map(|opening| service.start_opening(opening, clock.now_ms()))
            {
                let mut buffers = Some(&mut read_buffer);
                #[cfg(feature = "certificates")]
                let files = shared.client_files.borrow();
                #[cfg(feature = "certificates")]
                let client = crate::board::ClientCertificate {
                    certificate: &files.certificate,
                    key: &files.key,
                };
                #[cfg(feature = "certificates")]
                let client = Some(&client);
                // Without certificates a mode-2 link fails with -702, as on a board without them.
                #[cfg(not(feature = "certificates"))]
                let client = None;
                // The OTA download shares the network; it opens its connection only while the
                // link is up, so the two meet only when a drop comes during that connect: this
                // attempt then fails like a refused TCP connection.
                let mut board = network.try_borrow_mut();
                let opened = match &mut board {
                    Ok(board) => {
                        let attempt = link::open(
                            &mut ***board,
                            &service.target,
                            client,
                            move || SharedRandom(shared),
                            &mut buffers,
                            &mut link,
                        );
                        match select(attempt, clock.sleep_until(deadline)).await {
                            Either::First(result) => result,
                            Either::Second(()) => Err(202),
                        }
                    }
                    Err(_) => Err(-603),
                };
                drop(board);
                #[cfg(feature = "certificates")]
                drop(files);
                service.opened(opening.as_ref(), opened, clock.now_ms(), &mut link);
            }
            opening = Some(service.run::<N, C>(&mut link, clock).await);
        }
    }
}

impl<'s, 'a> Service<'s, 'a> {
    /// Serves requests and the session over `link` (or without one) until a transport must
    /// be opened.
    ///
    /// Back-pressure (`docs/decisions.md`, "Nothing lost"): a received message stays held in
    /// the session until the URC writer streamed it to the UART, and the session decodes
    /// nothing more meanwhile; the read buffer is offered again each turn, and the link is
    /// read only once the session took all of it, so a full receive buffer stops the reading
    /// and TCP pushes back to the broker. Timers and requests are served all along.
    // An `async` block, not an `async fn`: its arguments are kept once (see `serve`).
    #[allow(clippy::manual_async_fn)]
    fn run<'f, 'l, N: Network, C: Clock>(
        &'f mut self,
        link: &'f mut Option<BoardLink<'l, 's, 'a, N>>,
        clock: &'f C,
    ) -> impl Future<Output = Opening> + use<'f, 'l, 's, 'a, N, C> {
        async move {
            loop {
                let now = clock.now_ms();
                // Received bytes are parsed where the link keeps them (the TLS plaintext, or the
                // idle TLS receive buffer in plain TCP): the service has no read buffer.
                if let Some(open) = link.as_mut() {
                    let received = open.received();
                    if !received.is_empty() {
                        let taken = self.shared.session.borrow_mut().handle_input(received);
                        open.consume(taken);
                    }
                }
                let reconnect = self.handle_events(now, link);
                self.drive_gateway(now);
                if let Some(Waiting::Connack { deadline }) = self.waiting {
                    if now >= deadline {
                        // The budget of AT+TCMQTTCONN ran out: cancel the attempt entirely.
                        let _ = self.shared.session.borrow_mut().disconnect();
                        *link = None;
                        self.finish("TCMQTTCONN", Err(202));
                        continue;
                    }
                }
                if reconnect {
                    return Opening::Reconnect;
                }
                if !self.transmit(link, clock).await {
                    continue;
                }
                // The events may have made room for the rest of the last read: offer it before
                // waiting (the read branch stays off until the session took all of it).
                let unparsed = link
                    .as_ref()
                    .is_some_and(|open| !open.received().is_empty());
                if unparsed && self.shared.session.borrow().can_take_input() {
                    continue;
                }
                // Each branch keeps what it needs in itself, nothing is kept beside them.
                let deadline = self.deadline();
                let reading = &mut *link;
                let read = async move {
                    match (reading, unparsed) {
                        (Some(link), false) => link.fill().await.unwrap_or(0),
                        // Nothing to read from, or the session must make room first.
                        _ => core::future::pending().await,
                    }
                };
                let wait = async move {
                    match deadline {
                        Some(deadline) => clock.sleep_until(deadline).await,
                        None => core::future::pending().await,
                    }
                };
                // Decided before any await: the request is not kept during one (not even as the
                // storage of a named event).
                let teardown = match select4(
                    read,
                    self.shared.requests.take(),
                    wait,
                    self.shared.service_wake.wait(),
                )
                .await
                {
                    Either4::First(0) => {
                        *link = None;
                        self.shared
                            .session
                            .borrow_mut()
                            .transport_closed(clock.now_ms());
                        None
                    }
                    Either4::First(count) => {
                        self.shared
                            .diagnose(|diagnostics| diagnostics.bytes_in += count as u64);
                        None
                    }
                    Either4::Second(request) => {
                        match self.handle_request(request, link, clock.now_ms()) {
                            Handled::Served => None,
                            Handled::Open(opening) => return opening,
                            Handled::TearDown { deadline } => Some(deadline),
                        }
                    }
                    // A deadline, or the writer released the held message: go round.
                    Either4::Third(()) | Either4::Fourth(()) => None,
                };
                if let Some(deadline) = teardown {
                    // AT+TCMQTTDISCONN: teardown is forced, the DISCONNECT (and TLS close_notify)
                    // get until `deadline` to leave.
                    self.send_goodbye(link, clock, deadline).await;
                    *link = None;
                    self.disconnected();
                }
            }
        }
    }

    /// The first `count` pending bytes were written: the session drops them.
    fn sent(&self, count: usize) {
        self.shared.session.borrow_mut().mark_transmitted(count);
        self.shared
            .diagnose(|diagnostics| diagnostics.bytes_out += count as u64);
    }

    /// The earliest moment the loop must wake without input.
    fn deadline(&self) -> Option<u64> {
        let session = self.shared.session.borrow().next_deadline();
        let connack = match self.waiting {
            Some(Waiting::Connack { deadline }) => Some(deadline),
            _ => None,
        };
        let gateway = self.shared.gateway.borrow().next_deadline();
        [session, connack, gateway].into_iter().flatten().min()
    }

    /// Writes the session's pending bytes; false if the link failed (the loop goes round).
    ///
    /// Each piece of [`TRANSMIT_PIECE`] bytes (with TLS one record) is sent from where it lies
    /// in the session's transmit buffer: the link borrows the session for a moment per piece
    /// of the record it seals and writes ([`PendingBytes`]), never across the transport's
    /// awaits, as the executor and the URC writer use the session meanwhile. Why the bytes stay
    /// the same until the send returned: only this loop takes bytes off the front of the
    /// transmit buffer (`mark_transmitted`, and a drop or disconnect clearing it, which come
    /// from the session calls of this loop), and it does neither while it awaits the send; the
    /// others only append behind the pending bytes (the OTA reports and subscriptions) or fill
    /// the lent payload area at the buffer's end, which the pending bytes never reach. Were it
    /// broken anyway, the send would fail (too few bytes lent) or the broker would refuse the
    /// record's MAC: the link drops, no byte is read out of bounds.
    // An `async` block, not an `async fn`: its arguments are kept once (see `serve`).
    #[allow(clippy::manual_async_fn)]
    fn transmit<'f, 'l, S, R, C>(
        &'f mut self,
        link: &'f mut Option<Link<'l, S, R>>,
        clock: &'f C,
    ) -> impl Future<Output = bool> + use<'f, 'l, 's, 'a, S, R, C>
    where
        S: embedded_io_async::Read + embedded_io_async::Write,
        R: rand_core::RngCore + rand_core::CryptoRng,
        C: Clock,
    {
        async move {
            let Some(stream) = link else {
                return true;
            };
            let pending = PendingBytes(self.shared);
            loop {
                let count = pending.next_record_length();
                if count == 0 {
                    break;
                }
                if stream.send(&pending, count).await.is_err() {
                    *link = None;
                    self.shared
                        .session
                        .borrow_mut()
                        .transport_closed(clock.now_ms());
                    return false;
                }
                self.sent(count);
            }
            if let Some(Waiting::Written { name }) = self.waiting {
                self.finish(name, Ok(()));
            }
            true
        }
    }
}
