//! A hostile server against `tls-psk`'s client: handshake, record layer and the established
//! session, through the public `TlsConnection` API over an in-memory transport.
//!
//! The input is a `Scenario` (see `tls_client/script.rs`): key, buffer sizes, transport read
//! sizes, and a script of server actions, either free or a correct flight with edits. The
//! server (`tls_client/server.rs`) answers the client's real flights and models what a correct
//! client must do. Invariants checked:
//! - no panic, and the transport never waits (the whole exchange completes in one poll);
//! - `connect` succeeds only if a correct `Finished` under the shared key reached the client
//!   with nothing refusable before it, and always succeeds then (recommended buffers);
//! - errors are the documented values: no `InvalidConfiguration`, `BufferTooSmall` only with a
//!   small write buffer, `Io` only after a transport failure, `Alert(d)` only for a `d` the
//!   server sent; a locally detected error ends the client's output with its fatal alert, and
//!   nothing follows a fatal alert;
//! - the application data the client hands out is a prefix of what the server sent correctly
//!   before anything refusable (never a byte from a forged or altered record), all of it when
//!   the whole script was correct, with the end the server chose; what the client writes
//!   arrives decrypted unchanged;
//! - besides the application data it was asked to write, the client's output stays
//!   proportional to the records it received (no unbounded alert loops).

#![no_main]

#[path = "tls_client/client_view.rs"]
mod client_view;
#[path = "tls_client/script.rs"]
mod script;
#[path = "tls_client/server.rs"]
mod server;
#[path = "tls_client/wire.rs"]
mod wire;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use libfuzzer_sys::fuzz_target;
use rand_core::{CryptoRng, RngCore};
use script::{Action, Scenario, Step};
use server::{End, Server};
use tls_psk::{Error, HandshakeError, PskConfig, TlsConnection};

/// The in-memory link: the server runs its next action whenever the client reads an empty
/// link.
struct Link {
    server: Server,
    actions: VecDeque<Action>,
    to_client: VecDeque<u8>,
    from_client: Vec<u8>,
    read_sizes: Vec<u8>,
    reads: usize,
    script_done: bool,
}

impl ErrorType for Link {
    type Error = ErrorKind;
}

