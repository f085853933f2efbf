//! Provisioning on the Linux board (`cloud.md` §6, `hub.md` §1, §7): the soft AP and
//! SmartConfig are simulated, the two UDP servers are real sockets on configured addresses
//! (default 127.0.0.1:8266 and 127.0.0.1:9876), and a control socket (`TCAT_CONTROL`) lets a
//! test or `tc-at-hub app smartconfig` play the radio's side.
//!
//! Control protocol: a Unix stream socket; each request is one JSON line, each answer one
//! JSON line.
//!
//! | request | answer |
//! |---|---|
//! | `{"op":"smartconfig","ssid":S,"password":P}` | `{"ok":true}` while SmartConfig listens (the credentials arrive as ESP-TOUCH would deliver them), else `{"ok":false,"error":…}` |
//! | `{"op":"smartconfig-end"}` | the app ends SmartConfig before credentials (`FAILED,3,101`) |
//! | `{"op":"wifi-loss"}` | the station loses its AP (a disconnect event) |
//! | `{"op":"led"}` | `{"ok":true,"lit":B,"changes":N}`: the LED now and how often it changed since start |
//!
//! Events only reach the engine while provisioning waits for them; the control task never
//! touches the engine's state itself, it queues events in a channel the engine drains.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use command_core::{Peer, ProvisioningEvent, SoftApConfig, UdpError, UdpServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UdpSocket, UnixListener, UnixStream};
use tokio::sync::mpsc;

/// Something the control socket injected.
#[derive(Debug)]
enum Injected {
    Credentials { ssid: Vec<u8>, password: Vec<u8> },
    SmartConfigEnded,
    StationLost,
}

/// What the control task and the radio share.
#[derive(Debug, Default)]
struct Shared {
    led: AtomicBool,
    led_changes: AtomicU64,
    smartconfig: AtomicBool,
}

/// The simulated radio's provisioning side.
pub struct Radio {
    addresses: [SocketAddr; 2],
    sockets: [Option<UdpSocket>; 2],
    shared: Arc<Shared>,
    injected: mpsc::UnboundedReceiver<Injected>,
    injector: mpsc::UnboundedSender<Injected>,
}

fn index(server: UdpServer) -> usize {
    match server {
        UdpServer::Provisioning => 0,
        _ => 1,
    }
}

impl Radio {
    /// A radio whose servers bind `addresses` (provisioning, log).
    pub fn new(addresses: [SocketAddr; 2]) -> Self {
        let (injector, injected) = mpsc::unbounded_channel();
        Radio {
            addresses,
            sockets: [None, None],
            shared: Arc::default(),
            injected,
            injector,
        }
    }

