//! A minimal DHCP server (RFC 2131) for the soft AP: embassy-net has a DHCP client only, and
//! a phone that joins the provisioning AP needs an address before it can reach UDP 8266.
//!
//! It answers DISCOVER with OFFER and REQUEST with ACK (REQUEST for an address it did not
//! lease with NAK), and forgets a lease on RELEASE. The leases are 192.168.4.2..=5, one per
//! client MAC; a fifth client takes the oldest lease (the AP itself admits four stations).
//! Replies are broadcast, since a client has no address yet. A message is parsed in the
//! socket's receive buffer and the reply written in its send buffer (no copy of either).

use core::net::Ipv4Addr;

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, Stack};

use crate::provisioning::ADDRESS;

const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;
/// Clients the server leases to at once (the soft AP's station limit).
const LEASES: usize = 4;
/// The first leased address's last octet.
const FIRST_HOST: u8 = 2;
/// Lease time: two hours (provisioning takes minutes).
const LEASE_SECONDS: u32 = 7_200;
/// A BOOTP message's fixed part, then the magic cookie that starts the options.
const OPTIONS_START: usize = 240;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// A reply's size: the fixed part, our options, padded to BOOTP's 300-byte minimum.
const REPLY_SIZE: usize = 300;
/// Socket buffers: one message each way (a DHCP message fits 576 bytes).
const MESSAGE_MAX: usize = 576;

/// DHCP message types (option 53).
const DISCOVER: u8 = 1;
const OFFER: u8 = 2;
const REQUEST: u8 = 3;
const ACK: u8 = 5;
const NAK: u8 = 6;
const RELEASE: u8 = 7;

/// What a request needs answered.
#[derive(Clone, Copy)]
struct Request {
    kind: u8,
    transaction: [u8; 4],
    flags: [u8; 2],
    client: [u8; 6],
    /// Option 50, or `ciaddr` when a renewing client leaves the option out.
    requested: Option<Ipv4Addr>,
}

/// The leases: which client MAC holds each address, and which lease is oldest.
struct Leases {
    clients: [Option<[u8; 6]>; LEASES],
    oldest: usize,
}

impl Leases {
    fn address(slot: usize) -> Ipv4Addr {
        let [a, b, c, _] = ADDRESS.octets();
        Ipv4Addr::new(a, b, c, FIRST_HOST + slot as u8)
    }

    /// The client's lease, or a new one (a free slot, else the oldest).
    fn lease(&mut self, client: [u8; 6]) -> usize {
        if let Some(slot) = self.find(client) {
            return slot;
        }
        let slot = self
            .clients
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                let slot = self.oldest;
                self.oldest = (slot + 1) % LEASES;
                slot
            });
        self.clients[slot] = Some(client);
        slot
    }

    fn find(&self, client: [u8; 6]) -> Option<usize> {
        self.clients.iter().position(|held| *held == Some(client))
    }
}

/// Serves DHCP on the soft AP's stack until the chip restarts.
#[embassy_executor::task]
pub async fn serve(stack: Stack<'static>) -> ! {
    let mut receive_metadata = [PacketMetadata::EMPTY; 1];
    let mut receive = [0u8; MESSAGE_MAX];
    let mut send_metadata = [PacketMetadata::EMPTY; 1];
    let mut send = [0u8; MESSAGE_MAX];
    let mut socket = UdpSocket::new(
        stack,
        &mut receive_metadata,
        &mut receive,
        &mut send_metadata,
        &mut send,
    );
    // The only socket on port 67 of a stack made at boot: binding cannot fail.
    let _ = socket.bind(SERVER_PORT);
    let mut leases = Leases {
        clients: [None; LEASES],
        oldest: 0,
    };
    loop {
        let Some(request) = socket.recv_from_with(|message, _| parse(message)).await else {
            continue;
        };
        let (kind, slot) = match request.kind {
            DISCOVER => (OFFER, leases.lease(request.client)),
            REQUEST => {
                let slot = leases.lease(request.client);
                match request.requested {
                    Some(address) if address != Leases::address(slot) => (NAK, slot),
                    _ => (ACK, slot),
                }
            }
            RELEASE => {
                if let Some(slot) = leases.find(request.client) {
                    leases.clients[slot] = None;
                }
                continue;
            }
            _ => continue,
        };
        let offered = if kind == NAK {
            Ipv4Addr::UNSPECIFIED
        } else {
            Leases::address(slot)
        };
        let broadcast = (IpAddress::Ipv4(Ipv4Addr::BROADCAST), CLIENT_PORT);
        // A reply that cannot be sent now is dropped: the client retries.
        let _ = socket
            .send_to_with(REPLY_SIZE, broadcast, |buffer| {
                (reply(buffer, &request, kind, offered), ())
            })
            .await;
    }
}

/// The fields of a BOOTREQUEST for an Ethernet address, or `None` for anything else.
fn parse(message: &[u8]) -> Option<Request> {
    if message.len() < OPTIONS_START || message[0] != 1 || message[1] != 1 || message[2] != 6 {
        return None;
    }
    if message[236..OPTIONS_START] != MAGIC_COOKIE {
        return None;
    }
    let mut kind = None;
    let mut requested = None;
    let mut options = &message[OPTIONS_START..];
    while let [code, rest @ ..] = options {
        match code {
            0 => options = rest,
            255 => break,
            _ => {
                let [length, rest @ ..] = rest else { break };
                let value = rest.get(..usize::from(*length))?;
                match (code, value) {
                    (53, [message_type]) => kind = Some(*message_type),
                    (50, [a, b, c, d]) => requested = Some(Ipv4Addr::new(*a, *b, *c, *d)),
                    _ => {}
                }
                options = &rest[value.len()..];
            }
        }
    }
    let client_address = Ipv4Addr::new(message[12], message[13], message[14], message[15]);
    Some(Request {
        kind: kind?,
        transaction: message[4..8].try_into().ok()?,
        flags: message[10..12].try_into().ok()?,
        client: message[28..34].try_into().ok()?,
        requested: requested.or((!client_address.is_unspecified()).then_some(client_address)),
    })
}

/// Writes a BOOTREPLY of `kind` into `buffer`; returns its length.
fn reply(buffer: &mut [u8], request: &Request, kind: u8, offered: Ipv4Addr) -> usize {
    let buffer = &mut buffer[..REPLY_SIZE];
    buffer.fill(0);
    buffer[..4].copy_from_slice(&[2, 1, 6, 0]);
    buffer[4..8].copy_from_slice(&request.transaction);
    buffer[10..12].copy_from_slice(&request.flags);
    buffer[16..20].copy_from_slice(&offered.octets());
    buffer[20..24].copy_from_slice(&ADDRESS.octets());
    buffer[28..34].copy_from_slice(&request.client);
    buffer[236..OPTIONS_START].copy_from_slice(&MAGIC_COOKIE);
    let mut at = OPTIONS_START;
    let mut put = |bytes: &[u8]| {
        buffer[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&[53, 1, kind, 54, 4]);
    put(&ADDRESS.octets());
    if kind != NAK {
        put(&[51, 4]);
        put(&LEASE_SECONDS.to_be_bytes());
        put(&[1, 4, 255, 255, 255, 0]);
    }
    put(&[255]);
    REPLY_SIZE
}
