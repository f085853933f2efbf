//! The provisioning state machine (`cloud.md` §6): one softAP or SmartConfig
//! session at a time, the UDP command server, the binding over the internal
//! MQTT session, supervision, the error records and the log softAP.
//!
//! The caller feeds it the outcome of everything it asked for (radio start,
//! datagrams, Wi-Fi events, registration, MQTT) and the time, then drains
//! [`Provisioning::poll`] until it returns `None` and sleeps until
//! [`Provisioning::next_wake_ms`]. Work is queued as small tags and only
//! turned into bytes in [`Provisioning::poll`], in the caller's buffer, so
//! nothing here holds a datagram, a topic or a URC.

mod binding;
mod flow;
mod render;
mod timers;
mod types;

use core::num::NonZeroU8;

use heapless::Vec;

use crate::app::TOKEN_CAPACITY;
use crate::errors::{ErrorRecords, Failure};
use crate::logbook::{LogBook, LogEvent};
use fifo::Fifo;
use ota::Moment;

pub use types::{Action, Identity, Mode, MqttEvent, Peer, Received, Record, Server, WifiEvent};

/// Total budget of a session (`cloud.md` §6.6).
pub const BUDGET_MS: u64 = 300_000;
/// Budget left after a station disconnect.
pub const BUDGET_AFTER_DISCONNECT_MS: u64 = 50_000;
/// Lifetime of the UDP command server (`cloud.md` §6.4).
pub const SERVER_LIFETIME_MS: u64 = 315_000;
/// Replies to a command: three, one second apart.
pub const REPLY_COUNT: u8 = 3;
/// Gap between replies, and from the last reply to the router join.
pub const REPLY_INTERVAL_MS: u64 = 1_000;
/// Wait for the SUBACK (`cloud.md` §6.5 step 3).
pub const SUBSCRIBE_WAIT_MS: u64 = 2_000;
/// Wait for the token (step 4).
pub const TOKEN_WAIT_MS: u64 = 20_000;
/// Wait for the PUBACK of the token (step 6), and for the bind reply.
pub const PUBACK_WAIT_MS: u64 = 5_000;
/// Write attempts of the token PUBLISH.
pub const PUBLISH_WRITES: u8 = 3;
/// Extra rounds of steps 4–6 after an error 25 or -104.
pub const EXTRA_ROUNDS: u8 = 2;
/// Delay before the log softAP opens after a failure (`cloud.md` §6.7).
pub const LOG_AP_DELAY_MS: u64 = 3_000;
/// Lifetime of the log softAP.
pub const LOG_AP_LIFETIME_MS: u64 = 360_000;
/// Gap between the two copies of a log dump.
pub const LOG_REPEAT_MS: u64 = 500;

/// A queued piece of work; rendered into bytes by `poll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Simple(Simple),
    Urc(Mode, Outcome),
    Reply(PackedPeer),
    /// The previous records to send first, as many as there were when the command came
    /// (a failure of this very command becomes previous only for the next session).
    PreviousRecords(PackedPeer, u8),
    /// An app command error record (type 2) with this sub-code (a `u16`, little-endian).
    CurrentRecord(PackedPeer, [u8; 2]),
    LogDump(Server, PackedPeer),
    Subscribe,
    Publish,
}

/// A [`Peer`] in six bytes of alignment one: a queued piece of work then takes nine bytes,
/// not ten (the queue holds twelve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedPeer([u8; 6]);

impl PackedPeer {
    fn new(peer: Peer) -> Self {
        let [a, b, c, d] = peer.address;
        let [low, high] = peer.port.to_le_bytes();
        PackedPeer([a, b, c, d, low, high])
    }

    fn peer(self) -> Peer {
        let [a, b, c, d, low, high] = self.0;
        Peer {
            address: [a, b, c, d],
            port: u16::from_le_bytes([low, high]),
        }
    }
}

/// The actions without bytes, queued in two bytes instead of an
/// [`Action`]'s twenty-four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simple {
    StartRadio(Mode),
    StopRadio,
    JoinRouter,
    OpenServer(Server),
    CloseServer(Server),
    Led(bool),
    Register,
    MqttConnect,
    MqttDisconnect,
    OpenLogAp,
    CloseLogAp,
    SaveErrors,
}

impl From<Simple> for Action {
    fn from(simple: Simple) -> Self {
        match simple {
            Simple::StartRadio(mode) => Self::StartRadio(mode),
            Simple::StopRadio => Self::StopRadio,
            Simple::JoinRouter => Self::JoinRouter,
            Simple::OpenServer(server) => Self::OpenServer(server),
            Simple::CloseServer(server) => Self::CloseServer(server),
            Simple::Led(lit) => Self::Led(lit),
            Simple::Register => Self::Register,
            Simple::MqttConnect => Self::MqttConnect,
            Simple::MqttDisconnect => Self::MqttDisconnect,
            Simple::OpenLogAp => Self::OpenLogAp,
            Simple::CloseLogAp => Self::CloseLogAp,
            Simple::SaveErrors => Self::SaveErrors,
        }
    }
}

