//! CONNECT verification for the plain and TLS listeners (`hub.md` §4.1).
//!
//! The checks run in the order the spec gives because the order decides the return code a
//! device sees when several things are wrong at once (an unknown device with a bad password
//! must get 2, not 4). Passwords are recomputed with the same `mqtt-session` functions the
//! firmware uses, so the hub and the device can only agree when both follow `cloud.md` §1.3.
//! On the TLS listener the handshake already proved the device (PSK identity or client
//! certificate), so step 3 checks that proof against the client id and ignores the password.

use crate::registry::{Device, Registry};
use mqtt_session::codec::Connect;
use mqtt_session::tencent::DeviceKey;
use std::fmt;

/// Why a CONNECT is refused; each variant maps to one CONNACK return code.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// The protocol level is not 3 or 4 (CONNACK 1).
    UnacceptableProtocol,
    /// The client id is not a registered `<pid><dn>` (CONNACK 2).
    UnknownClientId,
    /// The user name is malformed or expired, or the password is wrong (CONNACK 4).
    BadCredentials,
    /// The device is disabled or refused for a while after a kick (CONNACK 5).
    NotAuthorized,
}

impl ConnectRefusal {
    /// The CONNACK return code.
    pub fn return_code(self) -> u8 {
        match self {
            Self::UnacceptableProtocol => 1,
            Self::UnknownClientId => 2,
            Self::BadCredentials => 4,
            Self::NotAuthorized => 5,
        }
    }
}

impl fmt::Display for ConnectRefusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::UnacceptableProtocol => "unacceptable protocol level",
            Self::UnknownClientId => "client id is not a registered device",
            Self::BadCredentials => "bad user name or password",
            Self::NotAuthorized => "device not authorized",
        })
    }
}

impl core::error::Error for ConnectRefusal {}

/// What the transport proved about the peer before the CONNECT arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportProof {
    /// Plain TCP: the CONNECT password carries the proof.
    Password,
    /// TLS-PSK: the identity whose key completed the handshake.
    PskIdentity(String),
    /// TLS with certificate suites and this client certificate (DER).
    ClientCertificate(Vec<u8>),
    /// TLS with certificate suites and no client certificate: nothing proves the device.
    Anonymous,
}

impl TransportProof {
    /// Short name for the event log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Password => "tcp",
            Self::PskIdentity(_) => "tls-psk",
            Self::ClientCertificate(_) => "tls-certificate",
            Self::Anonymous => "tls-anonymous",
        }
    }
}

/// Checks a CONNECT against the registry at hub time `now_unix` (seconds), given what the
/// transport proved.
///
/// # Errors
/// The first failing check of `hub.md` §4.1, as a [`ConnectRefusal`].
pub fn verify_connect(
    registry: &Registry,
    connect: &Connect<'_>,
    now_unix: u64,
    proof: &TransportProof,
) -> Result<Device, ConnectRefusal> {
    let device = registry
        .devices
        .get(connect.client_id)
        .ok_or(ConnectRefusal::UnknownClientId)?;
    let username = connect.username.ok_or(ConnectRefusal::BadCredentials)?;
    if !username_is_valid(username, connect.client_id, now_unix) {
        return Err(ConnectRefusal::BadCredentials);
    }
    let proven = match proof {
        TransportProof::Password => {
            password_is_valid(device, username, connect.password.unwrap_or_default())?;
            true
        }
        TransportProof::PskIdentity(identity) => identity == connect.client_id,
        TransportProof::ClientCertificate(der) => certificate_matches(device, der),
        TransportProof::Anonymous => false,
    };
    if !proven {
        return Err(ConnectRefusal::NotAuthorized);
    }
    if !device.enabled {
        return Err(ConnectRefusal::NotAuthorized);
    }
    Ok(device.clone())
}

/// Step 3 on the plain listener: the `;hmacsha1` or `;hmacsha256` password.
fn password_is_valid(
    device: &Device,
    username: &str,
    password: &[u8],
) -> Result<(), ConnectRefusal> {
    let key = DeviceKey::from_base64(&device.secret).map_err(|_| ConnectRefusal::BadCredentials)?;
    let sha1 = key.password_sha1(username);
    let sha256 = key.password_sha256(username);
    if password != sha1.as_bytes() && password != sha256.as_bytes() {
        return Err(ConnectRefusal::BadCredentials);
    }
    Ok(())
}

/// Whether `der` is the certificate registered for the device. Compared as DER so that PEM
/// line wrapping or trailing text in the registry does not matter.
fn certificate_matches(device: &Device, der: &[u8]) -> bool {
    device
        .cert_pem
        .as_deref()
        .and_then(|pem| openssl::x509::X509::from_pem(pem.as_bytes()).ok())
        .and_then(|certificate| certificate.to_der().ok())
        .is_some_and(|registered| registered == der)
}