    /// Serves the control socket at `path` (replacing a stale one) until the process ends.
    pub fn serve_control(&self, path: &Path) -> std::io::Result<()> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        let shared = Arc::clone(&self.shared);
        let injector = self.injector.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(control_client(
                    stream,
                    Arc::clone(&shared),
                    injector.clone(),
                ));
            }
        });
        Ok(())
    }

    /// A reboot: sockets closed, SmartConfig off, LED off, injected events forgotten.
    pub fn reset(&mut self) {
        self.sockets = [None, None];
        self.shared.smartconfig.store(false, Ordering::SeqCst);
        self.shared.led.store(false, Ordering::SeqCst);
        while self.injected.try_recv().is_ok() {}
    }

    pub fn start_soft_ap(&mut self, config: &SoftApConfig<'_>) {
        log::info!(
            "soft AP {:?} on (channel {}, {}, at most {} stations)",
            String::from_utf8_lossy(config.ssid),
            config.channel,
            if config.password.is_empty() {
                "open"
            } else {
                "WPA/WPA2-PSK"
            },
            config.max_stations
        );
    }

    pub fn start_smartconfig(&mut self) {
        while self.injected.try_recv().is_ok() {}
        self.shared.smartconfig.store(true, Ordering::SeqCst);
    }

    pub fn stop_smartconfig(&mut self) {
        self.shared.smartconfig.store(false, Ordering::SeqCst);
    }

    pub fn open_udp(&mut self, server: UdpServer) -> Result<(), UdpError> {
        let slot = index(server);
        self.sockets[slot] = None;
        let socket = std::net::UdpSocket::bind(self.addresses[slot])
            .and_then(|socket| {
                socket.set_nonblocking(true)?;
                UdpSocket::from_std(socket)
            })
            .map_err(|error| {
                log::warn!("UDP server {} not bound: {error}", self.addresses[slot]);
                UdpError::Bind
            })?;
        log::info!("UDP server listening on {}", self.addresses[slot]);
        self.sockets[slot] = Some(socket);
        Ok(())
    }

    pub fn close_udp(&mut self, server: UdpServer) {
        self.sockets[index(server)] = None;
    }

    pub async fn send_udp(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> Result<(), UdpError> {
        let socket = self.sockets[index(server)].as_ref().ok_or(UdpError::Send)?;
        let address = SocketAddr::from((to.address, to.port));
        match socket.send_to(datagram, address).await {
            Ok(_) => Ok(()),
            Err(_) => Err(UdpError::Send),
        }
    }

    /// The next datagram on an open server or injected event.
    pub async fn event(&mut self, buffer: &mut [u8]) -> ProvisioningEvent {
        loop {
            // `readable` and `recv` are cancel-safe; the datagram is only taken once a
            // branch has won.
            let ready = tokio::select! {
                () = readable(&self.sockets[0]) => Some(0),
                () = readable(&self.sockets[1]) => Some(1),
                injected = self.injected.recv() => match injected {
                    Some(Injected::Credentials { ssid, password }) => {
                        if !self.shared.smartconfig.load(Ordering::SeqCst)
                            || ssid.len() + password.len() > buffer.len()
                        {
                            continue;
                        }
                        buffer[..ssid.len()].copy_from_slice(&ssid);
                        buffer[ssid.len()..ssid.len() + password.len()].copy_from_slice(&password);
                        return ProvisioningEvent::SmartConfigCredentials {
                            ssid_length: ssid.len(),
                            password_length: password.len(),
                        };
                    }
                    Some(Injected::SmartConfigEnded) => {
                        if self.shared.smartconfig.load(Ordering::SeqCst) {
                            return ProvisioningEvent::SmartConfigEnded;
                        }
                        None
                    }
                    Some(Injected::StationLost) => return ProvisioningEvent::StationLost,
                    None => None,
                },
            };
            let Some(slot) = ready else { continue };
            let Some(socket) = &self.sockets[slot] else {
                continue;
            };
            match socket.try_recv_from(buffer) {
                Ok((length, SocketAddr::V4(from))) => {
                    return ProvisioningEvent::Datagram {
                        server: if slot == 0 {
                            UdpServer::Provisioning
                        } else {
                            UdpServer::Log
                        },
                        from: Peer {
                            address: from.ip().octets(),
                            port: from.port(),
                        },
                        length,
                    };
                }
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                // An ICMP error of an earlier send (the app went away): nothing to read.
                Err(error) => log::debug!("UDP receive: {error}"),
            }
        }
    }

    pub fn set_led(&mut self, lit: bool) {
        if self.shared.led.swap(lit, Ordering::SeqCst) != lit {
            self.shared.led_changes.fetch_add(1, Ordering::SeqCst);
            log::debug!("LED {}", if lit { "on" } else { "off" });
        }
    }
}

async fn readable(socket: &Option<UdpSocket>) {
    match socket {
        Some(socket) => {
            if socket.readable().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// One control connection: a JSON request per line, a JSON answer per line.
async fn control_client(
    stream: UnixStream,
    shared: Arc<Shared>,
    injector: mpsc::UnboundedSender<Injected>,
) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = control_request(&line, &shared, &injector);
        if writer
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn control_request(
    line: &str,
    shared: &Shared,
    injector: &mpsc::UnboundedSender<Injected>,
) -> serde_json::Value {
    use serde_json::json;
    let Ok(request) = serde_json::from_str::<serde_json::Value>(line) else {
        return json!({"ok": false, "error": "not JSON"});
    };
    let send = |event| {
        let _ = injector.send(event);
        json!({"ok": true})
    };
    match request["op"].as_str() {
        Some("smartconfig") => {
            let (Some(ssid), Some(password)) =
                (request["ssid"].as_str(), request["password"].as_str())
            else {
                return json!({"ok": false, "error": "ssid and password needed"});
            };
            if !shared.smartconfig.load(Ordering::SeqCst) {
                return json!({"ok": false, "error": "SmartConfig is not listening"});
            }
            if ssid.is_empty() || ssid.len() > 32 || password.len() > 64 {
                return json!({"ok": false, "error": "ssid 1..32 and password 0..64 bytes"});
            }
            send(Injected::Credentials {
                ssid: ssid.as_bytes().to_vec(),
                password: password.as_bytes().to_vec(),
            })
        }
        Some("smartconfig-end") => send(Injected::SmartConfigEnded),
        Some("wifi-loss") => send(Injected::StationLost),
        Some("led") => json!({
            "ok": true,
            "lit": shared.led.load(Ordering::SeqCst),
            "changes": shared.led_changes.load(Ordering::SeqCst),
        }),
        _ => json!({"ok": false, "error": "unknown op"}),
    }
}