/// Result URCs (`urc.md` §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Started,
    StartFailed(u8),
    Success,
    /// `Provisioning::outcome`.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for `radio_started`.
    Starting,
    /// softAP: the server waits for the app's command.
    WaitingCommand,
    /// SmartConfig: waiting for credentials and an IP.
    WaitingIp,
    /// softAP: replies going out, then the join at `join_at_ms`, then an IP.
    Joining {
        join_at_ms: Moment,
    },
    Registering,
    Connecting {
        retry_at_ms: Moment,
        retried: bool,
    },
    Subscribing {
        deadline_ms: u64,
    },
    WaitingToken {
        deadline_ms: u64,
    },
    Publishing {
        writes: u8,
    },
    WaitingPuback {
        deadline_ms: u64,
    },
    WaitingReply {
        deadline_ms: u64,
    },
}

/// The UDP command server: closed, open until a time, or finished (the one command was
/// handled), in the 8 bytes of a `u64` (the enum took 16): the two states without a time are
/// the two largest values, times no session reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServerState(u64);

impl ServerState {
    const CLOSED: Self = ServerState(u64::MAX);
    const FINISHED: Self = ServerState(u64::MAX - 1);

    fn open(until_ms: u64) -> Self {
        ServerState(until_ms.min(u64::MAX - 2))
    }

    /// When an open server ends.
    fn open_until(self) -> Option<u64> {
        (self.0 < u64::MAX - 1).then_some(self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replies {
    to: Peer,
    /// Never 0: the replies end with the last (and the `Option` around them takes no room).
    left: NonZeroU8,
    next_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    mode: Mode,
    phase: Phase,
    budget_deadline_ms: u64,
    next_toggle_ms: Moment,
    led: bool,
    wifi_up: bool,
    radio_on: bool,
    mqtt_open: bool,
    server: ServerState,
    replies: Option<Replies>,
    registered: bool,
    /// A one-byte length: the token is at most 32 bytes.
    token: Vec<u8, TOKEN_CAPACITY, u8>,
    region_matches: bool,
    rounds_left: u8,
    client_token_ms: u64,
}

/// The log softAP's timers; `repeat_to` is the peer of the second copy of a dump, sent at
/// `repeat_at_ms` (meaningless while that is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogAp {
    open_at_ms: Moment,
    close_at_ms: Moment,
    repeat_at_ms: Moment,
    repeat_to: Peer,
}

/// Items the queue holds at most: a start that stops a running session
/// and the log softAP queues eight.
const QUEUE_CAPACITY: usize = 12;

/// Provisioning: the running session (if any), the error records and the
/// log, which outlive sessions.
#[derive(Debug, Clone)]
pub struct Provisioning {
    errors: ErrorRecords,
    log: LogBook,
    /// The failure of the last session, for its URC.
    outcome: Failure,
    session: Option<Session>,
    log_ap: LogAp,
    queue: Fifo<Pending, QUEUE_CAPACITY>,
}

impl Provisioning {
    /// Idle, with the error records restored from flash.
    #[must_use]
    pub const fn new(errors: ErrorRecords) -> Self {
        Self {
            errors,
            log: LogBook::new(),
            outcome: Failure::new(0, 0),
            session: None,
            log_ap: LogAp {
                open_at_ms: Moment::NONE,
                close_at_ms: Moment::NONE,
                repeat_at_ms: Moment::NONE,
                repeat_to: Peer {
                    address: [0; 4],
                    port: 0,
                },
            },
            queue: Fifo::new(Pending::Subscribe),
        }
    }

    /// Whether a session runs (the PROV state of `commands.md` §0).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.session.is_some()
    }

    /// The error records.
    #[must_use]
    pub fn errors(&self) -> &ErrorRecords {
        &self.errors
    }

    /// The log the log softAP hands out.
    #[must_use]
    pub fn log(&self) -> &LogBook {
        &self.log
    }

    /// Adds an entry to the log (the caller's own events, e.g. a station
    /// join started by AT+CWJAP).
    pub fn add_log(&mut self, now_ms: u64, event: LogEvent) {
        self.log.add(now_ms, event);
    }

    fn push(&mut self, pending: Pending) {
        if self.queue.push_back(pending).is_err() {
            crate::fmt::warning!("provisioning queue full, work dropped");
        }
    }

    fn act(&mut self, action: Simple) {
        self.push(Pending::Simple(action));
    }
}
