//! AT+TCMQTTPUBL / AT+TCMQTTPUBRAW through the whole engine: an in-memory UART, an in-memory
//! broker link and a manual clock. Every wait is on an observable condition (output bytes, an
//! armed deadline, the broker link drained); time only moves when a test moves it.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::{poll_fn, Future};
use core::task::Poll;
use std::collections::VecDeque;
use std::rc::Rc;

use command_core::JoinError;
use command_core::{
    Association, BoardInfo, Clock, Cloud, ConnectError, Module, Network, Offline, Profile, Wifi,
};
use embassy_futures::block_on;
use embassy_futures::select::{select, Either};
use embedded_io_async::{ErrorType, Read, Write};
use storage::mock::MockFlash;
use storage::Settings;

const TOPIC: &str = "PID0000001/dev1/data";

/// `(topic, payload)` of one PUBLISH the module sent.
type Published = (Vec<u8>, Vec<u8>);

/// Resolves once `ready()` holds. The runner is polled in between (the test executor polls
/// every branch of the select in turn).
async fn until(ready: impl Fn() -> bool) {
    poll_fn(|_| {
        if ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Time as the test sets it; records the deadlines of pending sleeps so a test can see that
/// the engine armed (or re-armed) a timer.
#[derive(Clone, Default)]
struct ManualClock {
    now: Rc<Cell<u64>>,
    armed: Rc<RefCell<Vec<u64>>>,
}

impl ManualClock {
    fn set(&self, now: u64) {
        self.now.set(now);
    }

    fn armed(&self, deadline: u64) -> bool {
        self.armed.borrow().contains(&deadline)
    }
}

struct Armed {
    armed: Rc<RefCell<Vec<u64>>>,
    deadline: u64,
}

impl Drop for Armed {
    fn drop(&mut self) {
        let mut armed = self.armed.borrow_mut();
        if let Some(index) = armed.iter().position(|&d| d == self.deadline) {
            armed.remove(index);
        }
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn sleep_until(&self, deadline_ms: u64) -> impl Future<Output = ()> {
        self.armed.borrow_mut().push(deadline_ms);
        let guard = Armed {
            armed: self.armed.clone(),
            deadline: deadline_ms,
        };
        let now = self.now.clone();
        async move {
            let _guard = guard;
            until(|| now.get() >= deadline_ms).await
        }
    }
}

/// Receive side: whatever the test pushed, one chunk per read.
#[derive(Clone, Default)]
struct HostRx {
    chunks: Rc<RefCell<VecDeque<Vec<u8>>>>,
}

impl HostRx {
    fn send(&self, bytes: &[u8]) {
        self.chunks.borrow_mut().push_back(bytes.to_vec());
    }
}

impl HostRx {
    /// Resolves once the engine read everything sent (in the read's poll, the receiver fed
    /// it to the framer and noted its arrival).
    async fn drained(&self) {
        until(|| self.chunks.borrow().is_empty()).await;
    }
}

impl ErrorType for HostRx {
    type Error = Infallible;
}

impl Read for HostRx {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        until(|| !self.chunks.borrow().is_empty()).await;
        let mut chunk = self.chunks.borrow_mut().pop_front().unwrap_or_default();
        let count = chunk.len().min(buffer.len());
        buffer[..count].copy_from_slice(&chunk[..count]);
        if count < chunk.len() {
            self.chunks.borrow_mut().push_front(chunk.split_off(count));
        }
        Ok(count)
    }
}

/// Transmit side: every write is one block.
#[derive(Clone, Default)]
struct HostTx {
    blocks: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl HostTx {
    fn output(&self) -> Vec<u8> {
        self.blocks.borrow().concat()
    }

    fn ends_with(&self, tail: &[u8]) -> bool {
        self.output().ends_with(tail)
    }
}

impl ErrorType for HostTx {
    type Error = Infallible;
}

impl Write for HostTx {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        self.blocks.borrow_mut().push(bytes.to_vec());
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// An in-memory broker: answers CONNECT, SUBSCRIBE and QoS 1 PUBLISH, records what the module
/// published, and delivers what the test pushes.
#[derive(Clone, Default)]
struct Broker {
    inbound: Rc<RefCell<VecDeque<u8>>>,
    outbound: Rc<RefCell<Vec<u8>>>,
    /// `(topic, payload)` of every PUBLISH the module sent.
    published: Rc<RefCell<Vec<Published>>>,
    /// True while the MQTT service waits for bytes with nothing left to read.
    idle: Rc<Cell<bool>>,
    closed: Rc<Cell<bool>>,
    /// The MQTT service read the end of the closed link.
    close_seen: Rc<Cell<bool>>,
    /// While set, PUBACKs wait in `held_acks` until [`Broker::release_acks`].
    hold_acks: Rc<Cell<bool>>,
    held_acks: Rc<RefCell<Vec<u8>>>,
    /// PINGREQs the module sent (each answered with a PINGRESP).
    pings: Rc<Cell<u32>>,
}

impl Broker {
    fn deliver(&self, bytes: &[u8]) {
        self.idle.set(false);
        self.inbound.borrow_mut().extend(bytes);
    }

    fn release_acks(&self) {
        self.hold_acks.set(false);
        let acks = core::mem::take(&mut *self.held_acks.borrow_mut());
        self.deliver(&acks);
    }

    /// Splits the module's byte stream into packets as they complete.
    fn handle_outbound(&self) {
        loop {
            let packet = {
                let outbound = self.outbound.borrow();
                let Some((length, header)) = remaining_length(&outbound) else {
                    return;
                };
                if outbound.len() < header + length {
                    return;
                }
                outbound[..header + length].to_vec()
            };
            self.outbound.borrow_mut().drain(..packet.len());
            let (_, header) = remaining_length(&packet).unwrap();
            let body = &packet[header..];
            match packet[0] >> 4 {
                1 => self.deliver(&[0x20, 0x02, 0x00, 0x00]),
                3 => {
                    let topic_length = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let topic = body[2..2 + topic_length].to_vec();
                    let mut rest = &body[2 + topic_length..];
                    if (packet[0] >> 1) & 3 == 1 {
                        let ack = [0x40, 0x02, rest[0], rest[1]];
                        if self.hold_acks.get() {
                            self.held_acks.borrow_mut().extend_from_slice(&ack);
                        } else {
                            self.deliver(&ack);
                        }
                        rest = &rest[2..];
                    }
                    self.published.borrow_mut().push((topic, rest.to_vec()));
                }
                8 => self.deliver(&[0x90, 0x03, body[0], body[1], 0x00]),
                12 => {
                    self.pings.set(self.pings.get() + 1);
                    self.deliver(&[0xD0, 0x00]);
                }
                _ => {}
            }
        }
    }
}

/// `(remaining length, fixed header length)` once the fixed header is complete.
fn remaining_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (index, byte) in bytes.iter().enumerate().skip(1).take(4) {
        value |= usize::from(byte & 0x7f) << (7 * (index - 1));
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

impl ErrorType for Broker {
    type Error = Infallible;
}

impl Read for Broker {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        if self.inbound.borrow().is_empty() {
            self.idle.set(true);
        }
        until(|| !self.inbound.borrow().is_empty() || self.closed.get()).await;
        if self.closed.get() {
            self.close_seen.set(true);
            return Ok(0);
        }
        let mut inbound = self.inbound.borrow_mut();
        let count = inbound.len().min(buffer.len());
        for (slot, byte) in buffer.iter_mut().zip(inbound.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }
}

impl Write for Broker {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        self.outbound.borrow_mut().extend_from_slice(bytes);
        self.handle_outbound();
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl Network for Broker {
    type Stream = Broker;

    async fn connect(&mut self, _host: &[u8], _port: u16) -> Result<Broker, ConnectError> {
        Ok(self.clone())
    }
}

struct NoStation;

impl Wifi for NoStation {
    async fn join(&mut self, _: &[u8], _: &[u8], _: Option<[u8; 6]>) -> Result<(), JoinError> {
        Err(JoinError::NotFound)
    }

    async fn leave(&mut self) -> bool {
        false
    }

    fn association(&self) -> Option<Association> {
        None
    }
}

/// What a test script works with.
struct Host {
    rx: HostRx,
    tx: HostTx,
    clock: ManualClock,
    broker: Broker,
}

impl Host {
    /// Sends `bytes` and waits until the output ends with `expected`.
    async fn exchange(&self, bytes: &[u8], expected: &[u8]) {
        self.rx.send(bytes);
        until(|| self.tx.ends_with(expected)).await;
    }

    /// Connects over plain MQTT (reconnect off) and subscribes to [`TOPIC`].
    async fn connect(&self) {
        self.exchange(
            b"AT+TCDEVINFOSET=0,\"PID0000001\",\"dev1\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\"\r\n",
            b"+TCDEVINFOSET:OK\r\n",
        )
        .await;
        self.exchange(b"ATE0\r\n", b"\r\nOK\r\n").await;
        self.exchange(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n", b"+TCMQTTCONN:OK\r\n")
            .await;
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",0\r\n");
        self.exchange(subscribe.as_bytes(), b"+TCMQTTSUB:OK\r\n")
            .await;
        self.tx.blocks.borrow_mut().clear();
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.tx.output()).into_owned()
    }

    fn published(&self) -> Vec<Published> {
        self.broker.published.borrow().clone()
    }
}

/// Boots the module with a broker and a manual clock and runs `script` against it.
fn with_module<S, Fut>(script: S) -> Host
where
    S: FnOnce(Rc<Host>) -> Fut,
    Fut: Future<Output = ()>,
{
    let host = Rc::new(Host {
        rx: HostRx::default(),
        tx: HostTx::default(),
        clock: ManualClock::default(),
        broker: Broker::default(),
    });
    let mut settings = Settings::new(MockFlash::new(64 * 1024), 0..64 * 1024);
    let mut wifi = NoStation;
    let board = BoardInfo {
        board: "LINUX",
        version: "3.0.0",
        git_hash: "abcdef1",
        build_time: "Sep  3 2020 11:43:26",
        vendor: "Tencent Technology Co. Ltd.",
        mac: [2, 1, 2, 3, 4, 5],
        profile: Profile::Full,
        free_ram: || (1000, 900),
    };
    let mut rx = host.rx.clone();
    let mut tx = host.tx.clone();
    let mut network = host.broker.clone();
    let clock = host.clock.clone();
    block_on(async {
        let module = Module {
            settings: &mut settings,
            wifi: &mut wifi,
            board: &board,
        };
        let cloud = Cloud {
            network: &mut network,
            clock: &clock,
            random: &mut Offline,
            certificates: &Offline,
        };
        let runner = command_core::run_with(&mut rx, &mut tx, module, cloud);
        if let Either::First(exit) = select(runner, script(host.clone())).await {
            panic!("runner exited: {exit:?}; output {:?}", host.output());
        }
    });
    Rc::try_unwrap(host).ok().expect("script finished")
}

fn publish_line(command: &str, qos: u8, len: usize) -> Vec<u8> {
    format!("AT+{command}=\"{TOPIC}\",{qos},{len}\r\n").into_bytes()
}

#[test]
fn payload_sent_before_the_prompt_is_neutralised_and_published() {
    let payload = br#"{\"a\":1\,\"b\":2}"#;
    let host = with_module(|host| async move {
        host.connect().await;
        let mut input = publish_line("TCMQTTPUBL", 1, payload.len());
        input.extend_from_slice(payload);
        input.extend_from_slice(b"\r\nAT\r\n");
        host.exchange(&input, b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+TCMQTTPUBL:OK\r\n\r\nOK\r\n");
    assert_eq!(
        host.tx.blocks.borrow()[0],
        b"OK\r\n>\r\n",
        "one acceptance block"
    );
    assert_eq!(
        host.published(),
        vec![(TOPIC.as_bytes().to_vec(), br#"{ "a" :1 , "b" :2}"#.to_vec())]
    );
}

#[test]
fn raw_payload_split_across_reads_is_published_untouched() {
    let payload: Vec<u8> = b"a\\\"b\r\n\0c\\,d+++e".to_vec();
    let sent = payload.clone();
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBRAW", 0, sent.len()), b">\r\n")
            .await;
        host.rx.send(&sent[..3]);
        host.rx.send(&sent[3..9]);
        host.rx.send(&sent[9..]);
        host.exchange(b"\r", b">\r\n").await;
        host.exchange(b"\n", b"+TCMQTTPUBRAW:OK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+TCMQTTPUBRAW:OK\r\n");
    assert_eq!(host.published(), vec![(TOPIC.as_bytes().to_vec(), payload)]);
}

#[test]
fn cancel_sequence_aborts_with_cme_204_and_publishes_nothing() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBL", 0, 100), b">\r\n")
            .await;
        host.exchange(b"abc+++\r\n", b"+CME ERROR:204\r\n").await;
        host.exchange(b"AT\r\n", b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+CME ERROR:204\r\n\r\nOK\r\n");
    assert!(host.published().is_empty());
}

#[test]
fn twenty_seconds_without_a_byte_abort_and_every_byte_restarts_the_timer() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBRAW", 0, 10), b">\r\n")
            .await;
        until(|| host.clock.armed(20_000)).await;
        host.clock.set(19_999);
        host.rx.send(b"12");
        host.rx.drained().await;
        // The bytes restart the inactivity timer from their arrival: the phase outlives the
        // deadline armed before them.
        host.clock.set(20_000);
        until(|| host.clock.armed(39_999) && !host.clock.armed(20_000)).await;
        host.clock.set(39_998);
        host.rx.send(b"3");
        host.rx.drained().await;
        host.clock.set(39_999);
        until(|| host.clock.armed(59_998) && !host.clock.armed(39_999)).await;
        host.clock.set(59_997);
        host.rx.send(b"4");
        host.rx.drained().await;
        host.clock.set(79_996);
        until(|| host.clock.armed(79_997)).await;
        assert!(!host.tx.ends_with(b"+CME ERROR:204\r\n"));
        // 20 s after the last byte, not a millisecond later.
        host.clock.set(79_997);
        until(|| host.tx.ends_with(b"+CME ERROR:204\r\n")).await;
        host.exchange(b"AT\r\n", b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+CME ERROR:204\r\n\r\nOK\r\n");
    assert!(host.published().is_empty());
}

#[test]
fn bad_terminator_aborts_and_the_next_line_still_works() {
    let host = with_module(|host| async move {
        host.connect().await;
        let mut input = publish_line("TCMQTTPUBL", 0, 5);
        // The bytes through the next CR LF are discarded with the aborted phase.
        input.extend_from_slice(b"helloXY\r\nAT\r\n");
        host.exchange(&input, b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+CME ERROR:204\r\n\r\nOK\r\n");
    assert!(host.published().is_empty());
}

#[test]
fn missing_terminator_aborts_after_one_second_and_silence_ends_the_discard() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBL", 0, 5), b">\r\n")
            .await;
        host.clock.set(100);
        host.rx.send(b"hello");
        until(|| host.clock.armed(1_100)).await;
        host.clock.set(1_100);
        until(|| host.tx.ends_with(b"+CME ERROR:204\r\n")).await;
        // A late byte restarts the silence that ends the discard; 1 s after it, lines count.
        until(|| host.clock.armed(2_100)).await;
        host.clock.set(1_500);
        host.rx.send(b"Z");
        until(|| host.clock.armed(2_500) && !host.clock.armed(2_100)).await;
        host.clock.set(2_500);
        until(|| !host.clock.armed(2_500)).await;
        host.exchange(b"AT\r\n", b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+CME ERROR:204\r\n\r\nOK\r\n");
}

/// PUBLISH QoS 0 of `payload` to [`TOPIC`], as the broker sends it.
fn inbound_publish(payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x30, (2 + TOPIC.len() + payload.len()) as u8, 0x00];
    packet.push(TOPIC.len() as u8);
    packet.extend_from_slice(TOPIC.as_bytes());
    packet.extend_from_slice(payload);
    packet
}

#[test]
fn urcs_are_held_during_the_data_phase_and_precede_the_result() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBL", 0, 2), b">\r\n")
            .await;
        host.broker.deliver(&inbound_publish(b"in"));
        until(|| host.broker.idle.get()).await;
        assert!(
            host.tx.ends_with(b">\r\n"),
            "a URC was written inside the data phase: {:?}",
            host.output()
        );
        host.exchange(b"hi\r\n", b"+TCMQTTPUBL:OK\r\n").await;
    });
    let urc = format!("+TCMQTTRCVPUB:\"{TOPIC}\",2,\"in\"\r\n");
    assert_eq!(host.output(), format!("OK\r\n>\r\n{urc}+TCMQTTPUBL:OK\r\n"));
}

#[test]
fn link_lost_during_the_data_phase_consumes_the_data_then_fails_103() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBRAW", 1, 4), b">\r\n")
            .await;
        host.broker.closed.set(true);
        until(|| host.broker.close_seen.get()).await;
        host.exchange(b"data\r\nAT\r\n", b"\r\nOK\r\n").await;
    });
    assert_eq!(
        host.output(),
        "OK\r\n>\r\n+TCMQTTDISCON,-103\r\n+TCMQTTPUBRAW:FAIL,-103\r\n\r\nOK\r\n"
    );
}

#[test]
fn refused_data_command_releases_the_barrier_and_early_bytes_are_lines() {
    let host = with_module(|host| async move {
        host.exchange(b"ATE0\r\n", b"\r\nOK\r\n").await;
        host.tx.blocks.borrow_mut().clear();
        let mut input = publish_line("TCMQTTPUBL", 0, 4);
        input.extend_from_slice(b"AT\r\n");
        host.exchange(&input, b"\r\nOK\r\n").await;
    });
    assert_eq!(host.output(), "+CME ERROR:208\r\n\r\nOK\r\n");
}

#[test]
fn largest_payload_sent_with_its_command_line_is_published() {
    let payload: Vec<u8> = (0..2048).map(|index| b'a' + (index % 26) as u8).collect();
    let sent = payload.clone();
    let host = with_module(|host| async move {
        host.connect().await;
        let mut input = publish_line("TCMQTTPUBL", 0, 2048);
        input.extend_from_slice(&sent);
        input.extend_from_slice(b"\r\n");
        host.exchange(&input, b"+TCMQTTPUBL:OK\r\n").await;
    });
    assert_eq!(host.output(), "OK\r\n>\r\n+TCMQTTPUBL:OK\r\n");
    assert_eq!(host.published(), vec![(TOPIC.as_bytes().to_vec(), payload)]);
}

#[test]
fn data_command_queued_behind_a_publish_keeps_its_barrier() {
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBL", 1, 2), b">\r\n")
            .await;
        // The next data command and its payload arrive while the first publish still waits
        // for its PUBACK: its barrier must survive the end of the first command.
        host.broker.hold_acks.set(true);
        host.rx.send(b"p1\r\n");
        until(|| host.published().len() == 1).await;
        let mut second = publish_line("TCMQTTPUBRAW", 0, 2);
        second.extend_from_slice(b"p2\r\n");
        host.rx.send(&second);
        until(|| host.rx.chunks.borrow().is_empty()).await;
        host.broker.release_acks();
        until(|| host.tx.ends_with(b"+TCMQTTPUBRAW:OK\r\n")).await;
    });
    assert_eq!(
        host.output(),
        "OK\r\n>\r\n+TCMQTTPUBL:OK\r\nOK\r\n>\r\n+TCMQTTPUBRAW:OK\r\n"
    );
    let payloads: Vec<Vec<u8>> = host.published().into_iter().map(|(_, p)| p).collect();
    assert_eq!(payloads, vec![b"p1".to_vec(), b"p2".to_vec()]);
}

#[test]
fn a_keep_alive_ping_during_the_data_phase_leaves_the_payload_whole() {
    // The payload is written into the session's transmit buffer; the PINGREQ the keep-alive
    // writes meanwhile goes in front of it and must not overwrite a byte of it.
    let payload: Vec<u8> = (0..2048).map(|index| (index * 13 % 251) as u8).collect();
    let sent = payload.clone();
    let host = with_module(|host| async move {
        host.connect().await;
        host.exchange(&publish_line("TCMQTTPUBRAW", 1, 2048), b">\r\n")
            .await;
        host.rx.send(&sent[..2000]);
        let mut now = 0;
        let mut next = 2000;
        // One byte every 19 s keeps the phase alive past the 240 s keep-alive.
        while host.broker.pings.get() == 0 {
            now += 19_000;
            host.clock.set(now);
            host.rx.send(&sent[next..next + 1]);
            next += 1;
            host.rx.drained().await;
            // The timer armed for the byte before fires and is re-armed from this one.
            host.clock.set(now + 1_000);
            until(|| host.clock.armed(now + 20_000)).await;
        }
        assert!(now >= 240_000, "pinged at {now}");
        host.rx.send(&sent[next..]);
        host.exchange(b"\r\n", b"+TCMQTTPUBRAW:OK\r\n").await;
    });
    assert_eq!(host.broker.pings.get(), 1);
    assert_eq!(host.output(), "OK\r\n>\r\n+TCMQTTPUBRAW:OK\r\n");
    assert_eq!(host.published(), vec![(TOPIC.as_bytes().to_vec(), payload)]);
}
