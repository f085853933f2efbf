//! The MQTT service: the loop that owns the broker connection and the `mqtt_session::Session`.
//!
//! Why a separate loop: the link must be read, kept alive and reconnected while the executor
//! waits for the next command line, and a command's outcome (PUBACK, SUBACK, a drop) arrives
//! whenever the broker decides. The executor therefore never touches the socket: it sends a
//! [`Request`] through a one-slot channel and waits on a signal for the [`Outcome`], and the
//! service writes the command's result line into the same [`Outbox`] as the URCs, so that
//! results and URCs keep the order of the events that caused them (`urc.md` §7).
//!
//! The session lives in a `RefCell` shared with the executor, which reads RUN and CONN from
//! it (`is_running()`, `is_usable()`) at dispatch time: the gates are never a second copy of
//! the session's state. Nobody holds a borrow across an `await`.

mod diagnostics;
mod outbox;
mod random;
mod service;

pub use diagnostics::{DiagnosticReport, Diagnostics, DisconnectCause};
pub use outbox::{
    Busy, Outbox, Popped, Status, BUSY_ROOM, OUTBOX_BYTES, RENDERED_MAX, STATUS_RESERVE, URC_MAX,
};
pub(crate) use random::SharedRandom;
pub use random::TlsRandom;
pub(crate) use service::serve;
pub use service::TLS_READ_BUFFER;

use core::cell::{Cell, RefCell};

use mqtt_session::codec::QoS;
use mqtt_session::session::{Entropy, SlotKind};
use mqtt_session::tencent::Identity;
use mqtt_session::{DefaultSession, SessionConfig};

use crate::board::Random;
use crate::state::Gates;
use crate::wake::{Flag, Mailbox};

/// Longest broker host: an AT+TCMQTTSRV value or `<pid>.<region domain>`.
pub const HOST_MAX: usize = 64;
/// Longest topic or filter the AT commands accept.
pub const TOPIC_MAX: usize = 128;
/// Longest AT+TCMQTTPUB payload (bounded by the 256-byte line).
pub const PAYLOAD_MAX: usize = 256;
/// Longest payload of any publish request: AT+TCMQTTPUBL / AT+TCMQTTPUBRAW's `<len>`.
pub const PUBLISH_MAX: usize = crate::handlers::publish_data::DATA_PUBLISH_MAX;

/// The board's RNG as the session's entropy source.
pub struct BoardEntropy<'a>(pub &'a dyn Random);

impl Entropy for BoardEntropy<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.random_u32()
    }
}

/// The host session with the design's buffer sizes.
pub type HostSession<'a> = DefaultSession<BoardEntropy<'a>>;

/// Where and how to connect (AT+TCMQTTCONN after its checks).
#[derive(Debug)]
pub struct ConnectRequest {
    /// Broker host name or IP literal.
    pub host: heapless::Vec<u8, HOST_MAX, u8>,
    /// TLS mode 0, 1 or 2: chooses the transport and the port.
    pub tls_mode: u8,
    /// Timeouts, keep-alive, clean session, reconnect.
    pub config: SessionConfig,
    /// Client id, user name and key.
    pub identity: Identity,
    /// Length of the product id at the start of the client id (`<pid><dn>`): the gateway
    /// topics name the two apart.
    pub product_id_length: u8,
}

/// What the executor asks the service to do; one at a time.
// A connect request rides inline; there is no heap to box into.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Request {
    /// AT+TCMQTTCONN=.
    Connect(ConnectRequest),
    /// AT+TCMQTTPUB=, and AT+TCMQTTPUBL= / AT+TCMQTTPUBRAW= after their data phase.
    Publish {
        /// The command's name in its result line (`TCMQTTPUB`, `TCMQTTPUBL`, `TCMQTTPUBRAW`).
        name: &'static str,
        /// Topic name (valid UTF-8, no wildcards: checked by the handler).
        topic: heapless::String<TOPIC_MAX>,
        /// The payload is the first `length` bytes of the session's payload area
        /// (`Session::payload_area`): AT+TCMQTTPUB's unescaped from its line, AT+TCMQTTPUBL's
        /// neutralised or AT+TCMQTTPUBRAW's raw from the data phase. The session encodes the
        /// PUBLISH around it; it is never copied.
        length: usize,
        /// QoS 0 or 1.
        qos: QoS,
    },
    /// AT+TCMQTTSUB=.
    Subscribe {
        /// A valid filter.
        filter: heapless::String<TOPIC_MAX>,
        /// QoS 0 or 1.
        qos: QoS,
        /// A user slot (AT+TCMQTTSUB, result line `+TCMQTTSUB:…`) or the internal OTA slot
        /// (AT+TCOTASET, no result line: the command writes its own).
        kind: SlotKind,
    },
    /// AT+TCMQTTUNSUB=.
    Unsubscribe {
        /// Exactly the bytes of a user slot, or anything (then `FAIL,-121`).
        filter: heapless::Vec<u8, TOPIC_MAX>,
    },
    /// AT+TCMQTTDISCONN.
    Disconnect,
    /// AT+TCGWBIND=, AT+TCGWONLINE= after their checks; the service writes the result line.
    Gateway(gateway::Request),
}

