//! The broker link as one type for both transports: plain TCP (TLS mode 0) or TLS-PSK over TCP
//! (mode 1), so the service loop is compiled once, whichever mode a connect chose.
//!
//! Opening a link is a stage of AT+TCMQTTCONN and of every reconnect attempt: DNS and TCP
//! (`-602`, `-603`), then the TLS handshake (`-703`). Mode 2 (client certificates) is the
//! board's certificate TLS ([`Network::connect_certificate`]), whose stream is used like a
//! plain one; its failures carry their own codes (`-702` certificate, `-703` handshake), and
//! a board without it fails with `-702` before any connection.

use core::future::Future;
use core::ops::Range;

use embedded_io_async::{ErrorKind, Read, Write};
use mqtt_session::tencent::Identity;
use rand_core::{CryptoRng, RngCore};
use tls_psk::{Plaintext, PskCredentials, TlsConnection};

use super::super::HOST_MAX;
use super::{PLAIN_PORT, TLS_PORT};
use crate::board::{ClientCertificate, Network};

/// `+TCMQTTCONN:FAIL` code when the TLS handshake fails (`errors.md` §3).
pub(super) const TLS_FAILED: i32 = -703;
/// `+TCMQTTCONN:FAIL` code when the TCP connection fails (`errors.md` §3).
const TCP_FAILED: i32 = -603;
/// `+TCMQTTCONN:FAIL` code when the module's certificate cannot be used (mode 2).
pub(super) const CERTIFICATE_UNUSABLE: i32 = -702;

/// A connected transport to the broker.
// One link exists at a time and there is no heap to box the TLS state into.
#[allow(clippy::large_enum_variant)]
pub(super) enum Link<'buffer, S, R> {
    /// TLS mode 0, and mode 2 (a board stream: the board's TLS stack owns its own buffers).
    /// The idle TLS receive buffer holds what was read and not yet taken by the session.
    Plain {
        stream: S,
        buffer: &'buffer mut [u8],
        received: Range<usize>,
    },
    /// TLS mode 1: the receive buffer is the service's; received bytes stay where they
    /// were decrypted.
    Tls(TlsConnection<'buffer, S, R>),
}

/// The piece of the session's transmit bytes a plain stream is given at once: as large as the
/// TLS path's pieces (`tls_psk`), whose future lies in the same place.
const PLAIN_PIECE: usize = 64;

/// A link error is reduced to its kind: any failure ends the link, the cause is not reported.
fn link_error(error: impl embedded_io_async::Error) -> ErrorKind {
    error.kind()
}

impl<'buffer, S: Read + Write, R: RngCore + CryptoRng> Link<'buffer, S, R> {
    fn plain(stream: S, buffer: &'buffer mut [u8]) -> Self {
        Link::Plain {
            stream,
            buffer,
            received: 0..0,
        }
    }

