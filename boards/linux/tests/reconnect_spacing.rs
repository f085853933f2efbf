//! Reconnect hygiene end to end (`cloud.md` §2.5, §3; `docs/decisions.md`): a fake server on
//! 127.0.0.1 accepts every CONNECT with a CONNACK and follows it with garbage. The module must
//! not turn that into a CONNECT storm: its `+TCMQTTRECONNECTING` lines, and the CONNECTs the
//! server receives, are at least 5 s apart, because only a link that stayed up for a minute
//! restarts the back-off. Times are taken when each line or packet arrives; nothing sleeps.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Module, Options, Scratch, Uart};

/// The spacing the cloud allows between two CONNECTs of one device.
const MIN_SPACING: Duration = Duration::from_secs(5);
/// What observing a line or a packet may add to or take from its real time: a reader thread's
/// wake-up on a loaded machine, far below the spacing under test.
const OBSERVATION_SLACK: Duration = Duration::from_millis(50);
/// The three attempts come after at most 5, 5 and 8 s (back-off base ≤ 1990 ms): the whole
/// exchange is bounded well below this.
const TEST_BOUND: Duration = Duration::from_secs(35);
/// CONNACK (accepted) and then a reserved packet type, in one write.
const CONNACK_THEN_GARBAGE: &[u8] = b"\x20\x02\x00\x00\xf0\x00garbage";

/// Serves every connection on a free port: reads one whole CONNECT, reports when it arrived,
/// answers [`CONNACK_THEN_GARBAGE`] and keeps the socket until the test ends.
fn start_server() -> (u16, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
    let port = listener.local_addr().expect("fake server address").port();
    let (sender, connects) = mpsc::channel();
    // The thread ends with the test process; it blocks only in accept or on a module socket.
    std::thread::spawn(move || {
        let mut sockets = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if let Some(arrived) = read_connect(&mut stream) {
                let _ = stream.write_all(CONNACK_THEN_GARBAGE);
                if sender.send(arrived).is_err() {
                    return;
                }
            }
            sockets.push(stream);
        }
    });
    (port, connects)
}

/// Reads one CONNECT packet; returns when its last byte arrived.
fn read_connect(stream: &mut TcpStream) -> Option<Instant> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut packet = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let count = stream.read(&mut chunk).ok()?;
        if count == 0 {
            return None;
        }
        packet.extend_from_slice(&chunk[..count]);
        if packet[0] != 0x10 {
            return None;
        }
        if let Some(total) = packet_length(&packet) {
            if packet.len() >= total {
                return Some(Instant::now());
            }
        }
    }
}

/// Total length of the MQTT packet at the start of `bytes`, once its header is complete.
fn packet_length(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for (index, byte) in bytes.iter().enumerate().skip(1).take(4) {
        remaining |= usize::from(byte & 0x7f) << (7 * (index - 1));
        if byte & 0x80 == 0 {
            return Some(index + 1 + remaining);
        }
    }
    None
}

fn start_module(scratch: &Scratch, port: u16) -> Module {
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), format!("1883={port}")),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(b"AT+TCDEVINFOSET=0,\"PID0000001\",\"dev1\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\"\r\n");
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module
}

/// Reads the next line within what is left of the test's bound; returns it and when it came.
fn timed_line(module: &mut Module, bound: Instant) -> (String, Instant) {
    module.deadline = bound.saturating_duration_since(Instant::now());
    let line = module.read_line();
    (String::from_utf8_lossy(&line).into_owned(), Instant::now())
}

fn assert_spaced(what: &str, times: &[Instant], minimum: Duration) {
    let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    println!("{what}: gaps {gaps:?}");
    for gap in &gaps {
        assert!(
            *gap >= minimum,
            "{what} only {gap:?} apart (all gaps {gaps:?}); the cloud allows one CONNECT per 5 s"
        );
    }
}

#[test]
fn connack_then_garbage_never_reconnects_faster_than_every_5s() {
    let scratch = Scratch::new("reconnect-spacing");
    let (port, connects) = start_server();
    let mut module = start_module(&scratch, port);
    let bound = Instant::now() + TEST_BOUND;

    module.send(b"AT+TCMQTTCONN=0,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.deadline = bound.saturating_duration_since(Instant::now());
    module.expect(b"+TCMQTTDISCON,-103\r\n");

    // Three rounds of RECONNECTING, RECONNECTED (the CONNACK), DISCON (the garbage).
    let mut reconnecting = Vec::new();
    while reconnecting.len() < 3 {
        let (line, at) = timed_line(&mut module, bound);
        assert_eq!(
            line,
            "+TCMQTTRECONNECTING",
            "round {}",
            reconnecting.len() + 1
        );
        reconnecting.push(at);
        assert_eq!(timed_line(&mut module, bound).0, "+TCMQTTRECONNECTED");
        assert_eq!(timed_line(&mut module, bound).0, "+TCMQTTDISCON,-103");
    }

    let mut connect_times = Vec::new();
    while connect_times.len() < 4 {
        let wait = bound.saturating_duration_since(Instant::now());
        connect_times.push(
            connects
                .recv_timeout(wait)
                .expect("the server saw 4 CONNECTs"),
        );
    }
    // Measured where they are received: the CONNECTs themselves, then the URCs announcing
    // each attempt (the first one also after the host's CONNECT).
    assert_spaced("CONNECTs", &connect_times, MIN_SPACING - OBSERVATION_SLACK);
    let mut announced = vec![connect_times[0]];
    announced.extend(&reconnecting);
    assert_spaced(
        "+TCMQTTRECONNECTING lines",
        &announced,
        MIN_SPACING - OBSERVATION_SLACK,
    );
    // Nothing else is pending on the AT port: the module still answers at once.
    module.deadline = common::DEFAULT_DEADLINE;
    module.expect_quiet(false);
}
