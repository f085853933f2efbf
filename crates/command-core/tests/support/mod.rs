//! A deterministic single-task executor and in-memory board for whole-engine tests.
//!
//! The engine future is polled only when something woke it, with a fresh waker per poll (an
//! executor whose waker is never `will_wake`-equal to the last one, as tokio's `block_on`
//! waker is to its own clone). Every poll and every wake is counted. Time is a manual clock
//! that moves only when the engine is asleep: to the earliest armed deadline, never past the
//! limit a test gives. The UART and the broker link wake the engine when bytes arrive, like a
//! driver interrupt would.

#![allow(dead_code)]

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Wake;

use command_core::{
    Association, BoardInfo, Clock, Cloud, ConnectError, JoinError, Module, Network, Offline,
    Profile, Wifi,
};
use embedded_io_async::{ErrorType, Read, Write};
use storage::mock::MockFlash;
use storage::Settings;

pub mod http;

/// The topic the tests subscribe to and publish on.
pub const TOPIC: &str = "PID0000001/dev1/data";

/// Wake-up bookkeeping shared by every waker the executor hands out.
#[derive(Default)]
pub struct Counters {
    pub woken: AtomicBool,
    pub wakes: AtomicUsize,
}

struct PollWaker(Arc<Counters>);

impl Wake for PollWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wakes.fetch_add(1, Ordering::Relaxed);
        self.0.woken.store(true, Ordering::Relaxed);
    }
}

/// A registered waker of one fake device.
#[derive(Default)]
pub struct Interrupt(RefCell<Option<Waker>>);

impl Interrupt {
    fn register(&self, waker: &Waker) {
        *self.0.borrow_mut() = Some(waker.clone());
    }

    fn fire(&self) {
        if let Some(waker) = self.0.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// Manual time with armed deadlines.
#[derive(Default)]
pub struct ManualClock {
    /// UTC seconds the board reports; `None`: not synchronised (the default).
    pub utc: Cell<Option<u64>>,
    now: Cell<u64>,
    next_id: Cell<u64>,
    timers: RefCell<Vec<(u64, u64, Waker)>>,
}

impl ManualClock {
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// The earliest armed deadline.
    fn next_deadline(&self) -> Option<u64> {
        self.timers
            .borrow()
            .iter()
            .map(|(_, deadline, _)| *deadline)
            .min()
    }

    /// Moves to `time` and wakes every timer due.
    fn advance(&self, time: u64) {
        self.now.set(time.max(self.now.get()));
        let due: Vec<Waker> = self
            .timers
            .borrow()
            .iter()
            .filter(|(_, deadline, _)| *deadline <= time)
            .map(|(_, _, waker)| waker.clone())
            .collect();
        for waker in due {
            waker.wake();
        }
    }
}

struct Sleep<'a> {
    clock: &'a ManualClock,
    deadline: u64,
    id: u64,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let mut timers = self.clock.timers.borrow_mut();
        timers.retain(|(id, _, _)| *id != self.id);
        if self.clock.now.get() >= self.deadline {
            return Poll::Ready(());
        }
        timers.push((self.id, self.deadline, context.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        self.clock
            .timers
            .borrow_mut()
            .retain(|(id, _, _)| *id != self.id);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn sleep_until(&self, deadline_ms: u64) -> impl Future<Output = ()> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Sleep {
            clock: self,
            deadline: deadline_ms,
            id,
        }
    }

    fn utc_seconds(&self) -> Option<u64> {
        self.utc.get()
    }
}

/// The host's side of the UART.
#[derive(Default)]
pub struct Uart {
    input: RefCell<VecDeque<u8>>,
    input_interrupt: Interrupt,
    output: RefCell<Vec<u8>>,
    /// Bytes the host reads per write call; `None` takes everything at once.
    pub write_limit: Cell<Option<usize>>,
    /// While set, writes wait (a host that stopped reading).
    pub stalled: Cell<bool>,
    output_interrupt: Interrupt,
}

impl Uart {
    pub fn send(&self, bytes: &[u8]) {
        self.input.borrow_mut().extend(bytes);
        self.input_interrupt.fire();
    }

    pub fn output(&self) -> Vec<u8> {
        self.output.borrow().clone()
    }

    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output.borrow()).into_owned()
    }

