//! The AT receive-path workload: what an MCU typically sends, pushed through the engine's path.
//!
//! A measurement is only useful if it exercises what the firmware does per received byte, in
//! the order the engine does it (`command-core`'s receiver and executor): each UART read is fed
//! to the framer, every complete line goes into the [`InputQueue`], the executor pops it, checks
//! it for the data-mode barrier, parses it, and the handler reads its parameters through
//! [`Params`] exactly as the real handler does. A `AT+TCMQTTPUBL` line opens the data phase,
//! which the executor polls when the receiver wakes it: for bytes that can end the phase or a
//! full framer (`Framer::receive`); the receiver notes the board's time of every data-phase
//! read for the inactivity timer. The framer holds one line ([`FRAMER_BYTES`]) and the receiver
//! feeds it at most its room, as in the engine. As in the engine's receiver, a read first goes
//! to `Framer::receive_quiet`, which takes a single byte that only continues a line or a
//! payload, and otherwise to `Framer::receive`. What follows the parameter checks (topic
//! validation, the MQTT request, the reply) is not the parser's and is left out.
//!
//! The mix is a device reporting telemetry: long escaped-JSON `AT+TCMQTTPUB` lines near the
//! 254-byte limit dominate the bytes, with state polls between them, one `AT+TCMQTTPUBL` whose
//! 638-byte payload goes through the data phase, and the occasional subscribe and connect.

use std::hint::black_box;

use at_parser::{parse_line, DataKind, DataStatus, Form, FramedRef, Framer, Parsed, Pending};
use command_core::engine::FRAMER_BYTES;
use command_core::mqtt::{PAYLOAD_MAX, PUBLISH_MAX};
use command_core::params::Params;
use command_core::queue::{Entry, InputQueue};

/// Device identity used in the topics.
const THING: &str = "CTQS08Y5LG/Dev01";

/// A property report of 162 JSON bytes (251 on the command line, escaped).
const PROPERTY: &str = r#"{"method":"report","clientToken":"a1b2c-17","timestamp":1700000017,"params":{"temperature":23.5,"humidity":41,"battery":87,"rssi":-61,"power_switch":1,"lux":320}}"#;
/// An event of 159 JSON bytes (245 on the command line, escaped).
const EVENT: &str = r#"{"method":"event_post","clientToken":"a1b2c-18","eventId":"status_report","type":"info","params":{"status":1,"code":4021,"message":"door opened by keypad #4"}}"#;
/// A state report of 638 JSON bytes: too long for a command line, so sent with PUBL.
const STATE: &str = r#"{"method":"report","clientToken":"a1b2c-19","timestamp":1700000019,"params":{"temperature":23.5,"humidity":41,"pressure":1013,"battery":87,"rssi":-61,"power_switch":1,"color":"warm_white","brightness":72,"firmware":"2.4.1","uptime":86400,"errors":[],"schedule":[{"on":"07:00","off":"08:30","days":[1,2,3,4,5]},{"on":"18:00","off":"23:00","days":[1,2,3,4,5,6,7]}],"sensors":{"pm25":12,"pm10":20,"co2":612,"voc":0.21,"noise":38},"network":{"ssid":"office-2g","channel":6,"ip":"192.168.31.57","gateway":"192.168.31.1"},"location":{"room":"meeting-3","floor":7,"building":"B"},"counters":{"opened":1284,"closed":1283,"alarms":2,"reboots":5}}}"#;

/// Lines of one round that are not data phases.
const POLLS: [&str; 4] = [
    "AT+TCMQTTSTATE?\r\n",
    "AT+CWJAP?\r\n",
    "AT\r\n",
    "AT+TCMQTTCONN=1,5000,240,1,1\r\n",
];

