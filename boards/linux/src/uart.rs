//! The AT port of the virtual module: a pseudo-terminal, stdio, or a TCP socket, seen by the
//! engine as `embedded-io-async` `Read` and `Write` halves.
//!
//! Both halves work on the descriptor itself, made non-blocking and registered with the tokio
//! runtime (`AsyncFd`): a read waits for readiness and copies straight from the kernel into the
//! engine's buffer, and a write to a host that does not read waits instead of blocking the
//! whole runtime. No thread, no channel and no copy per chunk sit in between, so an idle port
//! costs nothing. The PTY keeps its own slave descriptor open: a host that closes and reopens
//! the path reconnects to the same module, and the path survives simulated reboots.
//!
//! Output is written when the engine has done all it can for now, not block by block: the
//! transmit half collects what the engine writes during one turn (one poll of its future) and
//! [`flushing`] writes it with one system call before the module waits for anything. One AT
//! publish otherwise made three writes (echo and `OK`, `+TCMQTTPUB:OK`, the loop-back URC),
//! each waking the host, and the host's wake-ups cost more than all the module's own work
//! (`docs/performance.md`). The bytes and their order on the wire are unchanged, and nothing
//! waits longer than the rest of the turn that produced it. A short read means the kernel had
//! nothing more, so the port does not ask again until epoll says so (tokio's own streams do
//! the same): no read per line that returns `EAGAIN`.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use embedded_io_async::{ErrorType, Read, Write};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;

/// One descriptor of the AT port, non-blocking while the module runs.
struct Port {
    readiness: Readiness,
    /// The descriptor's status flags before this port made it non-blocking; restored on drop,
    /// because stdin and stdout share their open file with the shell that started us.
    original_flags: Option<OFlag>,
}

enum Readiness {
    /// Pipes, terminals and sockets: woken by the runtime's epoll.
    Polled(AsyncFd<OwnedFd>),
    /// Regular files and `/dev/null` (epoll refuses them): always ready, reads never wait.
    Always(OwnedFd),
}

