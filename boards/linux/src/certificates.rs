//! Certificate TLS for the Linux board (TLS mode 2, `cloud.md` §1.4) with rustls, and the
//! certificate parser behind AT+TCCERTCHECK.
//!
//! Why rustls: it is pure Rust apart from `ring`, needs no system OpenSSL at run time, and
//! its verifier does exactly what §1.4 asks: a chain to a trust anchor, the host name checked,
//! an IP literal matched against IP subject-alternative names and sent without SNI.
//!
//! Trust anchors: the Tencent IoT Hub root CA (built in, from the test vector
//! `ca_tencent_iothub_root`) plus every certificate in the PEM file `TCAT_CA_FILE` (`hub.md`
//! §1), read at each connect so that a test can write it after the board started.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use command_core::{Certificates, ClientCertificate, ConnectError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;

/// The Tencent IoT Hub root CA (`CN=www.tencent.com, OU=Tencent Iothub`, valid until 2032).
const TENCENT_ROOT: &[u8] = include_bytes!("tencent-iothub-root.pem");

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file; `None` when there is none or one does not decode.
fn certificate_chain(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let parses = chain
        .iter()
        .all(|certificate| webpki::EndEntityCert::try_from(certificate).is_ok());
    (!chain.is_empty() && parses).then_some(chain)
}

/// The private key of a PEM file (PKCS#1, PKCS#8 or SEC1), if the provider can sign with it.
fn private_key(pem: &[u8]) -> Option<PrivateKeyDer<'static>> {
    let key = PrivateKeyDer::from_pem_slice(pem).ok()?;
    provider()
        .key_provider
        .load_private_key(key.clone_key())
        .ok()?;
    Some(key)
}

/// The certified key of a pair, if the key belongs to the chain's first certificate.
fn certified_key(certificate: &[u8], key: &[u8]) -> Option<CertifiedKey> {
    let chain = certificate_chain(certificate)?;
    let key = provider()
        .key_provider
        .load_private_key(private_key(key)?)
        .ok()?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().ok()?;
    Some(certified)
}

/// AT+TCCERTCHECK's parser.
#[derive(Debug, Default)]
pub struct HostCertificates;

impl Certificates for HostCertificates {
    fn check(&self, certificate: Option<&[u8]>, key: Option<&[u8]>) -> bool {
        match (certificate, key) {
            (Some(certificate), Some(key)) => certified_key(certificate, key).is_some(),
            (Some(certificate), None) => certificate_chain(certificate).is_some(),
            (None, Some(key)) => private_key(key).is_some(),
            (None, None) => false,
        }
    }
}

/// The trust anchors of certificate TLS.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    /// `TCAT_CA_FILE`, if set.
    pub extra_file: Option<PathBuf>,
}

impl TrustAnchors {
    /// The Tencent root and `TCAT_CA_FILE`; with `public`, also the public web roots (HTTPS
    /// of OTA downloads, `cloud.md` §4.5: images live on public servers such as COS).
    fn store(&self, public: bool) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        if public {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for certificate in CertificateDer::pem_slice_iter(TENCENT_ROOT).flatten() {
            // The built-in root is a valid certificate (tested).
            let _ = roots.add(certificate);
        }
        if let Some(path) = &self.extra_file {
            match std::fs::read(path) {
                Ok(pem) => {
                    let (added, ignored) = roots
                        .add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
                    log::debug!("TCAT_CA_FILE: {added} trust anchors, {ignored} ignored");
                }
                Err(error) => log::warn!("TCAT_CA_FILE {}: {error}", path.display()),
            }
        }
        roots
    }

    /// The client configuration for one connect: these anchors and `client`'s certificate,
    /// or, without one, the public roots too and no client authentication (HTTPS).
    ///
    /// # Errors
    ///
    /// [`ConnectError::Certificate`] when the certificate or key does not parse or the key
    /// does not belong to the certificate.
    fn client_config(
        &self,
        client: Option<ClientCertificate<'_>>,
    ) -> Result<ClientConfig, ConnectError> {
        let Some(client) = client else {
            return Ok(ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|_| ConnectError::Certificate)?
                .with_root_certificates(self.store(true))
                .with_no_client_auth());
        };
        let chain = certificate_chain(client.certificate).ok_or(ConnectError::Certificate)?;
        let key = private_key(client.key).ok_or(ConnectError::Certificate)?;
        certified_key(client.certificate, client.key).ok_or(ConnectError::Certificate)?;
        ClientConfig::builder_with_provider(provider())
            // TLS 1.2 only, as the original (mbedTLS 2.x): under 1.3 the server judges the
            // client certificate after the client's handshake has finished, so a refused
            // certificate would surface as a closed link (-608) instead of -703.
            .with_protocol_versions(&[&rustls::version::TLS12])
            .map_err(|_| ConnectError::Certificate)?
            .with_root_certificates(self.store(false))
            .with_client_auth_cert(chain, key)
            .map_err(|_| ConnectError::Certificate)
    }

    /// The TLS handshake over `tcp` for `host` (a name or an IP literal), presenting
    /// `client` if given.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Certificate`] for an unusable local pair, an untrusted server or a
    /// certificate for another name; [`ConnectError::Handshake`] for everything else.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        client: Option<ClientCertificate<'_>>,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
        let config = self.client_config(client)?;
        // rustls sends no SNI for an IP address and matches it against IP SANs.
        let name = ServerName::try_from(host.to_owned()).map_err(|_| ConnectError::Certificate)?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|error| handshake_error(&error))
    }
}

/// -702 when the server's certificate was refused, -703 for any other failure.
fn handshake_error(error: &io::Error) -> ConnectError {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(reason)) => {
            log::info!("server certificate refused: {reason:?}");
            ConnectError::Certificate
        }
        other => {
            log::info!("TLS handshake failed: {other:?} ({error})");
            ConnectError::Handshake
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_root_is_the_tencent_iothub_ca() {
        let chain = certificate_chain(TENCENT_ROOT).expect("the root parses");
        assert_eq!(chain.len(), 1);
        assert_eq!(TrustAnchors::default().store(false).len(), 1);
        assert!(TrustAnchors::default().store(true).len() > 100);
    }

    #[test]
    fn garbage_is_neither_a_certificate_nor_a_key() {
        let checker = HostCertificates;
        assert!(!checker.check(Some(b"not a certificate"), None));
        assert!(!checker.check(
            None,
            Some(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        ));
        assert!(checker.check(Some(TENCENT_ROOT), None));
        assert!(!checker.check(None, None));
    }
}