/// One round of the session, in the order the MCU sends it.
pub fn round() -> Vec<u8> {
    let property = format!("$thing/up/property/{THING}");
    let event = format!("$thing/up/event/{THING}");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(POLLS[0].as_bytes());
    bytes.extend(publish_line(&property, 0, PROPERTY));
    bytes.extend(publish_line(&event, 1, EVENT));
    bytes.extend_from_slice(POLLS[0].as_bytes());
    bytes.extend(
        format!(
            "AT+TCMQTTPUBL=\"{property}\",1,{}\r\n{STATE}\r\n",
            STATE.len()
        )
        .bytes(),
    );
    bytes.extend(publish_line(&property, 0, PROPERTY));
    bytes.extend_from_slice(POLLS[1].as_bytes());
    bytes.extend(format!("AT+TCMQTTSUB=\"$thing/down/property/{THING}\",0\r\n").bytes());
    bytes.extend(publish_line(&property, 1, PROPERTY));
    bytes.extend_from_slice(POLLS[2].as_bytes());
    bytes.extend_from_slice(POLLS[3].as_bytes());
    bytes
}

/// Command lines in one round (the PUBL line counts once; its payload is not a line).
pub const LINES_PER_ROUND: usize = 11;

/// `AT+TCMQTTPUB="<topic>",<qos>,"<json>"` with `"` and `,` escaped as hosts do.
fn publish_line(topic: &str, qos: u8, json: &str) -> Vec<u8> {
    let mut line = format!("AT+TCMQTTPUB=\"{topic}\",{qos},\"").into_bytes();
    for byte in json.bytes() {
        if matches!(byte, b'"' | b',' | b'\\') {
            line.push(b'\\');
        }
        line.push(byte);
    }
    line.extend_from_slice(b"\"\r\n");
    line
}

/// Returns `rounds` copies of the session as one byte stream.
pub fn stream(rounds: usize) -> Vec<u8> {
    round().repeat(rounds)
}

/// What one pass over a stream saw; compared across runs so the optimiser cannot drop work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines executed.
    pub commands: usize,
    /// Publish requests the handlers would have made (PUB and completed PUBL).
    pub publishes: usize,
    /// Payload bytes handed to those requests.
    pub payload_bytes: usize,
    /// A fold over the values the handlers read.
    pub checksum: u64,
}

/// The engine's receive state: framer, input queue and the data-phase buffer.
pub struct Session {
    framer: Framer<FRAMER_BYTES>,
    queue: InputQueue,
    data: [u8; 4096],
    /// Length of the open data phase.
    data_len: Option<usize>,
    /// The board's clock, as a timer register read from memory.
    clock_ms: u64,
    /// When the receiver last fed data-phase bytes (`Shared::last_input`).
    last_input: u64,
    /// The data phase's inactivity deadline, computed as the executor does.
    deadline: u64,
    summary: Summary,
}

/// The data phase's inactivity timeout (`at-engine.md` §7.4).
const INACTIVITY_MS: u64 = 20_000;

impl Session {
    /// A session in line mode with nothing buffered.
    pub fn new() -> Box<Self> {
        Box::new(Session {
            framer: Framer::new(),
            queue: InputQueue::new(),
            data: [0; 4096],
            data_len: None,
            clock_ms: 0,
            last_input: 0,
            deadline: 0,
            summary: Summary::default(),
        })
    }

    /// Feeds `stream` in `chunk`-byte reads, as the receiver loop does, and returns what the
    /// handlers saw.
    ///
    /// # Panics
    ///
    /// Panics if a line is rejected or refused, or does not parse: the mix is valid by
    /// construction, so either means the parser changed behaviour and the figures would be
    /// meaningless.
    pub fn process(&mut self, stream: &[u8], chunk: usize) -> Summary {
        self.summary = Summary::default();
        for read in stream.chunks(chunk) {
            // The receiver's loop (`command-core`'s `engine/receiver.rs`): a one-byte read that
            // only continues a line or a payload is taken by `receive_quiet`; any other goes to
            // `receive`, which takes what fits (back-pressure) and says what the bytes call
            // for. What needs more than a note of the time is done out of line.
            match self.framer.receive_quiet(read) {
                Some(Pending::Payload) => self.last_input = black_box(self.clock_ms),
                Some(_) => {}
                None => match self.framer.receive(read) {
                    (taken, Pending::Nothing) if taken == read.len() => {}
                    (taken, pending) => self.react(read, taken, pending),
                },
            }
        }
        black_box(self.summary)
    }

