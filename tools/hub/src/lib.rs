#![doc = include_str!("../README.md")]

pub mod acl;
pub mod admin;
pub mod auth;
pub mod config;
pub mod connection;
pub mod dynreg;
pub mod events;
pub mod gateway;
pub mod hub;
pub mod ota;
pub mod peer;
pub mod registry;
pub mod responders;
pub mod tls;
pub mod wire;

use std::sync::Arc;
use tokio::net::TcpListener;

/// Ports of the hub's listeners: requested (0 = any free port) or actually bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Plain MQTT.
    pub mqtt: u16,
    /// MQTT over TLS (PSK and certificate suites).
    pub mqtts: u16,
    /// OTA file server over HTTP.
    pub http: u16,
    /// OTA file server over HTTPS.
    pub https: u16,
    /// Admin API.
    pub admin: u16,
}

impl Ports {
    /// The readiness line printed on stdout (`hub.md` §2).
    pub fn ready_line(&self) -> String {
        format!(
            r#"HUB READY {{"mqtt":{},"mqtts":{},"http":{},"https":{},"admin":{}}}"#,
            self.mqtt, self.mqtts, self.http, self.https, self.admin
        )
    }
}

/// Binds every listener on 127.0.0.1 at the `requested` ports and starts serving in the
/// background; the TLS listener presents `certificates`. Returns the bound ports.
///
/// # Errors
/// A port cannot be bound, or OpenSSL refused the TLS setup.
pub async fn start(
    hub: Arc<Hub>,
    requested: Ports,
    certificates: &tls::certificates::HubCertificates,
) -> std::io::Result<Ports> {
    let acceptor =
        tls::TlsAcceptor::new(hub.clone(), certificates).map_err(std::io::Error::other)?;
    let mqtt = TcpListener::bind(("127.0.0.1", requested.mqtt)).await?;
    let mqtts = TcpListener::bind(("127.0.0.1", requested.mqtts)).await?;
    let admin = TcpListener::bind(("127.0.0.1", requested.admin)).await?;
    let http = TcpListener::bind(("127.0.0.1", requested.http)).await?;
    let https = TcpListener::bind(("127.0.0.1", requested.https)).await?;
    let https_acceptor =
        ota::server::https_acceptor(certificates).map_err(std::io::Error::other)?;
    let ports = Ports {
        mqtt: mqtt.local_addr()?.port(),
        mqtts: mqtts.local_addr()?.port(),
        http: http.local_addr()?.port(),
        https: https.local_addr()?.port(),
        admin: admin.local_addr()?.port(),
    };
    hub.ota.set_ports(ports.http, ports.https);
    tokio::spawn(ota::server::serve_http(hub.clone(), http));
    tokio::spawn(ota::server::serve_https(
        hub.clone(),
        https,
        Arc::new(https_acceptor),
    ));
    tokio::spawn(serve_mqtt(hub.clone(), mqtt));
    tokio::spawn(tls::serve(hub.clone(), mqtts, Arc::new(acceptor)));
    tokio::spawn(admin::run(hub, admin));
    Ok(ports)
}

async fn serve_mqtt(hub: Arc<Hub>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let proof = auth::TransportProof::Password;
                tokio::spawn(connection::serve(hub.clone(), stream, peer, proof));
            }
            Err(error) => log::warn!("MQTT accept failed: {error}"),
        }
    }
}

pub use hub::Hub;
