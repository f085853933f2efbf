//! The MQTT TLS listener (`hub.md` §2, §4.1): TLS 1.2 with PSK suites and certificate suites
//! on one port.
//!
//! A device in key mode offers only `PSK-AES128-CBC-SHA` / `PSK-AES256-CBC-SHA`; a device in
//! certificate mode offers ECDHE suites and answers the optional certificate request. The
//! server prefers its own order, PSK first, so a client offering both gets PSK. The
//! handshake's result, the PSK identity or the client certificate, becomes the
//! [`TransportProof`] the CONNECT check uses in place of the password; after that the same
//! session code as on plain TCP runs over the TLS stream.

pub mod certificates;

use crate::auth::TransportProof;
use crate::connection;
use crate::Hub;
use base64::Engine as _;
use certificates::HubCertificates;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslOptions, SslRef, SslVerifyMode, SslVersion};
use serde_json::json;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

/// Server cipher order: the two PSK suites the firmware offers (0x008C, 0x008D), then
/// forward-secret suites for certificate mode, then plain-RSA ones for old clients.
pub const CIPHERS: &str = "PSK-AES128-CBC-SHA:PSK-AES256-CBC-SHA:\
ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:\
ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES128-SHA";

/// Time a client gets to finish the TLS handshake after the TCP accept.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured TLS acceptor plus where the PSK callback leaves the identity it accepted.
pub struct TlsAcceptor {
    acceptor: SslAcceptor,
    psk_identity: Index<Ssl, String>,
}

impl TlsAcceptor {
    /// Builds the acceptor: TLS 1.2 only, [`CIPHERS`], the server certificate, an optional
    /// client certificate, and PSK keys looked up in the hub's registry at handshake time
    /// (so devices added through the admin API work at once).
    ///
    /// # Errors
    /// OpenSSL refused a setting or the certificate.
    pub fn new(hub: Arc<Hub>, certificates: &HubCertificates) -> Result<Self, ErrorStack> {
        let psk_identity = Ssl::new_ex_index::<String>()?;
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        builder.set_max_proto_version(Some(SslVersion::TLS1_2))?;
        builder.set_cipher_list(CIPHERS)?;
        builder.set_options(SslOptions::CIPHER_SERVER_PREFERENCE);
        builder.set_certificate(&certificates.server)?;
        builder.add_extra_chain_cert(certificates.ca.clone())?;
        builder.set_private_key(&certificates.server_key)?;
        builder.check_private_key()?;
        // Requested, never required; any chain is accepted here because the CONNECT check
        // compares the certificate itself with the one registered for the device.
        builder.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        builder.set_psk_server_callback(move |ssl, identity, key| {
            Ok(psk_key(&hub, psk_identity, ssl, identity, key))
        });
        Ok(Self {
            acceptor: builder.build(),
            psk_identity,
        })
    }

    /// Runs the TLS handshake on an accepted socket and names what it proved.
    async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<(SslStream<TcpStream>, TransportProof), String> {
        let ssl = Ssl::new(self.acceptor.context()).map_err(|error| error.to_string())?;
        let mut stream = SslStream::new(ssl, stream).map_err(|error| error.to_string())?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, Pin::new(&mut stream).accept())
            .await
            .map_err(|_| "no TLS handshake in time".to_owned())?
            .map_err(|error| error.to_string())?;
        let proof = self.proof(stream.ssl());
        Ok((stream, proof))
    }

    fn proof(&self, ssl: &SslRef) -> TransportProof {
        if let Some(identity) = ssl.ex_data(self.psk_identity) {
            return TransportProof::PskIdentity(identity.clone());
        }
        match ssl
            .peer_certificate()
            .map(|certificate| certificate.to_der())
        {
            Some(Ok(der)) => TransportProof::ClientCertificate(der),
            _ => TransportProof::Anonymous,
        }
    }
}

/// The PSK server callback: the key of the device named by the identity, or 0, which makes
/// OpenSSL end the handshake with the `unknown_psk_identity` alert (`hub.md` §2).
fn psk_key(
    hub: &Hub,
    index: Index<Ssl, String>,
    ssl: &mut SslRef,
    identity: Option<&[u8]>,
    key: &mut [u8],
) -> usize {
    let Some(identity) = identity.and_then(|bytes| std::str::from_utf8(bytes).ok()) else {
        return 0;
    };
    let registry = hub.registry();
    let Some(device) = registry.devices.get(identity) else {
        log::info!("TLS-PSK: unknown identity {identity:?}");
        return 0;
    };
    let Ok(secret) = base64::engine::general_purpose::STANDARD.decode(&device.secret) else {
        return 0;
    };
    if secret.is_empty() || secret.len() > key.len() {
        return 0;
    }
    key[..secret.len()].copy_from_slice(&secret);
    ssl.set_ex_data(index, identity.to_owned());
    secret.len()
}

/// Accepts TLS connections forever; each gets its own task.
pub async fn serve(hub: Arc<Hub>, listener: TcpListener, acceptor: Arc<TlsAcceptor>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_one(hub.clone(), acceptor.clone(), stream, peer));
            }
            Err(error) => log::warn!("MQTT TLS accept failed: {error}"),
        }
    }
}

async fn serve_one(hub: Arc<Hub>, acceptor: Arc<TlsAcceptor>, stream: TcpStream, peer: SocketAddr) {
    match acceptor.handshake(stream).await {
        Ok((stream, proof)) => connection::serve(hub, stream, peer, proof).await,
        Err(error) => {
            log::info!("TLS handshake with {peer} failed: {error}");
            hub.events.record(
                "tls_failed",
                json!({"peer": peer.to_string(), "error": error}),
            );
        }
    }
}