    /// The rest of the receiver's loop for one read: `taken` of its bytes were fed and call
    /// for `pending`; feeds the others as the framer makes room.
    #[inline(never)]
    fn react(&mut self, read: &[u8], mut taken: usize, mut pending: Pending) {
        let mut fed = 0;
        loop {
            if taken == 0 {
                // The receiver waits for the executor, woken by the full framer.
                assert!(self.data_len.is_some(), "the framer filled in line mode");
                self.execute();
            } else {
                fed += taken;
                match pending {
                    Pending::Nothing => {}
                    // The executor wakes when a line was queued.
                    Pending::Lines => {
                        if self.frame() {
                            self.execute();
                        }
                    }
                    Pending::Payload => self.last_input = black_box(self.clock_ms),
                    Pending::PayloadDue => {
                        self.last_input = black_box(self.clock_ms);
                        self.execute();
                    }
                    Pending::Discard => panic!("the mix has no aborted data phase"),
                }
                if fed == read.len() {
                    return;
                }
            }
            (taken, pending) = self.framer.receive(&read[fed..]);
        }
    }

    /// The receiver's framing loop: complete lines into the input queue. Returns whether it
    /// queued any (the receiver then signals the executor).
    // Inline as in the receiver, where framing is part of the read loop.
    #[inline(always)]
    fn frame(&mut self) -> bool {
        let mut queued = false;
        // As `command-core`'s `frame_one`: the line goes from the framer into the queue.
        while let Some(framed) = self.framer.next_line_with(|framed| match framed {
            FramedRef::Line(line) => {
                assert!(self.queue.push_line(line), "the input queue refused a line");
                true
            }
            FramedRef::Empty => false,
            FramedRef::Rejected => panic!("a benchmark line was rejected"),
        }) {
            queued |= framed;
        }
        queued
    }

    /// The executor: polls an open data phase, then runs queued lines until one opens a data
    /// phase that needs more input.
    fn execute(&mut self) {
        loop {
            if let Some(len) = self.data_len {
                match self.framer.poll_data(&mut self.data[..len]) {
                    DataStatus::NeedMore { .. } => {
                        // Re-armed from the last read's arrival.
                        self.deadline = black_box(self.last_input + INACTIVITY_MS);
                        return;
                    }
                    DataStatus::Complete { len } => publish(&mut self.summary, &self.data[..len]),
                    DataStatus::Aborted(abort) => panic!("the data phase aborted: {abort}"),
                }
                self.data_len = None;
                // Bytes after the payload were left unframed when the phase ended.
                self.frame();
            }
            let Some(entry) = self.queue.pop() else {
                return;
            };
            let Entry::Line(line) = entry else {
                panic!("a benchmark line was rejected");
            };
            let barrier = at_parser::sets_barrier(&line);
            self.summary.commands += 1;
            match self.dispatch(&line) {
                Some(len) => {
                    self.framer.begin_data(len, DataKind::Publish);
                    self.data_len = Some(len);
                    self.last_input = black_box(self.clock_ms);
                    self.deadline = self.last_input + INACTIVITY_MS;
                }
                None if barrier => {
                    self.framer.release_barrier();
                    self.frame();
                }
                None => {}
            }
        }
    }

