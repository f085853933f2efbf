//! A runner of the firmware's two sans-IO machines over a real TCP connection: what the
//! engine's MQTT task does with them. Bytes go between the socket and
//! `mqtt_session::Session`; SUBACKs and messages of the gateway topics go into
//! `gateway::Gateway`, its actions back into the session, and result lines into `printed`
//! exactly as the module prints them. It waits only in socket reads bounded by the next
//! deadline of either machine (or, with no socket during a reconnect backoff, until that
//! deadline).

use super::{GW_DN, GW_PID, GW_SECRET};
use crate::common::{Hub, WAIT};
use at_parser::Args;
use gateway::{Action, Channel, Gateway, Subscription};
use mqtt_session::codec::{PacketId, QoS};
use mqtt_session::session::{Event, Session, SessionConfig, SlotKind};
use mqtt_session::tencent::{Authentication, Identity};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const COMMAND_TIMEOUT_MS: u32 = 5_000;
type ModuleSession = Session<fn() -> u32, 2304, 2560>;

pub fn entropy() -> u32 {
    0x2468_ace1
}

/// The module side: one MQTT session, the gateway, and what it printed.
pub struct Module {
    pub session: Box<ModuleSession>,
    /// The identity every CONNECT is written from (the runner keeps it, not the session).
    identity: Identity,
    pub gateway: Gateway,
    stream: Option<TcpStream>,
    port: u16,
    started: Instant,
    /// Internal SUBSCRIBE in flight for the gateway.
    internal: Option<(PacketId, Channel)>,
    /// Result lines and URCs, as printed on the UART.
    pub printed: Vec<u8>,
    /// Messages for the host's subscriptions (`+TCMQTTRCVPUB`).
    pub received: Vec<(String, Vec<u8>)>,
}

impl Module {
    pub fn connect(hub: &Hub) -> Self {
        let mut module = Self {
            session: Box::new(Session::new(entropy as fn() -> u32)),
            identity: Identity::new(GW_PID, GW_DN, GW_SECRET, Authentication::HmacSha1).unwrap(),
            gateway: Gateway::new(),
            stream: None,
            port: hub.mqtt,
            started: Instant::now(),
            internal: None,
            printed: Vec::new(),
            received: Vec::new(),
        };
        module.open();
        let config = SessionConfig {
            command_timeout_ms: COMMAND_TIMEOUT_MS,
            keep_alive_s: 240,
            clean_session: true,
            reconnect: true,
        };
        let now = module.now();
        module
            .session
            .connect(config, &module.identity, now)
            .unwrap();
        module.run_until(|module| module.session.is_usable());
        module.printed.clear();
        module
    }