    pub fn take_output(&self) -> Vec<u8> {
        core::mem::take(&mut *self.output.borrow_mut())
    }

    pub fn resume(&self) {
        self.stalled.set(false);
        self.output_interrupt.fire();
    }
}

pub struct UartRx(pub Rc<Uart>);
pub struct UartTx(pub Rc<Uart>);

impl ErrorType for UartRx {
    type Error = Infallible;
}

impl Read for UartRx {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        let uart = &self.0;
        poll_fn(|context| {
            let mut input = uart.input.borrow_mut();
            if input.is_empty() {
                uart.input_interrupt.register(context.waker());
                return Poll::Pending;
            }
            let count = input.len().min(buffer.len());
            for (slot, byte) in buffer.iter_mut().zip(input.drain(..count)) {
                *slot = byte;
            }
            Poll::Ready(Ok(count))
        })
        .await
    }
}

impl ErrorType for UartTx {
    type Error = Infallible;
}

impl Write for UartTx {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        let uart = &self.0;
        poll_fn(|context| {
            if uart.stalled.get() {
                uart.output_interrupt.register(context.waker());
                return Poll::Pending;
            }
            let count = uart
                .write_limit
                .get()
                .unwrap_or(bytes.len())
                .min(bytes.len());
            uart.output.borrow_mut().extend_from_slice(&bytes[..count]);
            if uart.write_limit.get().is_some() {
                // One chunk per wake-up, as a FIFO that drains at line speed.
                uart.stalled.set(true);
            }
            Poll::Ready(Ok(count))
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// An in-memory MQTT broker for one client: CONNACK, SUBACK, PUBACK, PINGRESP, and every
/// PUBLISH the module sends is delivered back to it (it subscribed to what it publishes).
#[derive(Default)]
pub struct Broker {
    inbound: RefCell<VecDeque<u8>>,
    read_interrupt: Interrupt,
    outbound: RefCell<Vec<u8>>,
    /// Packet types (high nibble of the first byte) the module sent, in order.
    pub sent: RefCell<Vec<u8>>,
    /// Packet ids of the PUBACKs the module sent, in order.
    pub acknowledged: RefCell<Vec<u16>>,
    /// Bytes of the inbound stream the module read so far.
    pub read_total: Cell<usize>,
    pub connects: Cell<usize>,
    /// While set, the module's reads see the end of the stream.
    closed: Cell<bool>,
    /// Delivered right before the next SUBACK (a message in a reconnect window).
    pub before_suback: RefCell<Vec<u8>>,
    /// Topic and payload of every PUBLISH the module sent, in order.
    pub published: RefCell<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Filters of every SUBSCRIBE the module sent, in order.
    pub subscribed: RefCell<Vec<Vec<u8>>>,
    /// SUBACK return code of the SUBSCRIBEs whose filter starts with the key (0x80 refuses);
    /// `None`: no SUBACK at all. Other filters are granted QoS 0.
    pub suback_overrides: RefCell<Vec<(Vec<u8>, Option<u8>)>>,
}

impl Broker {
    pub fn deliver(&self, bytes: &[u8]) {
        self.inbound.borrow_mut().extend(bytes);
        self.read_interrupt.fire();
    }

    /// Closes the module's connection (its next read returns 0).
    pub fn close(&self) {
        self.closed.set(true);
        self.read_interrupt.fire();
    }

    pub fn pending_inbound(&self) -> usize {
        self.inbound.borrow().len()
    }

    pub fn count_sent(&self, packet_type: u8) -> usize {
        self.sent
            .borrow()
            .iter()
            .filter(|&&t| t == packet_type)
            .count()
    }

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
            self.sent.borrow_mut().push(packet[0] >> 4);
            match packet[0] >> 4 {
                1 => self.deliver(&[0x20, 0x02, 0x00, 0x00]),
                3 => {
                    let topic_length = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let topic = &body[2..2 + topic_length];
                    let mut payload = &body[2 + topic_length..];
                    if (packet[0] >> 1) & 3 == 1 {
                        self.deliver(&[0x40, 0x02, payload[0], payload[1]]);
                        payload = &payload[2..];
                    }
                    self.published
                        .borrow_mut()
                        .push((topic.to_vec(), payload.to_vec()));
                    self.deliver(&publish(0, topic, payload, 0));
                }
                4 => self
                    .acknowledged
                    .borrow_mut()
                    .push(u16::from_be_bytes([body[0], body[1]])),
                8 => {
                    let filter_length = usize::from(u16::from_be_bytes([body[2], body[3]]));
                    self.subscribed
                        .borrow_mut()
                        .push(body[4..4 + filter_length].to_vec());
                    let filter = &body[4..4 + filter_length];
                    let code = self
                        .suback_overrides
                        .borrow()
                        .iter()
                        .find(|(prefix, _)| filter.starts_with(prefix))
                        .map_or(Some(0x00), |(_, code)| *code);
                    let injected = core::mem::take(&mut *self.before_suback.borrow_mut());
                    self.deliver(&injected);
                    if let Some(code) = code {
                        self.deliver(&[0x90, 0x03, body[0], body[1], code]);
                    }
                }
                12 => self.deliver(&[0xd0, 0x00]),
                _ => {}
            }
        }
    }
}

/// A PUBLISH packet (`packet_id` used for QoS 1 only).
pub fn publish(qos: u8, topic: &[u8], payload: &[u8], packet_id: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic);
    if qos > 0 {
        body.extend_from_slice(&packet_id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut packet = vec![0x30 | (qos << 1)];
    let mut length = body.len();
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if length == 0 {
            break;
        }
    }
    packet.extend_from_slice(&body);
    packet
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

/// The module's end of a broker connection.
pub struct BrokerStream(pub Rc<Broker>);

impl ErrorType for BrokerStream {
    type Error = Infallible;
}

impl Read for BrokerStream {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        let broker = &self.0;
        poll_fn(|context| {
            if broker.closed.get() {
                return Poll::Ready(Ok(0));
            }
            let mut inbound = broker.inbound.borrow_mut();
            if inbound.is_empty() {
                broker.read_interrupt.register(context.waker());
                return Poll::Pending;
            }
            let count = inbound.len().min(buffer.len());
            for (slot, byte) in buffer.iter_mut().zip(inbound.drain(..count)) {
                *slot = byte;
            }
            broker.read_total.set(broker.read_total.get() + count);
            Poll::Ready(Ok(count))
        })
        .await
    }
}

impl Write for BrokerStream {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        self.0.outbound.borrow_mut().extend_from_slice(bytes);
        self.0.handle_outbound();
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

pub struct BrokerNetwork(pub Rc<Broker>);

impl Network for BrokerNetwork {
    type Stream = BrokerStream;

