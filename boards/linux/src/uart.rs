//! The AT port of the virtual module: a pseudo-terminal, stdio, or a TCP socket, seen by the
//! engine as `embedded-io-async` `Read` and `Write` halves.
//!
//! A reader thread per port pushes received chunks into a channel, so the async side never
//! blocks on the OS. The PTY keeps its own slave descriptor open: a host that closes and
//! reopens the path reconnects to the same module, and the path survives simulated reboots.

use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use embedded_io_async::{ErrorType, Read, Write};
use tokio::sync::mpsc;

/// Receive half.
pub struct UartRx {
    chunks: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Vec<u8>,
    position: usize,
}

/// Transmit half.
pub struct UartTx {
    sink: Box<dyn io::Write + Send>,
}

impl ErrorType for UartRx {
    type Error = io::Error;
}

impl Read for UartRx {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.position == self.pending.len() {
            match self.chunks.recv().await {
                Some(chunk) => {
                    self.pending = chunk;
                    self.position = 0;
                }
                None => return Ok(0),
            }
        }
        let available = &self.pending[self.position..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.position += count;
        Ok(count)
    }
}

impl UartRx {
    /// Drops everything received so far: input that arrives before the boot banner is never
    /// answered (`at-engine.md` §2).
    pub fn discard_pending(&mut self) {
        self.pending.clear();
        self.position = 0;
        while self.chunks.try_recv().is_ok() {}
    }
}

impl ErrorType for UartTx {
    type Error = io::Error;
}

impl Write for UartTx {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sink.write(bytes)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

fn spawn_reader(mut source: impl io::Read + Send + 'static) -> UartRx {
    let (sender, chunks) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1024];
        loop {
            match source.read(&mut buffer) {
                Ok(0) => break,
                Ok(count) => {
                    if sender.send(buffer[..count].to_vec()).is_err() {
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    UartRx {
        chunks,
        pending: Vec::new(),
        position: 0,
    }
}

/// A pseudo-terminal in raw mode.
pub struct Pty {
    /// Path of the slave side, for the host to open.
    pub path: PathBuf,
    /// Held open so that the master never sees a hang-up when the host closes the path.
    _slave: OwnedFd,
}

/// Opens a raw-mode pseudo-terminal and returns it with the port halves on its master side.
pub fn open_pty() -> io::Result<(Pty, UartRx, UartTx)> {
    use nix::sys::termios;
    let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    let mut settings = termios::tcgetattr(&pair.slave).map_err(io::Error::from)?;
    termios::cfmakeraw(&mut settings);
    termios::tcsetattr(&pair.slave, termios::SetArg::TCSANOW, &settings)
        .map_err(io::Error::from)?;
    let path = nix::unistd::ttyname(&pair.slave).map_err(io::Error::from)?;
    let master = File::from(pair.master);
    let reader = master.try_clone()?;
    Ok((
        Pty {
            path,
            _slave: pair.slave,
        },
        spawn_reader(reader),
        UartTx {
            sink: Box::new(master),
        },
    ))
}

/// The process's stdin and stdout.
pub fn stdio() -> (UartRx, UartTx) {
    (
        spawn_reader(io::stdin()),
        UartTx {
            sink: Box::new(io::stdout()),
        },
    )
}

/// Waits for the next TCP client and serves it.
pub fn accept_tcp(listener: &TcpListener) -> io::Result<(UartRx, UartTx)> {
    let (stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    let reader: TcpStream = stream.try_clone()?;
    Ok((
        spawn_reader(reader),
        UartTx {
            sink: Box::new(stream),
        },
    ))
}