    fn open(&mut self) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        self.stream = Some(stream);
    }

    pub fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// AT+TCGWBIND= / AT+TCGWONLINE= after their checks and `OK`; returns the result line.
    pub fn command(&mut self, bind: bool, arguments: &str) -> String {
        let args = Args::new(arguments.as_bytes());
        let connected = self.session.is_usable();
        let request = if bind {
            gateway::check_bind(connected, &args, entropy())
        } else {
            gateway::check_online(connected, &args)
        }
        .expect("arguments pass the checks");
        self.printed.clear();
        self.gateway.begin(request, COMMAND_TIMEOUT_MS).unwrap();
        self.run_until(|module| !module.gateway.is_busy());
        String::from_utf8(std::mem::take(&mut self.printed)).unwrap()
    }

    /// AT+TCGWONLINE? without the final `OK`.
    pub fn query(&self) -> String {
        let mut text = Vec::new();
        for subdevice in self.gateway.online().newest_first() {
            let mut line = [0u8; gateway::MAXIMUM_ONLINE_ENTRY];
            let length = gateway::write_online_entry(subdevice, &mut line).unwrap();
            text.extend_from_slice(&line[..length]);
        }
        String::from_utf8(text).unwrap()
    }

    /// AT+TCMQTTSUB= on a user slot; returns the result line.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> String {
        self.printed.clear();
        let now = self.now();
        self.session
            .subscribe(SlotKind::User, filter, qos, now)
            .unwrap();
        self.run_until(|module| !module.printed.is_empty());
        String::from_utf8(std::mem::take(&mut self.printed)).unwrap()
    }

    /// Moves bytes and events until `done` holds; panics after `WAIT`.
    pub fn run_until(&mut self, done: impl Fn(&Self) -> bool) {
        let limit = Instant::now() + WAIT;
        loop {
            self.flush();
            self.session_events();
            self.gateway_actions();
            self.flush();
            if done(self) {
                return;
            }
            assert!(Instant::now() < limit, "not done within {WAIT:?}");
            self.receive();
        }
    }

    fn flush(&mut self) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let bytes = self.session.transmit();
        if bytes.is_empty() {
            return;
        }
        if stream.write_all(bytes).is_ok() {
            let length = bytes.len();
            self.session.mark_transmitted(length);
        }
    }

    /// Waits for bytes until the earliest deadline of either machine (at most 100 ms, so a
    /// reconnect backoff is noticed), then feeds them to the session.
    fn receive(&mut self) {
        let now = self.now();
        let deadline = [self.session.next_deadline(), self.gateway.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .map_or(100, |deadline| deadline.saturating_sub(now).clamp(1, 100));
        let Some(stream) = self.stream.as_mut() else {
            std::thread::sleep(Duration::from_millis(deadline));
            return;
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(deadline)))
            .unwrap();
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => {
                self.stream = None;
                let now = self.now();
                self.session.transport_closed(now);
            }
            Ok(count) => {
                let mut offered = &buffer[..count];
                while !offered.is_empty() {
                    let taken = self.session.handle_input(offered);
                    offered = &offered[taken..];
                    if !offered.is_empty() {
                        self.session_events();
                    }
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                self.stream = None;
                let now = self.now();
                self.session.transport_closed(now);
            }
        }
    }

    fn session_events(&mut self) {
        let now = self.now();
        while let Some(event) = self.session.poll(now) {
            let internal = |packet_id: PacketId, internal: Option<(PacketId, Channel)>| {
                internal.filter(|(expected, _)| *expected == packet_id)
            };
            match event {
                Event::Subscribed {
                    packet_id, kind, ..
                } => match internal(packet_id, self.internal) {
                    Some((_, channel)) if kind == SlotKind::Internal => {
                        self.gateway.subscribed(channel, Subscription::Granted)
                    }
                    _ => self.printed.extend_from_slice(b"+TCMQTTSUB:OK\r\n"),
                },
                Event::SubscribeRefused { packet_id, .. } => {
                    match internal(packet_id, self.internal) {
                        Some((_, channel)) => {
                            self.gateway.subscribed(channel, Subscription::Refused)
                        }
                        None => self.printed.extend_from_slice(b"+TCMQTTSUB:FAIL,-108\r\n"),
                    }
                }
                Event::SubscribeTimeout { packet_id, .. } => {
                    if let Some((_, channel)) = internal(packet_id, self.internal) {
                        self.gateway.subscribed(channel, Subscription::TimedOut);
                    }
                }
                Event::Message(message) => {
                    if let Some(channel) = Channel::of_topic(
                        message.topic.as_bytes(),
                        GW_PID.as_bytes(),
                        GW_DN.as_bytes(),
                    ) {
                        self.gateway.handle_message(channel, message.payload);
                    }
                    if message.for_user {
                        self.received
                            .push((message.topic.to_owned(), message.payload.to_vec()));
                    }
                }
                Event::Dropped { reconnecting, .. } => {
                    self.stream = None;
                    self.printed.extend_from_slice(b"+TCMQTTDISCON,-103\r\n");
                    if reconnecting {
                        self.gateway.link_lost();
                    } else {
                        self.gateway.end_session();
                    }
                }
                Event::Reconnecting { .. } => {
                    self.printed.extend_from_slice(b"+TCMQTTRECONNECTING\r\n");
                    self.open();
                    self.session.transport_opened(&self.identity, now);
                }
                Event::Reconnected => {
                    self.gateway.begin_reonline(COMMAND_TIMEOUT_MS).unwrap();
                }
                _ => {}
            }
        }
    }

    fn gateway_actions(&mut self) {
        let now = self.now();
        while let Some(action) = self.gateway.poll(now) {
            let mut topic = [0u8; 128];
            match action {
                Action::Subscribe(channel) => {
                    let length = channel
                        .write_topic(GW_PID.as_bytes(), GW_DN.as_bytes(), &mut topic)
                        .unwrap();
                    let filter = std::str::from_utf8(&topic[..length]).unwrap();
                    let qos = if channel.qos() == 1 {
                        QoS::AtLeastOnce
                    } else {
                        QoS::AtMostOnce
                    };
                    let packet_id = self
                        .session
                        .subscribe(SlotKind::Internal, filter, qos, now)
                        .unwrap();
                    self.internal = Some((packet_id, channel));
                }
                Action::Publish(channel) => {
                    let length = channel
                        .write_topic(GW_PID.as_bytes(), GW_DN.as_bytes(), &mut topic)
                        .unwrap();
                    let mut payload = [0u8; gateway::MAXIMUM_REQUEST_LENGTH];
                    let size = self.gateway.write_payload(&mut payload).unwrap();
                    let topic = std::str::from_utf8(&topic[..length]).unwrap();
                    self.session
                        .publish(topic, &payload[..size], QoS::AtMostOnce, now)
                        .unwrap();
                }
                Action::Finished(operation, outcome) => {
                    let mut line = [0u8; gateway::MAXIMUM_RESULT_LINE];
                    let length = gateway::write_result(operation, outcome, &mut line).unwrap();
                    self.printed.extend_from_slice(&line[..length]);
                }
                Action::ReonlineFinished => {
                    self.printed.extend_from_slice(b"+TCMQTTRECONNECTED\r\n");
                }
            }
        }
    }
}