/// `<client id>;<digits>;<1..16 alphanumerics>;<decimal expiry>` with expiry > now.
fn username_is_valid(username: &str, client_id: &str, now_unix: u64) -> bool {
    let parts: Vec<&str> = username.split(';').collect();
    let [name_client_id, app_id, connection_id, expiry] = parts.as_slice() else {
        return false;
    };
    let is_digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    *name_client_id == client_id
        && is_digits(app_id)
        && (1..=16).contains(&connection_id.len())
        && connection_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric())
        && is_digits(expiry)
        && expiry.parse::<u64>().is_ok_and(|expiry| expiry > now_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{DEMO_DEVICE_SECRET, DEMO_PRODUCT_ID};

    const CLIENT_ID: &str = "DEMO000001demo";
    const NOW: u64 = 1_700_000_000;

    fn connect<'a>(client_id: &'a str, username: &'a str, password: &'a [u8]) -> Connect<'a> {
        Connect {
            clean_session: true,
            keep_alive: 60,
            client_id,
            will: None,
            username: Some(username),
            password: Some(password),
        }
    }

    fn sha1_password(username: &str) -> String {
        DeviceKey::from_base64(DEMO_DEVICE_SECRET)
            .unwrap()
            .password_sha1(username)
            .as_str()
            .to_owned()
    }

    #[test]
    fn valid_sha1_and_sha256_passwords_are_accepted() {
        let registry = Registry::demo();
        let username = "DEMO000001demo;21010406;a1b2c;2147483647";
        let device = verify_connect(
            &registry,
            &connect(CLIENT_ID, username, sha1_password(username).as_bytes()),
            NOW,
            &TransportProof::Password,
        )
        .unwrap();
        assert_eq!(device.pid, DEMO_PRODUCT_ID);
        let sha256 = DeviceKey::from_base64(DEMO_DEVICE_SECRET)
            .unwrap()
            .password_sha256(username);
        assert!(verify_connect(
            &registry,
            &connect(CLIENT_ID, username, sha256.as_bytes()),
            NOW,
            &TransportProof::Password
        )
        .is_ok());
    }

    #[test]
    fn unknown_client_id_wins_over_bad_password() {
        let registry = Registry::demo();
        let refusal = verify_connect(
            &registry,
            &connect("DEMO000001other", "x", b"y"),
            NOW,
            &TransportProof::Password,
        );
        assert_eq!(refusal, Err(ConnectRefusal::UnknownClientId));
        assert_eq!(ConnectRefusal::UnknownClientId.return_code(), 2);
    }

    #[test]
    fn malformed_or_expired_usernames_are_refused_with_rc_4() {
        let registry = Registry::demo();
        for username in [
            "DEMO000001demo;21010406;a1b2c;1700000000",
            "DEMO000001demo;21010406;a1b2c;",
            "DEMO000001demo;2101x406;a1b2c;2147483647",
            "DEMO000001demo;21010406;;2147483647",
            "DEMO000001demo;21010406;abcdefghijklmnopq;2147483647",
            "DEMO000001demo;21010406;a-b;2147483647",
            "DEMO000001other;21010406;a1b2c;2147483647",
            "DEMO000001demo;21010406;a1b2c",
        ] {
            let password = sha1_password(username);
            let refusal = verify_connect(
                &registry,
                &connect(CLIENT_ID, username, password.as_bytes()),
                NOW,
                &TransportProof::Password,
            );
            assert_eq!(refusal, Err(ConnectRefusal::BadCredentials), "{username}");
        }
    }

    #[test]
    fn wrong_password_is_refused_with_rc_4() {
        let registry = Registry::demo();
        let username = "DEMO000001demo;21010406;a1b2c;2147483647";
        let mut password = sha1_password(username).into_bytes();
        password[0] = if password[0] == b'0' { b'1' } else { b'0' };
        let refusal = verify_connect(
            &registry,
            &connect(CLIENT_ID, username, &password),
            NOW,
            &TransportProof::Password,
        );
        assert_eq!(refusal, Err(ConnectRefusal::BadCredentials));
    }

    #[test]
    fn disabled_device_with_good_credentials_gets_rc_5() {
        let mut registry = Registry::demo();
        registry.devices.get_mut(CLIENT_ID).unwrap().enabled = false;
        let username = "DEMO000001demo;21010406;a1b2c;2147483647";
        let refusal = verify_connect(
            &registry,
            &connect(CLIENT_ID, username, sha1_password(username).as_bytes()),
            NOW,
            &TransportProof::Password,
        );
        assert_eq!(refusal, Err(ConnectRefusal::NotAuthorized));
    }

    const USERNAME: &str = "DEMO000001demo;21010406;a1b2c;2147483647";

    #[test]
    fn psk_identity_replaces_the_password_and_must_name_the_client() {
        let registry = Registry::demo();
        let proof = TransportProof::PskIdentity(CLIENT_ID.to_owned());
        let garbage = connect(CLIENT_ID, USERNAME, b"not a password");
        assert!(verify_connect(&registry, &garbage, NOW, &proof).is_ok());
        let other = TransportProof::PskIdentity("DEMO000001other".to_owned());
        assert_eq!(
            verify_connect(&registry, &garbage, NOW, &other),
            Err(ConnectRefusal::NotAuthorized)
        );
        // The user name is still checked first (step 2 before step 3).
        let expired = connect(CLIENT_ID, "DEMO000001demo;1;a;1", b"");
        assert_eq!(
            verify_connect(&registry, &expired, NOW, &proof),
            Err(ConnectRefusal::BadCredentials)
        );
    }

    #[test]
    fn tls_without_psk_or_matching_certificate_gets_rc_5() {
        let registry = Registry::demo();
        let request = connect(CLIENT_ID, USERNAME, b"");
        for proof in [
            TransportProof::Anonymous,
            TransportProof::ClientCertificate(vec![0x30, 0x00]),
        ] {
            let refusal = verify_connect(&registry, &request, NOW, &proof);
            assert_eq!(refusal, Err(ConnectRefusal::NotAuthorized), "{proof:?}");
            assert_eq!(ConnectRefusal::NotAuthorized.return_code(), 5);
        }
    }
}