/// How a request ended; its result line, if any, is already in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `+TC…:OK` (or, for a disconnect, the session is gone).
    Succeeded,
    /// `+TC…:FAIL,<code>`.
    Failed,
}

#[cfg(feature = "certificates")]
/// The certificate and key of the last TLS mode 2 connect, kept for reconnects (the files
/// cannot change meanwhile: `commands.md` §2 refuses them with `CME(208)` while RUN).
#[derive(Default)]
pub struct ClientFiles {
    /// `<base>.crt`, PEM.
    pub certificate: heapless::Vec<u8, { storage::CERTIFICATE_SIZE_MAX }>,
    /// `<base>.key`, PEM. Secret.
    pub key: heapless::Vec<u8, { storage::CERTIFICATE_SIZE_MAX }>,
}

#[cfg(feature = "certificates")]
impl core::fmt::Debug for ClientFiles {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("ClientFiles")
            .field("certificate", &self.certificate.len())
            .field("key", &"<secret>")
            .finish()
    }
}

/// State shared by the executor, the MQTT service and the URC writer.
pub struct MqttShared<'a> {
    /// The host session.
    pub session: RefCell<HostSession<'a>>,
    /// Executor → service: one request at a time (the executor waits for its outcome).
    pub(crate) requests: Mailbox<Request>,
    /// Service → executor.
    pub(crate) done: Mailbox<Outcome>,
    /// Status URCs, result lines and `[BUSY]` replies waiting for the UART.
    pub outbox: RefCell<Outbox<OUTBOX_BYTES>>,
    /// While the session holds a message for the UART: how many outbox entries are older
    /// and go out before it.
    /// In a `u16` (the outbox holds at most 384 bytes, so fewer entries): 4 bytes, not 16.
    pub(crate) held_position: Cell<Option<u16>>,
    /// Raised when there is something to write (a held message, queued lines); awaited by
    /// the URC writer only.
    pub(crate) output_ready: Flag,
    /// Raised when room appeared for what the receiver waits for: the executor took bytes
    /// from the framer (a data phase, framing after a released barrier) while the framer was
    /// full, or a writer took an entry out of the outbox while a `[BUSY]` reply waited for
    /// room there (or wrote an echo from the framer). Awaited by the receiver only; one flag
    /// for both, since each of its waits checks again what it waits for.
    pub(crate) receiver_room: Flag,
    /// Raised when the writer released the held message; awaited by the service only.
    pub(crate) service_wake: Flag,
    /// Raised when the held message was written (or went with its link); awaited by the
    /// executor only, when its output is queued behind that message.
    pub(crate) urc_written: Flag,
    /// What AT+TCDIAG? reports besides the session's counters.
    pub(crate) diagnostics: Cell<Diagnostics>,
    /// The executor's work buffer, used by one piece of work at a time and never across
    /// commands: the OTA download (without certificates the URL of the attempt until its GET
    /// is written, `ota_state`; the socket's bytes, the image hashing), dynamic registration,
    /// and with certificates the certificate of AT+TCCERTADD's data phase, of AT+TCCERTCHECK
    /// and of a mode-2 connect. A publish's payload is never here: it
    /// is written into the session's payload area, where its PUBLISH is encoded around it
    /// (`docs/decisions.md`, "One transmit buffer").
    pub(crate) data: RefCell<[u8; crate::engine::DATA_MAX]>,
    #[cfg(feature = "certificates")]
    /// TLS mode 2 certificate and key: written by the executor before a connect request,
    /// read by the service whenever it opens the link.
    pub client_files: RefCell<ClientFiles>,
    /// OTA: fed by the service, driven by the executor (`ota_state`).
    pub(crate) ota: crate::ota_state::OtaShared,
    /// The session is provisioning's binding session (`cloud.md` §6.5), not the host's: it
    /// makes neither RUN nor CONN true, writes no result line and no MQTT URC, and hands the
    /// messages of its internal slot to the executor. Set by the executor before it asks
    /// for a connect (provisioning's or AT+TCMQTTCONN's).
    pub(crate) internal: Cell<bool>,
    /// Raised when the service holds a message of the binding session for the executor;
    /// awaited by the executor only.
    pub(crate) internal_message: Flag,
    /// The LED state the host session's last change calls for (`cloud.md` §6.6: on while
    /// connected, off after a drop or AT+TCMQTTDISCONN), until the executor shows it: the
    /// LED belongs to the board, which only the executor drives.
    pub(crate) led: Cell<Option<bool>>,
    /// Raised with [`MqttShared::led`]; awaited by the executor only.
    pub(crate) led_wake: Flag,
    /// The code of the last failed request (its result line, without the line: the binding
    /// session's connect failures become `WIFI_CONNECT_FAILED,1,<code>`).
    pub(crate) last_failure: Cell<i32>,
    /// The gateway's online list and its one running job: driven by the service
    /// (`service/gateway.rs`), read by the executor for AT+TCGWONLINE?.
    pub(crate) gateway: RefCell<gateway::Gateway>,
}

