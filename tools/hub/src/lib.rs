#![doc = include_str!("../README.md")]

pub mod acl;
pub mod admin;
pub mod auth;
pub mod config;
pub mod connection;
pub mod events;
pub mod hub;
pub mod registry;
pub mod responders;
pub mod wire;

use std::sync::Arc;
use tokio::net::TcpListener;

/// Ports the running hub listens on; 0 means "not present in this build".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Plain MQTT.
    pub mqtt: u16,
    /// Admin API.
    pub admin: u16,
}

impl Ports {
    /// The readiness line printed on stdout (`hub.md` §2). TLS, HTTP and HTTPS listeners are
    /// not part of this build, so their ports are 0.
    pub fn ready_line(&self) -> String {
        format!(
            r#"HUB READY {{"mqtt":{},"mqtts":0,"http":0,"https":0,"admin":{}}}"#,
            self.mqtt, self.admin
        )
    }
}

/// Binds both listeners on 127.0.0.1 and starts serving in the background.
///
/// # Errors
/// A port cannot be bound.
pub async fn start(hub: Arc<Hub>, mqtt_port: u16, admin_port: u16) -> std::io::Result<Ports> {
    let mqtt = TcpListener::bind(("127.0.0.1", mqtt_port)).await?;
    let admin = TcpListener::bind(("127.0.0.1", admin_port)).await?;
    let ports = Ports {
        mqtt: mqtt.local_addr()?.port(),
        admin: admin.local_addr()?.port(),
    };
    tokio::spawn(serve_mqtt(hub.clone(), mqtt));
    tokio::spawn(admin::run(hub, admin));
    Ok(ports)
}

async fn serve_mqtt(hub: Arc<Hub>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection::serve(hub.clone(), stream, peer));
            }
            Err(error) => log::warn!("MQTT accept failed: {error}"),
        }
    }
}

pub use hub::Hub;