    /// Writes the first `count` bytes `source` lends (with TLS one record of them) and
    /// flushes. The bytes stay where `source` keeps them (the session's transmit buffer) and
    /// are borrowed one piece at a time, never across the transport's awaits: TLS seals the
    /// record in pieces (`tls_psk::Plaintext`), a plain stream gets them in pieces of
    /// [`PLAIN_PIECE`] bytes. They must stay the same until the send returned.
    ///
    /// Not cancel-safe: a failed or cancelled send leaves the link unusable (drop it).
    // An `async` block, not an `async fn`: the arguments are kept once in the future. One
    // await per piece, on the stream's write, with the piece made synchronously.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn send<'f, P: Plaintext>(
        &'f mut self,
        source: &'f P,
        count: usize,
    ) -> impl Future<Output = Result<(), ErrorKind>> + use<'f, 'buffer, S, R, P> {
        async move {
            match self {
                Link::Plain { stream, .. } => {
                    // The piece's scope ends before the flush: it is not kept across that
                    // await, where the TLS branch's larger future lies.
                    {
                        let mut piece = [0u8; PLAIN_PIECE];
                        let mut offset = 0;
                        while offset < count {
                            let length = (count - offset).min(PLAIN_PIECE);
                            source
                                .lend(|bytes| {
                                    let lent = bytes.get(offset..offset + length)?;
                                    piece[..length].copy_from_slice(lent);
                                    Some(())
                                })
                                .ok_or(ErrorKind::InvalidInput)?;
                            let mut written = 0;
                            while written < length {
                                match stream.write(&piece[written..length]).await {
                                    Ok(0) => return Err(ErrorKind::WriteZero),
                                    Ok(sent) => written += sent,
                                    Err(error) => return Err(link_error(error)),
                                }
                            }
                            offset += length;
                        }
                    }
                    stream.flush().await.map_err(link_error)
                }
                Link::Tls(connection) => {
                    connection
                        .send_from(source, count)
                        .await
                        .map_err(link_error)?;
                    connection.flush().await.map_err(link_error)
                }
            }
        }
    }

    /// Waits until received bytes are available and returns how many; 0 when the peer
    /// closed. The bytes stay in the link's buffer ([`received`](Self::received)) until
    /// [`consume`](Self::consume)d: the session parses them there, no copy in between.
    ///
    /// Cancel-safe: TCP by the `Network` contract, TLS by `tls-psk`'s; nothing is marked
    /// received before a read completed.
    pub(super) async fn fill(&mut self) -> Result<usize, ErrorKind> {
        match self {
            Link::Plain {
                stream,
                buffer,
                received,
                ..
            } => {
                if Range::is_empty(received) {
                    let count = stream.read(buffer).await.map_err(link_error)?;
                    *received = 0..count;
                }
                Ok(received.len())
            }
            Link::Tls(connection) => connection.fill_plaintext().await.map_err(link_error),
        }
    }

    /// The received bytes not yet consumed.
    pub(super) fn received(&self) -> &[u8] {
        match self {
            Link::Plain {
                buffer, received, ..
            } => &buffer[received.clone()],
            Link::Tls(connection) => connection.plaintext(),
        }
    }

    /// Gives up the first `count` received bytes.
    pub(super) fn consume(&mut self, count: usize) {
        match self {
            Link::Plain { received, .. } => {
                received.start += count.min(received.len());
            }
            Link::Tls(connection) => connection.consume(count),
        }
    }

    /// Ends the link politely: TLS sends `close_notify`; TCP just closes on drop. The
    /// caller drops the link afterwards (borrowed, not moved: no second copy of it).
    pub(super) async fn close(&mut self) {
        if let Link::Tls(connection) = self {
            connection.close_notify().await;
        }
    }
}

/// Where to connect and how, from the last AT+TCMQTTCONN: every reconnect repeats it. The
/// service keeps it for good, and the handshake reads the PSK from it
/// ([`PskCredentials`]): the identity is kept once, here, not copied into the handshake.
pub(super) struct Target {
    /// Broker host name or IP literal.
    pub host: heapless::Vec<u8, HOST_MAX, u8>,
    /// 0, 1 or 2: also the port ([`Target::port`]).
    pub tls_mode: u8,
    /// Client id (`<pid><dn>`, the PSK identity), key (decoded secret, the PSK) and the
    /// CONNECT's authentication; the session writes each CONNECT from it.
    pub identity: Option<Identity>,
}

impl Target {
    /// 1883 for TLS mode 0, 8883 for modes 1 and 2, before the board's port mapping: derived
    /// from the mode, not kept beside it.
    pub fn port(&self) -> u16 {
        if self.tls_mode == 0 {
            PLAIN_PORT
        } else {
            TLS_PORT
        }
    }
}

impl PskCredentials for Target {
    fn identity(&self) -> &[u8] {
        self.identity
            .as_ref()
            .map_or(&[], |identity| identity.client_id().as_bytes())
    }

    fn key(&self) -> &[u8] {
        self.identity
            .as_ref()
            .map_or(&[], |identity| identity.key().as_bytes())
    }

    fn server_name(&self) -> Option<&str> {
        server_name(&self.host)
    }
}

/// The SNI server name: the host, unless it is an IPv4 or IPv6 literal (`cloud.md` §1.1).
fn server_name(host: &[u8]) -> Option<&str> {
    let name = core::str::from_utf8(host).ok()?;
    let literal = name.parse::<core::net::IpAddr>().is_ok();
    (!literal && !name.is_empty()).then_some(name)
}

/// The TLS receive buffer, lent to the link being opened, which takes it once its transport
/// is up. A thin reference to an array, lent by reference: a slice is twice the size, in the
/// caller's state and in every future it passes through. There is no transmit buffer: the
/// session's bytes are sent from where they lie ([`Link::send`]), and the TLS handshake
/// writes its messages at the front of this buffer.
pub(super) type Buffers<'buffer, const R: usize> = Option<&'buffer mut [u8; R]>;

/// Takes the lent buffer (always there: the service lends it to each opening).
fn take_buffers<'buffer, const R: usize>(
    buffers: &mut Buffers<'buffer, R>,
) -> Result<&'buffer mut [u8; R], i32> {
    buffers.take().ok_or(TCP_FAILED)
}