    /// Parses a line and reads its parameters as its handler does; returns the length of the
    /// data phase a PUBL line opens.
    fn dispatch(&mut self, line: &[u8]) -> Option<usize> {
        let parsed = parse_line(black_box(line)).expect("benchmark lines are valid commands");
        let Parsed::Command {
            name,
            form: Form::Set(arguments),
        } = parsed
        else {
            return None;
        };
        let params = Params::new(arguments);
        let checksum = &mut self.summary.checksum;
        match name {
            // tcmqttpub_set: count, topic_name, qos, payload.
            b"TCMQTTPUB" => {
                assert_eq!(params.count(), 3);
                let topic = params.text::<128>(0, 1, 128).expect("topic");
                let qos = params.int_in(1, 0..=1).expect("qos");
                let mut payload = heapless::Vec::<u8, PUBLISH_MAX>::new();
                params
                    .text_into(2, 1, PAYLOAD_MAX, &mut payload)
                    .expect("payload");
                *checksum = fold(*checksum, topic.len() as u64 ^ qos as u64);
                publish(&mut self.summary, &payload);
                None
            }
            // publish_set: count, topic_name, qos, len.
            b"TCMQTTPUBL" => {
                assert_eq!(params.count(), 3);
                let topic = params.text::<128>(0, 1, 128).expect("topic");
                let qos = params.int_in(1, 0..=1).expect("qos");
                let len = params.int_in(2, 1..=2048).expect("len") as usize;
                *checksum = fold(*checksum, topic.len() as u64 ^ qos as u64);
                Some(len)
            }
            // tcmqttsub_set: count, filter, qos.
            b"TCMQTTSUB" => {
                assert_eq!(params.count(), 2);
                let filter = params.text::<128>(0, 1, 128).expect("filter");
                let qos = params.int_in(1, 0..=1).expect("qos");
                *checksum = fold(*checksum, filter.len() as u64 ^ qos as u64);
                None
            }
            // tcmqttconn_set: is_int, count, five integers.
            b"TCMQTTCONN" => {
                assert!(params.is_int(0));
                params.expect_count(5, 5).expect("count");
                let mut value = params.int(0).expect("tls mode") as u64;
                value ^= params.int_in(1, 1000..=20000).expect("timeout") as u64;
                value ^= params.int_in(2, 60..=690).expect("keep-alive") as u64;
                value ^= params.int_in(3, 0..=1).expect("clean") as u64;
                value ^= params.int_in(4, 0..=1).expect("reconnect") as u64;
                *checksum = fold(*checksum, value);
                None
            }
            _ => panic!("the mix has no other set command"),
        }
    }
}

/// Counts the publish request a handler or data job would make with `payload`.
fn publish(summary: &mut Summary, payload: &[u8]) {
    let payload = black_box(payload);
    summary.publishes += 1;
    summary.payload_bytes += payload.len();
    let last = payload.last().copied().map_or(0, u64::from);
    summary.checksum = fold(summary.checksum, payload.len() as u64 ^ last << 32);
}

/// A cheap order-sensitive fold (FNV-1a step).
fn fold(state: u64, value: u64) -> u64 {
    (state ^ value).wrapping_mul(0x0000_0100_0000_01b3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_runs_at_every_read_size() {
        let bytes = stream(3);
        for chunk in [1, 16, 64] {
            let mut session = Session::new();
            let summary = session.process(&bytes, chunk);
            assert_eq!(summary.commands, 3 * LINES_PER_ROUND, "{chunk}");
            assert_eq!(summary.publishes, 3 * 5, "{chunk}");
            let payloads = 3 * PROPERTY.len() + EVENT.len() + STATE.len();
            assert_eq!(summary.payload_bytes, 3 * payloads, "{chunk}");
            assert_eq!(session.framer.buffered(), 0);
        }
    }

    #[test]
    fn read_size_does_not_change_what_handlers_see() {
        let bytes = stream(2);
        let reference = Session::new().process(&bytes, 64);
        assert_eq!(Session::new().process(&bytes, 1), reference);
        assert_eq!(Session::new().process(&bytes, 7), reference);
    }

    #[test]
    fn publish_lines_are_near_the_line_limit_and_unescape_to_the_json() {
        let topic = format!("$thing/up/property/{THING}");
        for json in [PROPERTY, EVENT] {
            let line = publish_line(&topic, 1, json);
            assert!(line.len() <= at_parser::MAX_LINE, "{}", line.len());
            assert!(line.len() >= 240, "{}", line.len());
            let Ok(Parsed::Command {
                form: Form::Set(arguments),
                ..
            }) = parse_line(&line)
            else {
                panic!("the publish line must be a set form");
            };
            let payload = Params::new(arguments).text::<256>(2, 1, 256);
            assert_eq!(payload.as_deref(), Ok(json.as_bytes()));
        }
    }

    #[test]
    fn the_data_phase_payload_is_the_long_state_report() {
        assert!(STATE.len() > 600 && STATE.len() <= 2048);
        let round = round();
        let prefix = format!("{}\r\n", STATE.len());
        assert!(round
            .windows(prefix.len())
            .any(|window| window == prefix.as_bytes()));
    }
}
