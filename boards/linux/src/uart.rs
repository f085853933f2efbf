//! The AT port of the virtual module: a pseudo-terminal, stdio, or a TCP socket, seen by the
//! engine as `embedded-io-async` `Read` and `Write` halves.
//!
//! Both halves work on the descriptor itself, made non-blocking and registered with the tokio
//! runtime (`AsyncFd`): a read waits for readiness and copies straight from the kernel into the
//! engine's buffer, and a write to a host that does not read waits instead of blocking the
//! whole runtime. No thread, no channel and no copy per chunk sit in between, so an idle port
//! costs nothing. The PTY keeps its own slave descriptor open: a host that closes and reopens
//! the path reconnects to the same module, and the path survives simulated reboots.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;

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
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    async fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        let Readiness::Polled(polled) = &self.readiness else {
            return nix::unistd::write(self.descriptor(), bytes).map_err(io::Error::from);
        };
        loop {
            let mut guard = polled.writable().await?;
            match guard.try_io(|descriptor| {
                nix::unistd::write(descriptor.get_ref(), bytes).map_err(io::Error::from)
            }) {
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => return result,
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

/// Transmit half.
pub struct UartTx {
    port: Rc<Port>,
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

impl Write for UartTx {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.port.write(bytes).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        // Nothing is buffered on our side: every write went to the kernel.
        Ok(())
    }
}

/// Both halves on one descriptor (the PTY master, a TCP socket).
fn halves(descriptor: OwnedFd) -> io::Result<(UartRx, UartTx)> {
    let port = Rc::new(Port::new(descriptor)?);
    Ok((
        UartRx {
            port: Rc::clone(&port),
        },
        UartTx { port },
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
            port: Rc::new(Port::new(output)?),
        },
    ))
}

/// Waits for the next TCP client and serves it.
pub fn accept_tcp(listener: &TcpListener) -> io::Result<(UartRx, UartTx)> {
    let (stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    halves(OwnedFd::from(stream))
}