impl Read for Link {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, ErrorKind> {
        while self.to_client.is_empty() && !self.script_done {
            let wire = match self.actions.pop_front() {
                Some(action) => self.server.act(action, &self.from_client),
                None => {
                    self.script_done = true;
                    self.server.finish(&self.from_client)
                }
            };
            self.to_client.extend(wire);
            self.script_done |= self.server.stream_ended;
        }
        if self.to_client.is_empty() {
            return if self.server.transport_error {
                Err(ErrorKind::ConnectionReset)
            } else {
                Ok(0)
            };
        }
        let size = match self
            .read_sizes
            .get(self.reads % self.read_sizes.len().max(1))
        {
            Some(&size) if size > 0 => usize::from(size),
            _ => usize::MAX,
        };
        self.reads += 1;
        let count = size.min(buffer.len()).min(self.to_client.len());
        for (slot, byte) in buffer.iter_mut().zip(self.to_client.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }
}

impl Write for Link {
    async fn write(&mut self, data: &[u8]) -> Result<usize, ErrorKind> {
        self.from_client.extend_from_slice(data);
        Ok(data.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A counter as RNG: the client's randoms are reproducible, so a crash replays exactly.
struct Counter(u8);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, destination: &mut [u8]) {
        for byte in destination {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(destination);
        Ok(())
    }
}

impl CryptoRng for Counter {}

/// What the client saw once connected.
struct Session {
    received: Vec<u8>,
    written: Vec<u8>,
    /// How reading ended: `Ok` for end of stream or `close_notify`.
    ending: Option<Result<(), Error>>,
}

async fn use_session<T: Read + Write, R: RngCore + CryptoRng>(
    connection: &mut TlsConnection<'_, T, R>,
    steps: Vec<Step>,
) -> Session {
    let mut session = Session {
        received: Vec::new(),
        written: Vec::new(),
        ending: None,
    };
    let mut buffer = [0u8; 256];
    let reads = steps.into_iter().map(Some).chain(std::iter::repeat(None));
    for step in reads.take(100_000) {
        let size = match step {
            Some(Step::Write(data)) => {
                match connection.write(&data).await {
                    Ok(count) => {
                        assert!(count <= data.len() && (count > 0 || data.is_empty()));
                        session.written.extend_from_slice(&data[..count]);
                    }
                    Err(error) => assert_eq!(error, Error::SessionEnded, "write failed"),
                }
                continue;
            }
            Some(Step::Read(size)) => usize::from(size).max(1),
            None => buffer.len(),
        };
        match connection.read(&mut buffer[..size]).await {
            Ok(0) => session.ending = Some(Ok(())),
            Ok(count) => session.received.extend_from_slice(&buffer[..count]),
            Err(error) => session.ending = Some(Err(error)),
        }
        if session.ending.is_some() {
            return session;
        }
    }
    panic!("reading never ended");
}

fn run<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory transport never waits"),
    }
}

fuzz_target!(|scenario: Scenario| check(scenario));

fn check(scenario: Scenario) {
    let mut key: Vec<u8> = scenario.key.iter().copied().take(64).collect();
    if key.is_empty() {
        key.push(0x2A);
    }
    let mut server_key = key.clone();
    server_key[0] ^= u8::from(scenario.server_key_differs);
    let recommended_buffers = scenario.read_buffer.is_none();
    let mut read_buffer = vec![
        0;
        scenario
            .read_buffer
            .map_or(16_437, |n| 64 + 8 * usize::from(n))
    ];
    let config = PskConfig {
        identity: b"CTQS08Y5LGDev01",
        key: &key,
        server_name: scenario.server_name.then_some("fuzz.example"),
    };
    let mut link = Link {
        server: Server::new(server_key, !scenario.server_key_differs),
        actions: scenario.flight.actions().into(),
        to_client: VecDeque::new(),
        from_client: Vec::new(),
        read_sizes: scenario.read_sizes,
        reads: 0,
        script_done: false,
    };
    let steps = scenario.steps;
    let outcome = run(async {
        let connected = TlsConnection::connect(
            &mut link,
            &config,
            Counter(0),
            &mut read_buffer,
        )
        .await;
        match connected {
            Ok(mut connection) => Ok(use_session(&mut connection, steps).await),
            Err(error) => Err(error),
        }
    });
    link.server.read_client(&link.from_client);
    let server = &link.server;
    let perfect = recommended_buffers && !scenario.server_key_differs && !server.oversize;
    match outcome {
        Ok(session) => {
            assert!(
                server.established,
                "handshake accepted without a correct Finished"
            );
            assert!(
                !scenario.server_key_differs,
                "handshake accepted with a different key"
            );
            check_session(server, &session, perfect);
        }
        Err(error) => {
            assert!(
                !(perfect && server.established),
                "correct server refused: {error:?}"
            );
            check_handshake_error(&link, error, scenario.read_buffer.is_some());
        }
    }
    let client = &server.client;
    assert_eq!(
        client.records_after_fatal, 0,
        "the client wrote after a fatal alert"
    );
    // Besides what it was asked to write: its flights, and at most one alert per record in.
    let bound = 1024 + 64 * server.records_sent + client.application_wire;
    assert!(
        link.from_client.len() <= bound,
        "client output out of proportion"
    );
}

fn check_handshake_error(link: &Link, error: HandshakeError, small_buffer: bool) {
    let server = &link.server;
    match error {
        HandshakeError::InvalidConfiguration => panic!("valid configuration refused"),
        HandshakeError::BufferTooSmall => assert!(small_buffer, "{error:?}"),
        HandshakeError::Io(_) => assert!(server.transport_error, "{error:?}"),
        HandshakeError::Alert(description) => assert!(
            server.alerts.contains(&description) || server.forged,
            "alert {description} never sent"
        ),
        _ => {}
    }
    if let Some(description) = error.alert() {
        assert_eq!(
            server.client.last_type,
            Some(21),
            "{error:?} without an alert"
        );
        if let Some(last) = server
            .client
            .alerts
            .last()
            .filter(|_| !server.client.unreadable)
        {
            assert_eq!(*last, [2, description], "{error:?} sent another alert");
        }
    }
}

fn check_session(server: &Server, session: &Session, perfect: bool) {
    assert!(
        server.application.starts_with(&session.received),
        "the client handed out data the server never sent correctly"
    );
    if !server.client.unreadable {
        assert_eq!(
            server.client.application, session.written,
            "written data changed"
        );
    }
    match session.ending {
        Some(Err(Error::SessionEnded)) => panic!("the first failing read said SessionEnded"),
        Some(Err(Error::Alert(description))) => assert!(
            server.alerts.contains(&description) || server.forged,
            "alert {description} never sent"
        ),
        Some(Err(Error::Io(_))) => assert!(server.stream_ended, "Io error on a working link"),
        // Locally detected: the client tells the server with a fatal alert, last thing sent.
        Some(Err(error)) => {
            assert_eq!(
                server.client.last_type,
                Some(21),
                "{error:?} without an alert"
            );
            if let Some(last) = server.client.alerts.last() {
                assert_eq!(last[0], 2, "{error:?} ended with a warning");
            }
        }
        _ => {}
    }
    if !perfect || server.tainted {
        return;
    }
    assert_eq!(session.received, server.application, "correct data lost");
    let expected = match server.end {
        Some(End::CloseNotify | End::StreamClosed) => Ok(()),
        Some(End::FatalAlert(description)) => Err(Error::Alert(description)),
        Some(End::TransportError) => Err(Error::Io(ErrorKind::ConnectionReset)),
        None => return,
    };
    assert_eq!(
        session.ending,
        Some(expected),
        "the session ended otherwise"
    );
}
