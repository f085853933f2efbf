//! An in-memory HTTP server for one client, for the registration tests: it records every
//! connect (host, port, TLS or not) and the request bytes, and answers a complete request
//! with the scripted reply. Connects can be refused with any `ConnectError` or left hanging.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::poll_fn;
use core::task::Poll;
use std::collections::VecDeque;
use std::rc::Rc;

use command_core::{ConnectError, Network};
use embedded_io_async::{ErrorType, Read, Write};

use super::Interrupt;

/// One connect the module made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

#[derive(Default)]
pub struct Server {
    /// Every connect, in order (refused ones too).
    pub connects: RefCell<Vec<Connect>>,
    /// Refuse connects with this error.
    pub refuse: Cell<Option<ConnectError>>,
    /// Leave connects pending forever.
    pub hang: Cell<bool>,
    /// Bytes the module wrote.
    pub request: RefCell<Vec<u8>>,
    /// Written to the module once the request (head and `Content-Length` body) is complete.
    pub reply: RefCell<Vec<u8>>,
    /// Close the connection after the reply.
    pub close_after_reply: Cell<bool>,
    inbound: RefCell<VecDeque<u8>>,
    closed: Cell<bool>,
    read_interrupt: Interrupt,
}

impl Server {
    /// Sends `bytes` to the module now.
    pub fn deliver(&self, bytes: &[u8]) {
        self.inbound.borrow_mut().extend(bytes);
        self.read_interrupt.fire();
    }

    /// The request as text.
    pub fn request_text(&self) -> String {
        String::from_utf8_lossy(&self.request.borrow()).into_owned()
    }

    fn request_complete(&self) -> bool {
        let request = self.request.borrow();
        let text = String::from_utf8_lossy(&request);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .and_then(|value| value.parse::<usize>().ok())
            .unwrap_or(0);
        body.len() >= length
    }
}

pub struct ServerNetwork(pub Rc<Server>);

impl ServerNetwork {
    async fn open(&mut self, host: &[u8], port: u16, tls: bool) -> Result<Stream, ConnectError> {
        let server = &self.0;
        server.connects.borrow_mut().push(Connect {
            host: String::from_utf8_lossy(host).into_owned(),
            port,
            tls,
        });
        if server.hang.get() {
            core::future::pending::<()>().await;
        }
        if let Some(error) = server.refuse.get() {
            return Err(error);
        }
        server.closed.set(false);
        server.request.borrow_mut().clear();
        server.inbound.borrow_mut().clear();
        Ok(Stream(server.clone()))
    }
}

impl Network for ServerNetwork {
    type Stream = Stream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<Stream, ConnectError> {
        self.open(host, port, false).await
    }

    async fn connect_tls(&mut self, host: &[u8], port: u16) -> Result<Stream, ConnectError> {
        self.open(host, port, true).await
    }
}

/// The module's end of a connection.
pub struct Stream(Rc<Server>);

impl ErrorType for Stream {
    type Error = Infallible;
}

impl Read for Stream {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        let server = &self.0;
        poll_fn(|context| {
            let mut inbound = server.inbound.borrow_mut();
            if inbound.is_empty() {
                if server.closed.get() {
                    return Poll::Ready(Ok(0));
                }
                server.read_interrupt.register(context.waker());
                return Poll::Pending;
            }
            let count = inbound.len().min(buffer.len());
            for (slot, byte) in buffer.iter_mut().zip(inbound.drain(..count)) {
                *slot = byte;
            }
            Poll::Ready(Ok(count))
        })
        .await
    }
}

impl Write for Stream {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        let server = &self.0;
        let was_complete = server.request_complete();
        server.request.borrow_mut().extend_from_slice(bytes);
        if !was_complete && server.request_complete() {
            let reply = server.reply.borrow().clone();
            server.deliver(&reply);
            if server.close_after_reply.get() {
                server.closed.set(true);
                server.read_interrupt.fire();
            }
        }
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
