//! Shared broker state: sessions, subscriptions, routing, kicks and observed device state.
//!
//! Every connection task and the admin API hold an `Arc<Hub>`. State sits behind one mutex
//! because the hub serves a handful of test devices: simple and obviously race-free beats
//! fine-grained locking here. A connection owns its socket; others reach it only through its
//! command channel ([`Command`]), so a kick or a takeover never writes to a foreign socket.

use crate::acl::{self, Right};
use crate::events::EventLog;
use crate::registry::{Device, Registry};
use base64::Engine as _;
use mqtt_session::codec::QoS;
use mqtt_session::topic;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

mod gateway;
mod view;

pub use gateway::OnlineSubDevice;

/// Offline QoS1 messages kept per persistent session (`hub.md` §4.3).
pub const OFFLINE_QUEUE_LIMIT: usize = 150;
/// How long an offline message is kept.
pub const OFFLINE_MESSAGE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Delivery QoS (0 or 1).
    pub qos: QoS,
}

/// What other tasks ask a connection to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send this PUBLISH.
    Deliver(Message),
    /// Close the TCP connection without DISCONNECT, for the given reason.
    Close(&'static str),
}

/// A granted subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Topic filter.
    pub filter: String,
    /// Granted QoS (0 or 1).
    pub qos: QoS,
}

#[derive(Debug)]
struct Link {
    connection: u64,
    sender: UnboundedSender<Command>,
}

#[derive(Debug)]
struct Session {
    pid: String,
    dn: String,
    loopback: bool,
    rights: Vec<Right>,
    subscriptions: Vec<Subscription>,
    link: Option<Link>,
    persistent: bool,
    queue: VecDeque<(Instant, Message)>,
    /// Sub-devices online through this connection (`hub.md` §4.6).
    subdevices: Vec<OnlineSubDevice>,
}

/// What the hub observed about a device (`GET /devices/{pid}/{dn}`).
#[derive(Debug, Clone, Default)]
pub struct DeviceState {
    /// Merged `params` of every property `report`.
    pub reported: Map<String, Value>,
    /// Control returned in `get_status_reply` until a `control_reply` arrives.
    pub pending_control: Option<Value>,
    /// Tokens bound through `app_bind_token`.
    pub bound_tokens: Vec<String>,
    /// Version from the last `$ota/report` `report_version`.
    pub mcu_version: Option<String>,
    /// Set at the first successful CONNECT.
    pub activated: bool,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    devices: HashMap<String, DeviceState>,
    refused_until: HashMap<String, Instant>,
}

/// Result of attaching a verified connection to its session.
#[derive(Debug)]
pub struct Attached {
    /// Commands for this connection.
    pub commands: UnboundedReceiver<Command>,
    /// CONNACK session-present flag.
    pub session_present: bool,
}

