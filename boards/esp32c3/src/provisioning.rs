//! The soft AP's network for provisioning (`cloud.md` §6): its own embassy-net stack on
//! esp-radio's access-point interface at 192.168.4.1/24, the two UDP servers (8266 and 9876)
//! on it, and a small DHCP server (`dhcp.rs`) so that a phone joining the AP gets an address.
//!
//! The soft AP itself is esp-radio's `Config::AccessPoint` (`wifi.rs`). SmartConfig is not
//! offered: esp-radio 1.0.0-beta.1 has no API for it (docs/hardware.md §7).
//!
//! The sockets and their buffers are created once at boot and live in statics: opening a
//! server binds its socket, closing unbinds it (smoltcp drops what the socket held). A
//! received datagram stays in the socket's buffer until the engine's wait takes it, in the
//! poll that returns it, so a dropped wait loses nothing.

use core::future::poll_fn;
use core::net::Ipv4Addr;
use core::task::Poll;

use command_core::{Peer, ProvisioningEvent, UdpError, UdpServer};
use embassy_net::udp::{PacketMetadata, RecvError, UdpSocket};
use embassy_net::{IpAddress, Ipv4Cidr, Stack, StaticConfigV4};
use static_cell::StaticCell;

/// The soft AP's address and prefix (the address every ESP module uses).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 4, 1);
const PREFIX: u8 = 24;
/// Datagrams and bytes a server may hold, each way. The engine reads at most 256 bytes of a
/// datagram (`DATAGRAM_MAX` + 1); its answers are of the same order.
const PACKETS: usize = 2;
const PAYLOAD: usize = 512;

/// The soft AP interface's static configuration.
pub fn config() -> embassy_net::Config {
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, PREFIX),
        gateway: None,
        dns_servers: Default::default(),
    })
}

/// One server's socket buffers.
struct Buffers {
    receive_metadata: [PacketMetadata; PACKETS],
    receive: [u8; PAYLOAD],
    send_metadata: [PacketMetadata; PACKETS],
    send: [u8; PAYLOAD],
}

const EMPTY: Buffers = Buffers {
    receive_metadata: [PacketMetadata::EMPTY; PACKETS],
    receive: [0; PAYLOAD],
    send_metadata: [PacketMetadata::EMPTY; PACKETS],
    send: [0; PAYLOAD],
};

/// The provisioning (8266) and log (9876) servers.
pub struct Servers {
    sockets: [UdpSocket<'static>; 2],
}

fn index(server: UdpServer) -> usize {
    match server {
        UdpServer::Provisioning => 0,
        _ => 1,
    }
}

impl Servers {
    /// Both servers, closed, on `stack`. Call once: the buffers are statics.
    pub fn new(stack: Stack<'static>) -> Self {
        static BUFFERS: StaticCell<[Buffers; 2]> = StaticCell::new();
        let [first, second] = BUFFERS.init([EMPTY, EMPTY]);
        let socket = |buffers: &'static mut Buffers| {
            UdpSocket::new(
                stack,
                &mut buffers.receive_metadata,
                &mut buffers.receive,
                &mut buffers.send_metadata,
                &mut buffers.send,
            )
        };
        Servers {
            sockets: [socket(first), socket(second)],
        }
    }

    /// Binds `server`'s port on the soft AP's interface (rebinding an open server).
    pub fn open(&mut self, server: UdpServer) -> Result<(), UdpError> {
        let port = match server {
            UdpServer::Provisioning => 8266,
            _ => 9876,
        };
        let socket = &mut self.sockets[index(server)];
        socket.close();
        socket.bind(port).map_err(|_| UdpError::Bind)
    }

    /// Unbinds `server`; what it held is dropped.
    pub fn close(&mut self, server: UdpServer) {
        self.sockets[index(server)].close();
    }

    /// Queues one datagram (waits while the send buffer is full).
    pub async fn send(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> Result<(), UdpError> {
        let socket = &self.sockets[index(server)];
        if !socket.is_open() {
            return Err(UdpError::Send);
        }
        let address = IpAddress::Ipv4(Ipv4Addr::from(to.address));
        socket
            .send_to(datagram, (address, to.port))
            .await
            .map_err(|_| UdpError::Send)
    }

    /// The next datagram on either server, copied into `buffer` in the poll that returns it.
    pub async fn next(&mut self, buffer: &mut [u8]) -> ProvisioningEvent {
        poll_fn(|context| {
            for (slot, socket) in self.sockets.iter().enumerate() {
                loop {
                    match socket.poll_recv_from(buffer, context) {
                        Poll::Ready(Ok((length, metadata))) => {
                            let IpAddress::Ipv4(address) = metadata.endpoint.addr;
                            return Poll::Ready(ProvisioningEvent::Datagram {
                                server: if slot == 0 {
                                    UdpServer::Provisioning
                                } else {
                                    UdpServer::Log
                                },
                                from: Peer {
                                    address: address.octets(),
                                    port: metadata.endpoint.port,
                                },
                                length,
                            });
                        }
                        // Longer than the engine's buffer: smoltcp has dropped it already.
                        Poll::Ready(Err(RecvError::Truncated)) => continue,
                        Poll::Pending => break,
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}