impl<'a> MqttShared<'a> {
    /// An idle session drawing randomness from `random`.
    pub fn new(random: &'a dyn Random) -> Self {
        MqttShared {
            session: RefCell::new(HostSession::new(BoardEntropy(random))),
            requests: Mailbox::new(),
            done: Mailbox::new(),
            outbox: RefCell::new(Outbox::new()),
            held_position: Cell::new(None),
            output_ready: Flag::new(),
            receiver_room: Flag::new(),
            service_wake: Flag::new(),
            urc_written: Flag::new(),
            diagnostics: Cell::new(Diagnostics::default()),
            data: RefCell::new([0; crate::engine::DATA_MAX]),
            #[cfg(feature = "certificates")]
            client_files: RefCell::new(ClientFiles::default()),
            ota: crate::ota_state::OtaShared::new(),
            gateway: RefCell::new(gateway::Gateway::new()),
            internal: Cell::new(false),
            internal_message: Flag::new(),
            led: Cell::new(None),
            led_wake: Flag::new(),
            last_failure: Cell::new(0),
        }
    }

    /// The host session connected (`true`) or ended (`false`): the LED follows. The binding
    /// session's LED is provisioning's.
    pub(crate) fn host_link(&self, connected: bool) {
        if !self.internal.get() {
            self.led.set(Some(connected));
            self.led_wake.raise();
        }
    }

    /// The board's RNG, kept once, by the session (its entropy): the TLS transport, the
    /// gateway's bind and dynamic registration draw from it too. Borrows the session for a
    /// moment: never call it while the session is borrowed mutably.
    pub fn random(&self) -> &'a dyn Random {
        self.session.borrow().entropy().0
    }

    /// Whether the URC writer has something to write: a held message or queued lines.
    pub(crate) fn has_output(&self) -> bool {
        self.held_position.get().is_some() || !self.outbox.borrow().is_empty()
    }

    /// Updates the service's diagnostics.
    pub(crate) fn diagnose(&self, update: impl FnOnce(&mut Diagnostics)) {
        let mut diagnostics = self.diagnostics.get();
        update(&mut diagnostics);
        self.diagnostics.set(diagnostics);
    }

    /// What AT+TCDIAG? prints, now.
    pub fn diagnostic_report(&self) -> DiagnosticReport {
        DiagnosticReport {
            session: self.session.borrow().statistics(),
            service: self.diagnostics.get(),
        }
    }

    /// RUN and CONN as the session sees them now (never for provisioning's session).
    pub fn gates(&self) -> Gates {
        let session = self.session.borrow();
        let host = !self.internal.get();
        Gates {
            run: host && session.is_running(),
            conn: host && session.is_usable(),
            download: self.ota.is_downloading(),
            ..Gates::default()
        }
    }
}