/// The hub: registry, live state, event log and clock.
#[derive(Debug)]
pub struct Hub {
    registry: Mutex<Registry>,
    state: Mutex<State>,
    /// Event log (`GET /events`).
    pub events: EventLog,
    /// OTA files, faults, tasks and switches.
    pub ota: crate::ota::Ota,
    /// Gateway faults and switches.
    pub gateway: crate::gateway::Faults,
    /// Dynamic registration faults and counters.
    pub dynreg: crate::dynreg::Dynreg,
    clock_offset: AtomicI64,
    /// `code` of every `app_bind_token_reply`; 0 (the default) binds the token.
    bind_reply_code: AtomicI64,
    next_connection: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Hub {
    /// A hub serving `registry`.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry: Mutex::new(registry),
            state: Mutex::default(),
            events: EventLog::default(),
            ota: crate::ota::Ota::default(),
            gateway: crate::gateway::Faults::default(),
            dynreg: crate::dynreg::Dynreg::default(),
            clock_offset: AtomicI64::new(0),
            bind_reply_code: AtomicI64::new(0),
            next_connection: AtomicU64::new(1),
        }
    }

    /// Hub time in Unix seconds (wall clock plus the admin offset).
    pub fn now_unix(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        wall.saturating_add_signed(self.clock_offset.load(Ordering::Relaxed))
    }

    /// Sets the hub clock offset in seconds.
    pub fn set_clock_offset(&self, offset_seconds: i64) {
        self.clock_offset.store(offset_seconds, Ordering::Relaxed);
    }

    /// The `code` the next `app_bind_token_reply`s carry (0: success, the token is bound).
    pub fn bind_reply_code(&self) -> i64 {
        self.bind_reply_code.load(Ordering::Relaxed)
    }

    /// Sets the `code` of every `app_bind_token_reply` until changed or reset; a non-zero
    /// code refuses the binding, so its token is not recorded.
    pub fn set_bind_reply_code(&self, code: i64) {
        self.bind_reply_code.store(code, Ordering::Relaxed);
    }

    /// A copy of the registry.
    pub fn registry(&self) -> Registry {
        lock(&self.registry).clone()
    }

    /// Changes the registry.
    pub fn update_registry(&self, change: impl FnOnce(&mut Registry)) {
        change(&mut lock(&self.registry));
    }

    /// A fresh connection number (for logs and takeover bookkeeping).
    pub fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether CONNECTs of `client_id` are refused after a `kick` with `refuse_s`.
    pub fn is_refused(&self, client_id: &str) -> bool {
        let state = lock(&self.state);
        state
            .refused_until
            .get(client_id)
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Binds a verified connection to the session of `device`, closing any other connection
    /// of the same client id (takeover), and returns queued offline messages to replay.
    pub fn attach(
        &self,
        device: &Device,
        connection: u64,
        clean_session: bool,
    ) -> (Attached, Vec<Message>) {
        let client_id = device.client_id();
        let product = lock(&self.registry).product_of(device);
        let (sender, commands) = unbounded_channel();
        let mut state = lock(&self.state);
        state
            .devices
            .entry(client_id.clone())
            .or_default()
            .activated = true;
        let previous = state.sessions.remove(&client_id);
        if let Some(link) = previous.as_ref().and_then(|session| session.link.as_ref()) {
            let _ = link.sender.send(Command::Close("session taken over"));
        }
        let stored = previous.filter(|session| !clean_session && session.persistent);
        let session_present = stored.is_some();
        let mut session = stored.unwrap_or_else(|| Session {
            pid: device.pid.clone(),
            dn: device.dn.clone(),
            loopback: product.loopback_data,
            rights: Vec::new(),
            subscriptions: Vec::new(),
            link: None,
            persistent: false,
            queue: VecDeque::new(),
            subdevices: Vec::new(),
        });
        session.rights = acl::rights(&product, &device.dn);
        // A new connection starts with no sub-device online.
        session.subdevices.clear();
        session.loopback = product.loopback_data;
        session.persistent = !clean_session;
        session.link = Some(Link { connection, sender });
        let now = Instant::now();
        let replay = session
            .queue
            .drain(..)
            .filter(|(queued_at, _)| now.duration_since(*queued_at) < OFFLINE_MESSAGE_LIFETIME)
            .map(|(_, message)| message)
            .collect();
        state.sessions.insert(client_id, session);
        (
            Attached {
                commands,
                session_present,
            },
            replay,
        )
    }

    /// Ends connection `connection` of `client_id`; a persistent session stays for later.
    pub fn detach(&self, client_id: &str, connection: u64) {
        let mut state = lock(&self.state);
        let Some(session) = state.sessions.get_mut(client_id) else {
            return;
        };
        if session
            .link
            .as_ref()
            .is_none_or(|link| link.connection != connection)
        {
            return;
        }
        session.link = None;
        session.subdevices.clear();
        if !session.persistent {
            state.sessions.remove(client_id);
        }
    }

    /// Rights of a connected device (empty if it has no session).
    pub fn rights(&self, client_id: &str) -> Vec<Right> {
        lock(&self.state)
            .sessions
            .get(client_id)
            .map(Session::all_rights)
            .unwrap_or_default()
    }

    /// Grants or refuses one filter and returns the SUBACK code.
    pub fn subscribe(&self, client_id: &str, filter: &str, requested: QoS) -> u8 {
        let mut state = lock(&self.state);
        let Some(session) = state.sessions.get_mut(client_id) else {
            return mqtt_session::codec::SUBACK_FAILURE;
        };
        if !session.may_subscribe(filter) {
            return mqtt_session::codec::SUBACK_FAILURE;
        }
        let qos = requested.min(QoS::AtLeastOnce);
        session
            .subscriptions
            .retain(|subscription| subscription.filter != filter);
        session.subscriptions.push(Subscription {
            filter: filter.to_owned(),
            qos,
        });
        qos as u8
    }

    /// Removes one filter.
    pub fn unsubscribe(&self, client_id: &str, filter: &str) {
        if let Some(session) = lock(&self.state).sessions.get_mut(client_id) {
            session
                .subscriptions
                .retain(|subscription| subscription.filter != filter);
        }
    }

    /// Delivers a message to every session whose subscriptions match; `publisher` is the
    /// client id of a device publish (loop-back rules apply), `only` restricts delivery to one
    /// client id and `force` delivers to it even without a matching subscription.
    /// Returns the number of sessions reached (queued offline messages count).
    pub fn route(
        &self,
        message: &Message,
        publisher: Option<&str>,
        only: Option<&str>,
        force: bool,
    ) -> usize {
        let mut state = lock(&self.state);
        let mut reached = 0;
        for (client_id, session) in &mut state.sessions {
            if only.is_some_and(|only| only != client_id) {
                continue;
            }
            if publisher == Some(client_id.as_str()) && !session.loops_back(&message.topic) {
                continue;
            }
            let granted = session
                .subscriptions
                .iter()
                .filter(|subscription| topic::matches(&subscription.filter, &message.topic))
                .map(|subscription| subscription.qos)
                .max()
                .filter(|_| only.is_some() || session.may_receive(&message.topic));
            let qos = match (granted, force) {
                (Some(granted), _) => granted.min(message.qos),
                (None, true) => message.qos,
                (None, false) => continue,
            };
            let delivery = Message {
                qos,
                ..message.clone()
            };
            match &session.link {
                Some(link) => {
                    reached += usize::from(link.sender.send(Command::Deliver(delivery)).is_ok());
                }
                None if qos == QoS::AtLeastOnce => {
                    if session.queue.len() == OFFLINE_QUEUE_LIMIT {
                        session.queue.pop_front();
                    }
                    session.queue.push_back((Instant::now(), delivery));
                    reached += 1;
                }
                None => {}
            }
        }
        reached
    }

    /// Closes the connection of `client_id` without DISCONNECT; with `refuse` its CONNECTs
    /// are refused for that long. Returns whether a connection was closed.
    pub fn kick(&self, client_id: &str, refuse: Option<Duration>) -> bool {
        let mut state = lock(&self.state);
        if let Some(refuse) = refuse {
            state
                .refused_until
                .insert(client_id.to_owned(), Instant::now() + refuse);
        }
        let link = state
            .sessions
            .get(client_id)
            .and_then(|session| session.link.as_ref());
        link.is_some_and(|link| link.sender.send(Command::Close("kicked")).is_ok())
    }

    /// Changes the observed state of a device.
    pub fn with_device_state<R>(
        &self,
        client_id: &str,
        change: impl FnOnce(&mut DeviceState) -> R,
    ) -> R {
        change(
            lock(&self.state)
                .devices
                .entry(client_id.to_owned())
                .or_default(),
        )
    }

    /// Forgets sessions, observed state, refusals and events (`POST /reset`); live
    /// connections are closed.
    pub fn reset(&self) {
        let mut state = lock(&self.state);
        for session in state.sessions.values() {
            if let Some(link) = &session.link {
                let _ = link.sender.send(Command::Close("reset"));
            }
        }
        *state = State::default();
        drop(state);
        self.ota.reset();
        self.gateway.reset();
        self.dynreg.reset();
        self.set_bind_reply_code(0);
        self.events.clear();
    }
}