impl Port {
    fn new(descriptor: OwnedFd) -> io::Result<Port> {
        let flags = OFlag::from_bits_truncate(fcntl(&descriptor, FcntlArg::F_GETFL)?);
        fcntl(&descriptor, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        let original_flags = (!flags.contains(OFlag::O_NONBLOCK)).then_some(flags);
        let readiness = match register(descriptor) {
            Ok(polled) => Readiness::Polled(polled),
            Err(refused) => {
                let (descriptor, error) = refused.into_parts();
                if error.raw_os_error() != Some(nix::libc::EPERM) {
                    return Err(error);
                }
                Readiness::Always(descriptor)
            }
        };
        Ok(Port {
            readiness,
            original_flags,
        })
    }

    fn descriptor(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.readiness {
            Readiness::Polled(polled) => polled.get_ref().as_fd(),
            Readiness::Always(descriptor) => descriptor.as_fd(),
        }
    }

    /// Reads what is there without waiting (`WouldBlock` when nothing is).
    fn try_read(&self, buffer: &mut [u8]) -> io::Result<usize> {
        nix::unistd::read(self.descriptor(), buffer).map_err(io::Error::from)
    }

    async fn read(&self, buffer: &mut [u8]) -> io::Result<usize> {
        let Readiness::Polled(polled) = &self.readiness else {
            return self.try_read(buffer);
        };
        loop {
            let mut guard = polled.readable().await?;
            match guard.try_io(|descriptor| {
                nix::unistd::read(descriptor.get_ref(), buffer).map_err(io::Error::from)
            }) {
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Ok(count)) => {
                    // A short read emptied the kernel's buffer: wait for epoll before reading
                    // again. Bytes that arrived since then raised a newer readiness event,
                    // which this does not clear.
                    if count > 0 && count < buffer.len() {
                        guard.clear_ready();
                    }
                    return Ok(count);
                }
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes some of `bytes` without blocking; `Pending` (with a wake-up registered) while
    /// the host does not read.
    fn poll_write(&self, context: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let Readiness::Polled(polled) = &self.readiness else {
            return Poll::Ready(
                nix::unistd::write(self.descriptor(), bytes).map_err(io::Error::from),
            );
        };
        loop {
            let mut guard = match polled.poll_write_ready(context) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            match guard.try_io(|descriptor| {
                nix::unistd::write(descriptor.get_ref(), bytes).map_err(io::Error::from)
            }) {
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Registers `descriptor` with the runtime's reactor, handing it back when epoll refuses it.
#[allow(unsafe_code)]
fn register(
    descriptor: OwnedFd,
) -> Result<AsyncFd<OwnedFd>, tokio::io::unix::AsyncFdRegisterError<OwnedFd>> {
    // SAFETY: tokio needs the raw descriptor to stay open and mean the same file while the
    // `AsyncFd` lives. An `OwnedFd` closes its descriptor only when dropped, which the
    // `AsyncFd` that owns it does last, and `as_raw_fd` always returns that one descriptor.
    unsafe { AsyncFd::register(descriptor) }
}

impl Drop for Port {
    fn drop(&mut self) {
        if let Some(flags) = self.original_flags {
            let _ = fcntl(self.descriptor(), FcntlArg::F_SETFL(flags));
        }
    }
}

/// Receive half.
pub struct UartRx {
    port: Rc<Port>,
}

/// Transmit half: collects the engine's output until [`flushing`] writes it.
pub struct UartTx {
    output: Rc<Output>,
}

/// Output bytes collected during the engine's turn, always written in order.
pub struct Output {
    port: Rc<Port>,
    pending: RefCell<Vec<u8>>,
    /// A write error met after the engine's turn, reported by the engine's next write.
    failed: Cell<Option<io::ErrorKind>>,
}

/// Output collected before it must be written, whether or not the turn is over. One turn of
/// ordinary traffic is a few hundred bytes (a publish's echo and results, one received
/// message); more buffering would only delay a reply behind a flood for a host that reads
/// slowly (1 KiB is 89 ms at 115200 baud, on top of the kernel's pipe), and such output waits
/// for the host here, as it did in the pipe before.
const OUTPUT_CAPACITY: usize = 1024;

impl Output {
    fn new(port: Rc<Port>) -> Rc<Output> {
        Rc::new(Output {
            port,
            pending: RefCell::new(Vec::with_capacity(OUTPUT_CAPACITY)),
            failed: Cell::new(None),
        })
    }

    /// Writes what is collected until all of it is written or the host stops reading
    /// (`Pending`, with a wake-up registered for when it reads again).
    fn poll_write_out(&self, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut pending = self.pending.borrow_mut();
        while !pending.is_empty() {
            match self.port.poll_write(context, &pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(count)) => {
                    pending.drain(..count);
                }
                Poll::Ready(Err(error)) => {
                    // Nothing more reaches a host that is gone; the engine learns of it at
                    // its next write.
                    pending.clear();
                    self.failed.set(Some(error.kind()));
                    return Poll::Ready(Err(error));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes everything collected, waiting for the host as long as it takes.
    pub async fn drain(&self) -> io::Result<()> {
        poll_fn(|context| self.poll_write_out(context)).await
    }
}

/// Runs `engine`, writing the output it collected each time it has nothing more to do for
/// now (its future is pending), and what the host takes of the rest once it ends.
pub async fn flushing<F: Future>(output: &Output, engine: F) -> F::Output {
    let mut engine = pin!(engine);
    poll_fn(|context| match engine.as_mut().poll(context) {
        Poll::Pending => {
            // An error is kept for the engine's next write; `Pending` left a wake-up for
            // when the host reads again.
            let _ = output.poll_write_out(context);
            Poll::Pending
        }
        Poll::Ready(result) => {
            // The engine has ended (its input closed): what the kernel takes now goes out,
            // but a host that no longer reads does not keep the module alive, as an engine
            // blocked in a write did not before.
            let _ = output.poll_write_out(context);
            Poll::Ready(result)
        }
    })
    .await
}

impl ErrorType for UartRx {
    type Error = io::Error;
}

impl Read for UartRx {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.port.read(buffer).await
    }
}

impl UartRx {
    /// Drops everything received so far: input that arrives before the boot banner is never
    /// answered (`at-engine.md` §2).
    pub fn discard_pending(&mut self) {
        let mut scratch = [0u8; 256];
        while matches!(self.port.try_read(&mut scratch), Ok(count) if count > 0) {}
    }
}

impl ErrorType for UartTx {
    type Error = io::Error;
}

impl UartTx {
    /// The output this half collects, for [`flushing`].
    pub fn output(&self) -> Rc<Output> {
        Rc::clone(&self.output)
    }
}

impl Write for UartTx {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(kind) = self.output.failed.take() {
            return Err(kind.into());
        }
        if bytes.is_empty() {
            return Ok(0);
        }
        if self.output.pending.borrow().len() >= OUTPUT_CAPACITY {
            self.output.drain().await?;
        }
        let mut pending = self.output.pending.borrow_mut();
        let count = bytes.len().min(OUTPUT_CAPACITY - pending.len());
        pending.extend_from_slice(&bytes[..count]);
        Ok(count)
    }

    async fn flush(&mut self) -> io::Result<()> {
        // The engine's turn ends before it waits for anything, and `flushing` writes then: the
        // host sees these bytes before the module does anything else it could see.
        match self.output.failed.take() {
            Some(kind) => Err(kind.into()),
            None => Ok(()),
        }
    }
}

/// Both halves on one descriptor (the PTY master, a TCP socket).
fn halves(descriptor: OwnedFd) -> io::Result<(UartRx, UartTx)> {
    let port = Rc::new(Port::new(descriptor)?);
    Ok((
        UartRx {
            port: Rc::clone(&port),
        },
        UartTx {
            output: Output::new(port),
        },
    ))
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
    let (rx, tx) = halves(pair.master)?;
    Ok((
        Pty {
            path,
            _slave: pair.slave,
        },
        rx,
        tx,
    ))
}

/// The process's stdin and stdout.
pub fn stdio() -> io::Result<(UartRx, UartTx)> {
    let input = io::stdin().as_fd().try_clone_to_owned()?;
    let output = io::stdout().as_fd().try_clone_to_owned()?;
    Ok((
        UartRx {
            port: Rc::new(Port::new(input)?),
        },
        UartTx {
            output: Output::new(Rc::new(Port::new(output)?)),
        },
    ))
}

/// Waits for the next TCP client and serves it.
pub fn accept_tcp(listener: &TcpListener) -> io::Result<(UartRx, UartTx)> {
    let (stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    halves(OwnedFd::from(stream))
}
