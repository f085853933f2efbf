//! `--uart tcp:ADDR`: the AT port as a TCP server (`docs/decisions.md`: one client at a time,
//! each new client meets a freshly booted module). The port is read and written through the
//! runtime like the PTY and stdio (`boards/linux/src/uart.rs`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::mpsc;
use std::time::Instant;

use common::mosquitto::free_port;
use common::{module_command, Options, Scratch, READY, START_DEADLINE};

/// Reads from `stream` until exactly `expected` has arrived (failing on any other byte).
fn expect(stream: &mut TcpStream, expected: &[u8]) {
    let until = Instant::now() + START_DEADLINE;
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let wait = until.saturating_duration_since(Instant::now());
        assert!(
            !wait.is_zero(),
            "timeout; got {:?}",
            String::from_utf8_lossy(&received)
        );
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(1) => received.push(byte[0]),
            other => panic!(
                "read {other:?}; got {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
        assert_eq!(
            received[..],
            expected[..received.len()],
            "expected {:?}",
            String::from_utf8_lossy(expected)
        );
    }
}

#[test]
fn each_tcp_client_meets_a_booted_module_that_answers() {
    let scratch = Scratch::new("uart-tcp");
    let port = free_port();
    let mut child = Killed(
        module_command(&Options::default())
            .arg("--uart")
            .arg(format!("tcp:127.0.0.1:{port}"))
            .arg("--flash")
            .arg(scratch.flash())
            .env("RUST_LOG", "info")
            .spawn()
            .expect("spawn tc-at-module"),
    );
    // The module logs when its listener is open; connect only then.
    let stderr = child.0.stderr.take().unwrap();
    let (sender, listening) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("AT port listening on") {
                let _ = sender.send(());
            }
        }
    });
    listening
        .recv_timeout(START_DEADLINE)
        .expect("the module reported its listener");

    // The next client gets a freshly booted module: banner, and echo on again after ATE0.
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        expect(&mut stream, READY);
        stream.write_all(b"AT\r\n").unwrap();
        expect(&mut stream, b"AT\r\n\r\nOK\r\n");
        stream.write_all(b"ATE0\r\n").unwrap();
        expect(&mut stream, b"ATE0\r\n\r\nOK\r\n");
        stream.write_all(b"AT\r\n").unwrap();
        expect(&mut stream, b"\r\nOK\r\n");
    }
}

/// Kills the module (by its own id) however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
