//! One MQTT connection: CONNECT check, then packets in and deliveries out until close.
//!
//! The task owns its socket alone and waits on three things at once: bytes from the device,
//! commands from the rest of the hub (deliveries, kick, takeover) and the keep-alive
//! deadline. Reads are cancel-safe, so `select!` never loses received bytes.
//!
//! The task is generic over the byte stream so the plain and the TLS listener run the same
//! session code; only the [`TransportProof`] handed in differs.

use crate::auth::{verify_connect, ConnectRefusal, TransportProof};
use crate::hub::{payload_base64, Command, Hub, Message};
use crate::responders;
use crate::wire::{self, ConnectVersion, Framer};
use mqtt_session::codec::{decode, ConnAck, Connect, Packet, PacketId, Publish, QoS, SubAck};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// Time a client gets to send CONNECT after the TCP accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest PUBLISH payload (`cloud.md` §2.5).
const MAX_PAYLOAD: usize = 16 * 1024;

struct Connection<S> {
    hub: Arc<Hub>,
    stream: S,
    proof: TransportProof,
    framer: Framer,
    number: u64,
    peer: SocketAddr,
    commands: Option<UnboundedReceiver<Command>>,
    next_packet_id: PacketId,
}

/// Serves one accepted connection until it closes; `proof` is what the transport already
/// established about the peer (nothing on plain TCP).
pub async fn serve<S>(hub: Arc<Hub>, stream: S, peer: SocketAddr, proof: TransportProof)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let number = hub.next_connection();
    let mut connection = Connection {
        hub,
        stream,
        proof,
        framer: Framer::default(),
        number,
        peer,
        commands: None,
        next_packet_id: PacketId::new(1).unwrap_or_else(|| unreachable!()),
    };
    let reason = match connection.handshake().await {
        Ok((client_id, keep_alive)) => {
            let reason = connection.run(&client_id, keep_alive).await;
            connection.hub.detach(&client_id, number);
            connection.hub.events.record(
                "disconnect",
                json!({"client_id": client_id, "connection": number, "reason": reason}),
            );
            reason
        }
        Err(reason) => reason,
    };
    log::info!("connection {number} from {peer} closed: {reason}");
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Reads more bytes; `Err` when the peer closed or the socket failed.
    async fn fill(&mut self) -> Result<(), &'static str> {
        let mut buffer = [0u8; 4096];
        match self.stream.read(&mut buffer).await {
            Ok(0) => Err("peer closed"),
            Ok(count) => {
                self.framer.push(&buffer[..count]);
                Ok(())
            }
            Err(_) => Err("read error"),
        }
    }

    async fn send(&mut self, packet: &Packet<'_>) -> Result<(), &'static str> {
        let bytes = wire::encode(packet).ok_or("unencodable packet")?;
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|_| "write error")
    }

    async fn refuse(&mut self, client_id: &str, refusal: ConnectRefusal) -> &'static str {
        let return_code = refusal.return_code();
        self.hub.events.record(
            "connack",
            json!({"client_id": client_id, "connection": self.number, "rc": return_code}),
        );
        log::info!(
            "connection {} ({client_id}): CONNACK {return_code} ({refusal})",
            self.number
        );
        let _ = self
            .send(&Packet::ConnAck(ConnAck {
                session_present: false,
                return_code,
            }))
            .await;
        let _ = self.stream.shutdown().await;
        "connect refused"
    }

    /// Waits for CONNECT and answers it; on success returns the client id and keep-alive.
    async fn handshake(&mut self) -> Result<(String, u16), &'static str> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let frame = loop {
            if let Some(frame) = self
                .framer
                .next_frame()
                .map_err(|_| "malformed first packet")?
            {
                break frame;
            }
            tokio::time::timeout_at(deadline, self.fill())
                .await
                .map_err(|_| "no CONNECT in time")??;
        };
        if frame[0] >> 4 != 1 {
            return Err("first packet is not CONNECT");
        }
        let frame = match wire::connect_version(&frame) {
            ConnectVersion::V311 => frame,
            ConnectVersion::V31(rewritten) => rewritten,
            ConnectVersion::Unsupported => {
                return Err(self.refuse("", ConnectRefusal::UnacceptableProtocol).await);
            }
        };
        let Ok(Some((Packet::Connect(connect), _))) = decode(&frame) else {
            return Err("malformed CONNECT");
        };
        self.accept(&connect).await
    }

    async fn accept(&mut self, connect: &Connect<'_>) -> Result<(String, u16), &'static str> {
        let client_id = connect.client_id.to_owned();
        self.hub.events.record(
            "connect",
            json!({"client_id": client_id, "connection": self.number, "peer": self.peer.to_string(), "transport": self.proof.kind(),
                   "username": connect.username, "keep_alive": connect.keep_alive,
                   "clean_session": connect.clean_session, "will": connect.will.is_some()}),
        );
        if self.hub.is_refused(&client_id) {
            self.hub.events.record(
                "refused",
                json!({"client_id": client_id, "connection": self.number}),
            );
            return Err("refused after kick");
        }
        let registry = self.hub.registry();
        let device = match verify_connect(&registry, connect, self.hub.now_unix(), &self.proof) {
            Ok(device) => device,
            Err(refusal) => return Err(self.refuse(&client_id, refusal).await),
        };
        let (attached, replay) = self.hub.attach(&device, self.number, connect.clean_session);
        self.commands = Some(attached.commands);
        let session_present = attached.session_present;
        self.hub.events.record(
            "connack",
            json!({"client_id": client_id, "connection": self.number, "rc": 0, "session_present": session_present}),
        );
        log::info!(
            "connection {} from {}: {client_id} online",
            self.number,
            self.peer
        );
        self.send(&Packet::ConnAck(ConnAck {
            session_present,
            return_code: 0,
        }))
        .await?;
        for message in replay {
            self.deliver(&client_id, message).await?;
        }
        Ok((client_id, connect.keep_alive))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Serves an accepted session until it ends; returns why.
    async fn run(&mut self, client_id: &str, keep_alive: u16) -> &'static str {
        let Some(mut commands) = self.commands.take() else {
            return "no command channel";
        };
        // MQTT 3.1.1 §3.1.2.10: silence beyond 1.5 × keep-alive closes; 0 disables it.
        let silence_limit =
            (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut deadline = silence_limit.map(|limit| Instant::now() + limit);
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => {
                    if let Some(limit) = silence_limit {
                        deadline = Some(Instant::now() + limit);
                    }
                    if let Err(reason) = self.handle(client_id, &frame).await {
                        return reason;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(_) => return "malformed or oversized packet",
            }
            let keep_alive_expired = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                filled = self.fill() => {
                    if let Err(reason) = filled {
                        return reason;
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Deliver(message)) => {
                        if let Err(reason) = self.deliver(client_id, message).await {
                            return reason;
                        }
                    }
                    Some(Command::Close(reason)) => {
                        // A kick or takeover: plain TCP close, no DISCONNECT (`hub.md` §4.5).
                        let _ = self.stream.shutdown().await;
                        return reason;
                    }
                    None => return "hub dropped the session",
                },
                () = keep_alive_expired => return "keep-alive expired",
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Handles one packet received in a session.
    async fn handle(&mut self, client_id: &str, frame: &[u8]) -> Result<(), &'static str> {
        let packet = match decode(frame) {
            Ok(Some((packet, _))) => packet,
            _ => return Err("malformed packet"),
        };
        match packet {
            Packet::Publish(publish) => self.publish(client_id, &publish).await,
            Packet::Subscribe(subscribe) => {
                let mut codes = Vec::new();
                for request in subscribe.filters.iter() {
                    let code = self.hub.subscribe(client_id, request.filter, request.qos);
                    self.hub.events.record(
                        "subscribe",
                        json!({"client_id": client_id, "filter": request.filter, "qos": request.qos as u8, "result": code}),
                    );
                    codes.push(code);
                }
                let suback = SubAck {
                    packet_id: subscribe.packet_id,
                    return_codes: &codes,
                };
                self.send(&Packet::SubAck(suback)).await
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in unsubscribe.filters.iter() {
                    self.hub.unsubscribe(client_id, filter);
                    self.hub.events.record(
                        "unsubscribe",
                        json!({"client_id": client_id, "filter": filter}),
                    );
                }
                self.send(&Packet::UnsubAck(unsubscribe.packet_id)).await
            }
            Packet::PubAck(packet_id) => {
                self.hub.events.record("puback", json!({"client_id": client_id, "direction": "in", "packet_id": packet_id.get()}));
                Ok(())
            }
            Packet::PingReq => self.send(&Packet::PingResp).await,
            Packet::Disconnect => Err("DISCONNECT"),
            // The hub never sends QoS 2, so PUBREC/PUBREL/PUBCOMP, a second CONNECT and
            // server-to-client packets are protocol violations.
            _ => Err("unexpected packet"),
        }
    }

    async fn publish(
        &mut self,
        client_id: &str,
        publish: &Publish<'_>,
    ) -> Result<(), &'static str> {
        if publish.qos == QoS::ExactlyOnce {
            return Err("QoS 2 PUBLISH");
        }
        if publish.payload.len() > MAX_PAYLOAD {
            return Err("payload over 16 KiB");
        }
        let allowed = crate::acl::may_publish(&self.hub.rights(client_id), publish.topic);
        self.hub.events.record(
            "publish",
            json!({"client_id": client_id, "direction": "in", "topic": publish.topic, "qos": publish.qos as u8,
                   "packet_id": publish.packet_id.map(PacketId::get), "payload": payload_base64(publish.payload),
                   "allowed": allowed, "acked": allowed && publish.qos == QoS::AtLeastOnce}),
        );
        if !allowed {
            // Dropped; a QoS 1 publish gets no PUBACK (the device reports FAIL,202).
            log::info!("{client_id}: publish to {} denied", publish.topic);
            return Ok(());
        }
        if let Some(packet_id) = publish.packet_id {
            self.send(&Packet::PubAck(packet_id)).await?;
        }
        let message = Message {
            topic: publish.topic.to_owned(),
            payload: publish.payload.to_vec(),
            qos: publish.qos,
        };
        self.hub.route(&message, Some(client_id), None, false);
        responders::respond(&self.hub, client_id, publish.topic, publish.payload);
        Ok(())
    }

    /// Sends one message to the device.
    async fn deliver(&mut self, client_id: &str, message: Message) -> Result<(), &'static str> {
        let packet_id = (message.qos == QoS::AtLeastOnce).then(|| {
            let packet_id = self.next_packet_id;
            self.next_packet_id = packet_id.next();
            packet_id
        });
        let publish = Publish {
            duplicate: false,
            qos: message.qos,
            retain: false,
            topic: &message.topic,
            packet_id,
            payload: &message.payload,
        };
        self.hub.events.record(
            "publish",
            json!({"client_id": client_id, "direction": "out", "topic": message.topic, "qos": message.qos as u8,
                   "packet_id": packet_id.map(PacketId::get), "payload": payload_base64(&message.payload)}),
        );
        self.send(&Packet::Publish(publish)).await
    }
}