    async fn connect(&mut self, _host: &[u8], _port: u16) -> Result<BrokerStream, ConnectError> {
        self.0.connects.set(self.0.connects.get() + 1);
        self.0.closed.set(false);
        self.0.inbound.borrow_mut().clear();
        self.0.outbound.borrow_mut().clear();
        Ok(BrokerStream(self.0.clone()))
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

/// The test's view of a running module.
pub struct Bench {
    pub uart: Rc<Uart>,
    pub broker: Rc<Broker>,
    pub clock: Rc<ManualClock>,
    counters: Arc<Counters>,
    pub polls: Cell<usize>,
}

impl Bench {
    pub fn wakes(&self) -> usize {
        self.counters.wakes.load(Ordering::Relaxed)
    }

    /// Polls `engine` while it is woken; panics after `budget` polls without falling asleep.
    pub fn settle<F: Future + ?Sized>(&self, mut engine: Pin<&mut F>, budget: usize) {
        let mut used = 0;
        while self.counters.woken.swap(false, Ordering::Relaxed) {
            used += 1;
            assert!(
                used <= budget,
                "the engine did not fall asleep within {budget} polls (woken by every poll)"
            );
            self.polls.set(self.polls.get() + 1);
            let waker = Waker::from(Arc::new(PollWaker(self.counters.clone())));
            if engine
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                panic!("engine exited; output {:?}", self.uart.output_text());
            }
        }
    }

    /// Lets simulated time pass up to `until`, timer by timer, settling after each.
    pub fn run_until<F: Future + ?Sized>(
        &self,
        mut engine: Pin<&mut F>,
        until: u64,
        budget: usize,
    ) {
        self.settle(engine.as_mut(), budget);
        while let Some(deadline) = self.clock.next_deadline().filter(|d| *d <= until) {
            self.clock.advance(deadline);
            self.settle(engine.as_mut(), budget);
        }
        self.clock.advance(until);
        self.settle(engine.as_mut(), budget);
    }

    /// Sends a line and settles; returns what the module wrote meanwhile.
    pub fn exchange<F: Future + ?Sized>(&self, engine: Pin<&mut F>, line: &[u8]) -> String {
        self.uart.take_output();
        self.uart.send(line);
        self.settle(engine, 10_000);
        String::from_utf8_lossy(&self.uart.take_output()).into_owned()
    }
}

/// Boots a module on the bench and hands the pinned engine to `script`.
pub fn with_engine(script: impl FnOnce(&Bench, Pin<&mut dyn Future<Output = command_core::Exit>>)) {
    with_network(
        Profile::Full,
        |bench| BrokerNetwork(bench.broker.clone()),
        script,
    );
}

/// [`with_engine`] on `profile` with the network `make` builds (instead of the broker).
pub fn with_network<N: Network>(
    profile: Profile,
    make: impl FnOnce(&Bench) -> N,
    script: impl FnOnce(&Bench, Pin<&mut dyn Future<Output = command_core::Exit>>),
) {
    let settings = Settings::new(MockFlash::new(104 * 1024), 0..64 * 1024)
        .with_certificate_area(64 * 1024..104 * 1024);
    with_settings(profile, settings, make, script);
}

/// [`with_network`] on the flash of `settings` (an image area, say).
pub fn with_settings<N: Network>(
    profile: Profile,
    mut settings: Settings<MockFlash>,
    make: impl FnOnce(&Bench) -> N,
    script: impl FnOnce(&Bench, Pin<&mut dyn Future<Output = command_core::Exit>>),
) {
    let bench = Bench {
        uart: Rc::new(Uart::default()),
        broker: Rc::new(Broker::default()),
        clock: Rc::new(ManualClock::default()),
        counters: Arc::new(Counters::default()),
        polls: Cell::new(0),
    };
    let mut wifi = NoStation;
    let board = BoardInfo {
        board: "LINUX",
        version: "3.0.0",
        git_hash: "abcdef1",
        build_time: "Sep  3 2020 11:43:26",
        vendor: "Tencent Technology Co. Ltd.",
        mac: [2, 1, 2, 3, 4, 5],
        profile,
        free_ram: || (1000, 900),
    };
    let mut rx = UartRx(bench.uart.clone());
    let mut tx = UartTx(bench.uart.clone());
    let mut network = make(&bench);
    let clock = bench.clock.clone();
    let module = Module {
        settings: &mut settings,
        wifi: &mut wifi,
        board: &board,
    };
    let cloud = Cloud {
        network: &mut network,
        clock: &*clock,
        random: &mut Offline,
        certificates: &Offline,
    };
    let engine = command_core::run_with(&mut rx, &mut tx, module, cloud);
    let mut engine = core::pin::pin!(engine);
    bench.counters.woken.store(true, Ordering::Relaxed);
    script(&bench, engine.as_mut());
}

/// Stores the device and connects over plain MQTT with keep-alive `keep_alive_s`, echo off.
pub fn connect<F: Future + ?Sized>(bench: &Bench, engine: Pin<&mut F>, keep_alive_s: u32) {
    connect_with(bench, engine, keep_alive_s, false);
}

/// [`connect`] with automatic reconnect on or off.
pub fn connect_with<F: Future + ?Sized>(
    bench: &Bench,
    mut engine: Pin<&mut F>,
    keep_alive_s: u32,
    reconnect: bool,
) {
    bench.settle(engine.as_mut(), 10_000);
    let stored = bench.exchange(
        engine.as_mut(),
        b"AT+TCDEVINFOSET=0,\"PID0000001\",\"dev1\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\"\r\n",
    );
    assert!(stored.ends_with("+TCDEVINFOSET:OK\r\n"), "{stored:?}");
    assert_eq!(
        bench.exchange(engine.as_mut(), b"ATE0\r\n"),
        "ATE0\r\n\r\nOK\r\n"
    );
    let line = format!(
        "AT+TCMQTTCONN=0,5000,{keep_alive_s},1,{}\r\n",
        u8::from(reconnect)
    );
    let connected = bench.exchange(engine.as_mut(), line.as_bytes());
    assert_eq!(connected, "OK\r\n+TCMQTTCONN:OK\r\n");
}