/// Opens the link to `target` into `slot`: TCP, then for mode 1 the TLS-PSK handshake into
/// the lent buffer, run where the connection lies in `slot` (not
/// moved out of a future afterwards). `slot` is `None` unless the link opened; a cancelled
/// opening may leave a half-open link there, which the caller drops. `client` is the
/// certificate of mode 2; `random` makes the connection's generator.
///
/// # Errors
/// The SDK code of the first failing stage: `-602`, `-603`, `-703`, or `-702` for mode 2.
// Everything is lent, the generator made only when needed: an async fn's arguments are stored
// twice in its future, and this future is part of the service's largest phase.
// An `async` block, not an `async fn`, for the same reason: its arguments are kept once.
#[allow(clippy::manual_async_fn)]
pub(super) fn open<'f, 'c, 'buffer, N, R, G, const RECEIVE: usize>(
    network: &'f mut N,
    target: &'f Target,
    client: Option<&'f ClientCertificate<'c>>,
    random: G,
    buffers: &'f mut Buffers<'buffer, RECEIVE>,
    slot: &'f mut Option<Link<'buffer, N::Stream, R>>,
) -> impl Future<Output = Result<(), i32>> + use<'f, 'c, 'buffer, N, R, G, RECEIVE>
where
    N: Network,
    R: RngCore + CryptoRng,
    G: FnOnce() -> R,
{
    async move {
        match target.tls_mode {
            0 => {}
            // Mode 1 without an identity cannot happen (the executor always sends one).
            1 if target.identity.is_none() => return Err(TLS_FAILED),
            1 => {}
            2 => {
                let client = client.ok_or(CERTIFICATE_UNUSABLE)?;
                let stream = network
                    .connect_certificate(&target.host, target.port(), *client)
                    .await
                    .map_err(|error| error.code())?;
                *slot = Some(Link::plain(stream, take_buffers(buffers)?));
                return Ok(());
            }
            _ => return Err(CERTIFICATE_UNUSABLE),
        }
        let stream = network
            .connect(&target.host, target.port())
            .await
            .map_err(|error| error.code())?;
        let read_buffer = take_buffers(buffers)?;
        if target.tls_mode == 0 {
            *slot = Some(Link::plain(stream, read_buffer));
            return Ok(());
        }
        // Every handshake failure is -703, a transport error in the middle of it included: the
        // TCP stage already succeeded, and a server that rejects the PSK may simply close.
        let connection = TlsConnection::new(stream, random(), read_buffer);
        let Link::Tls(connection) = slot.insert(Link::Tls(connection)) else {
            unreachable!("the slot was just filled with a TLS link");
        };
        if connection.establish(target).await.is_err() {
            *slot = None;
            return Err(TLS_FAILED);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{open, server_name, Target, CERTIFICATE_UNUSABLE};
    use crate::board::Offline;
    use crate::mqtt::TlsRandom;
    use mqtt_session::tencent::{Authentication, Identity};

    /// Opens with `tls_mode` on a board whose every DNS lookup fails (`-602`).
    fn open_offline(tls_mode: u8) -> i32 {
        let identity = Identity::new(
            "PID",
            "dev",
            "AAECAwQFBgcICQoLDA0ODw==",
            Authentication::Transport,
        )
        .unwrap();
        let mut network = Offline;
        let mut read = [0u8; 128];
        let target = Target {
            host: heapless::Vec::from_slice(b"PID.iotcloud.tencentdevices.com").unwrap(),
            tls_mode,
            identity: Some(identity),
        };
        let client = crate::board::ClientCertificate {
            certificate: b"cert",
            key: b"key",
        };
        let mut buffers = Some(&mut read);
        let mut slot = None;
        let opened = open(
            &mut network,
            &target,
            Some(&client),
            || TlsRandom(&Offline),
            &mut buffers,
            &mut slot,
        );
        match embassy_futures::block_on(opened) {
            Ok(()) => panic!("an offline board cannot connect"),
            Err(code) => code,
        }
    }

    #[test]
    fn mode_2_fails_with_702_on_a_board_without_certificate_tls_and_modes_0_and_1_reach_dns() {
        assert_eq!(open_offline(2), CERTIFICATE_UNUSABLE);
        assert_eq!(open_offline(0), -602);
        assert_eq!(open_offline(1), -602);
    }

    #[test]
    fn server_name_is_the_host_except_for_ip_literals() {
        assert_eq!(
            server_name(b"PID.iotcloud.tencentdevices.com"),
            Some("PID.iotcloud.tencentdevices.com")
        );
        assert_eq!(server_name(b"localhost"), Some("localhost"));
        assert_eq!(server_name(b"192.168.1.10"), None);
        assert_eq!(server_name(b"::1"), None);
        assert_eq!(server_name(b""), None);
        assert_eq!(server_name(b"\xff"), None);
    }
}