/// Base64 of a payload for the event log (payloads may be binary).
pub fn payload_base64(payload: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_device() -> Device {
        Registry::demo().devices["DEMO000001demo"].clone()
    }

    fn message(payload: &str) -> Message {
        Message {
            topic: "DEMO000001/demo/control".to_owned(),
            payload: payload.as_bytes().to_vec(),
            qos: QoS::AtLeastOnce,
        }
    }

    #[test]
    fn offline_queue_keeps_the_newest_150_qos1_messages() {
        let hub = Hub::new(Registry::demo());
        let device = demo_device();
        hub.attach(&device, 1, false);
        assert_eq!(
            hub.subscribe(
                "DEMO000001demo",
                "DEMO000001/demo/control",
                QoS::AtLeastOnce
            ),
            1
        );
        hub.detach("DEMO000001demo", 1);
        for index in 0..200 {
            assert_eq!(
                hub.route(&message(&index.to_string()), None, None, false),
                1
            );
        }
        let qos0 = Message {
            qos: QoS::AtMostOnce,
            ..message("dropped")
        };
        assert_eq!(hub.route(&qos0, None, None, false), 0);
        let (attached, replay) = hub.attach(&device, 2, false);
        assert!(attached.session_present);
        assert_eq!(replay.len(), OFFLINE_QUEUE_LIMIT);
        assert_eq!(replay[0].payload, b"50");
    }

    #[test]
    fn takeover_closes_the_old_link_and_its_detach_keeps_the_new_session() {
        let hub = Hub::new(Registry::demo());
        let device = demo_device();
        let (mut first, _) = hub.attach(&device, 1, true);
        let (second, _) = hub.attach(&device, 2, true);
        assert_eq!(
            first.commands.try_recv(),
            Ok(Command::Close("session taken over"))
        );
        hub.detach("DEMO000001demo", 1);
        assert!(!second.session_present);
        assert!(
            hub.kick("DEMO000001demo", None),
            "the second connection is still registered"
        );
    }

    #[test]
    fn clean_session_discards_a_stored_session() {
        let hub = Hub::new(Registry::demo());
        let device = demo_device();
        hub.attach(&device, 1, false);
        hub.detach("DEMO000001demo", 1);
        let (attached, _) = hub.attach(&device, 2, true);
        assert!(!attached.session_present);
    }
}
