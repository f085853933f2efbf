//! Tencent IoT Hub identity: hosts, client id, user name, password (`cloud.md` §1).
//!
//! Everything here is a pure function of the stored device record plus a 5-character
//! connection id, so it can be checked byte for byte against the vectors captured from
//! Tencent's C SDK. Secrets stay in [`DeviceKey`], which never implements `Display` and
//! whose `Debug` prints nothing but the length.

use base64::Engine as _;
use core::fmt::{self, Write as _};
use heapless::String;
use hmac::{Hmac, Mac};

/// Longest client id `<pid><dn>` accepted (the original stored dn in 52 bytes).
pub const CLIENT_ID_CAPACITY: usize = 64;
/// Longest user name `<cid>;<appid>;<connid>;<expiry>` produced.
pub const USERNAME_CAPACITY: usize = 128;
/// Longest password produced (`<64 hex>;hmacsha256`).
pub const PASSWORD_CAPACITY: usize = 80;
/// Largest decoded device secret (a 64-character Base64 secret).
pub const KEY_CAPACITY: usize = 48;
/// Longest MQTT host `<pid>.<domain>` produced.
pub const HOST_CAPACITY: usize = 64;

/// App id field of the user name sent by every Tencent C SDK.
pub const SDK_APP_ID: &str = "21010406";
/// Signature expiry the original sends: 32-bit `LONG_MAX`, which needs no clock.
pub const DEFAULT_EXPIRY: u64 = 2_147_483_647;

/// Why an identity field could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IdentityError {
    /// The device secret is not valid Base64 or decodes to more than [`KEY_CAPACITY`] bytes
    /// (AT result `-1002`).
    InvalidSecret,
    /// Product id plus device name exceed [`CLIENT_ID_CAPACITY`].
    ClientIdTooLong,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::InvalidSecret => "device secret is not valid Base64",
            Self::ClientIdTooLong => "product id and device name too long",
        })
    }
}

impl core::error::Error for IdentityError {}

/// MQTT domain for a stored region string (`cloud.md` §1.1; unknown strings → Guangzhou).
pub fn mqtt_domain(region: &str) -> &'static str {
    match region {
        "na-ashburn" | "us-east" => "us-east.iotcloud.tencentdevices.com",
        "europe" => "europe.iothub.tencentdevices.com",
        "ap-bangkok" => "ap-bangkok.iothub.tencentdevices.com",
        _ => "iotcloud.tencentdevices.com",
    }
}

/// Dynamic-registration host for a region; `https` selects the HTTPS column, plain HTTP
/// uses `ap-guangzhou.gateway…` for the default row (`cloud.md` §1.1, §5).
pub fn dynreg_host(region: &str, https: bool) -> &'static str {
    match region {
        "na-ashburn" | "us-east" => "us-east.gateway.tencentdevices.com",
        "europe" => "europe.gateway.tencentdevices.com",
        "ap-bangkok" => "ap-bangkok.gateway.tencentdevices.com",
        _ if https => "gateway.tencentdevices.com",
        _ => "ap-guangzhou.gateway.tencentdevices.com",
    }
}

/// MQTT host `<pid>.<domain>` (used unless AT+TCMQTTSRV overrides it).
///
/// # Errors
/// [`IdentityError::ClientIdTooLong`] when the product id does not fit [`HOST_CAPACITY`].
pub fn mqtt_host(product_id: &str, region: &str) -> Result<String<HOST_CAPACITY>, IdentityError> {
    let mut host = String::new();
    write!(host, "{product_id}.{}", mqtt_domain(region))
        .map_err(|_| IdentityError::ClientIdTooLong)?;
    Ok(host)
}

/// Client id `<pid><dn>`, also the TLS-PSK identity.
///
/// # Errors
/// [`IdentityError::ClientIdTooLong`] beyond [`CLIENT_ID_CAPACITY`] bytes.
pub fn client_id(
    product_id: &str,
    device_name: &str,
) -> Result<String<CLIENT_ID_CAPACITY>, IdentityError> {
    let mut id = String::new();
    id.push_str(product_id)
        .map_err(|_| IdentityError::ClientIdTooLong)?;
    id.push_str(device_name)
        .map_err(|_| IdentityError::ClientIdTooLong)?;
    Ok(id)
}

/// The 5-character `[A-Za-z0-9]` connection id, new for every connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnectionId([u8; 5]);

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl ConnectionId {
    /// Maps 32 random bits from the caller's RNG to 5 characters (62⁵ < 2³², so every id
    /// is reachable; the slight bias does not matter for a connection nonce).
    pub fn from_random(mut bits: u32) -> Self {
        let mut characters = [0u8; 5];
        for character in &mut characters {
            *character = ALPHABET[(bits % 62) as usize];
            bits /= 62;
        }
        Self(characters)
    }

    /// Uses the given characters; `None` unless exactly 5 of `[A-Za-z0-9]`.
    pub fn new(text: &str) -> Option<Self> {
        let bytes: [u8; 5] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(Self(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// User name `<cid>;<app id>;<connid>;<expiry>`.
///
/// # Errors
/// [`IdentityError::ClientIdTooLong`] when the result exceeds [`USERNAME_CAPACITY`].
pub fn username(
    client_id: &str,
    app_id: &str,
    connection_id: ConnectionId,
    expiry: u64,
) -> Result<String<USERNAME_CAPACITY>, IdentityError> {
    let mut name = String::new();
    write!(
        name,
        "{client_id};{app_id};{};{expiry}",
        connection_id.as_str()
    )
    .map_err(|_| IdentityError::ClientIdTooLong)?;
    Ok(name)
}

/// The decoded device secret: TLS-PSK key and HMAC key.
///
/// One-byte length and no alignment: it lives in the service's identity for as long as a
/// session may reconnect, and in every connect request.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey {
    bytes: [u8; KEY_CAPACITY],
    length: u8,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DeviceKey({} bytes)", self.length)
    }
}

impl DeviceKey {
    /// Decodes a Base64 device secret (standard alphabet, padded).
    ///
    /// # Errors
    /// [`IdentityError::InvalidSecret`] for invalid Base64 or more than [`KEY_CAPACITY`] bytes.
    pub fn from_base64(secret: &str) -> Result<Self, IdentityError> {
        let mut bytes = [0u8; KEY_CAPACITY];
        let length = base64::engine::general_purpose::STANDARD
            .decode_slice(secret.as_bytes(), &mut bytes)
            .map_err(|_| IdentityError::InvalidSecret)?;
        // `decode_slice` wrote at most KEY_CAPACITY (48) bytes.
        let length = u8::try_from(length).map_err(|_| IdentityError::InvalidSecret)?;
        Ok(Self { bytes, length })
    }

    /// The key bytes (the TLS pre-shared key).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.length)]
    }

    /// Mode-0 password `lowercase_hex(HMAC-SHA1(key, username)) + ";hmacsha1"`.
    pub fn password_sha1(&self, username: &str) -> String<PASSWORD_CAPACITY> {
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(self.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(username.as_bytes());
        hex_with_suffix(&mac.finalize().into_bytes(), ";hmacsha1")
    }

    /// The `";hmacsha256"` password variant the server also accepts.
    pub fn password_sha256(&self, username: &str) -> String<PASSWORD_CAPACITY> {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(username.as_bytes());
        hex_with_suffix(&mac.finalize().into_bytes(), ";hmacsha256")
    }
}

fn hex_with_suffix(digest: &[u8], suffix: &str) -> String<PASSWORD_CAPACITY> {
    let mut text = String::new();
    for byte in digest {
        // 32 digest bytes + suffix always fit PASSWORD_CAPACITY.
        let _ = write!(text, "{byte:02x}");
    }
    let _ = text.push_str(suffix);
    text
}

/// How the CONNECT authenticates (`cloud.md` §1.1 TLS-mode table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Authentication {
    /// TLS-PSK or certificate: the transport authenticates, no MQTT password.
    Transport,
    /// Plain TCP: HMAC-SHA1 password.
    HmacSha1,
}

/// Everything needed to build a CONNECT for one device: kept by the runner (which also
/// authenticates the transport with it) and lent to the session for every CONNECT, so that
/// every reconnect gets a fresh user name. Byte-sized lengths, no alignment (115 bytes, not
/// 136): it is kept for good and travels in the connect request.
#[derive(Debug, Clone)]
pub struct Identity {
    client_id: String<CLIENT_ID_CAPACITY, u8>,
    key: DeviceKey,
    authentication: Authentication,
}

/// The variable CONNECT fields of one connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFields {
    /// `<cid>;21010406;<connid>;2147483647`.
    pub username: String<USERNAME_CAPACITY>,
    /// Present for [`Authentication::HmacSha1`].
    pub password: Option<String<PASSWORD_CAPACITY>>,
}

impl Identity {
    /// Builds the identity from the device record.
    ///
    /// # Errors
    /// [`IdentityError`] for an undecodable secret or an over-long client id.
    pub fn new(
        product_id: &str,
        device_name: &str,
        device_secret: &str,
        authentication: Authentication,
    ) -> Result<Self, IdentityError> {
        let mut compact = String::new();
        compact
            .push_str(&client_id(product_id, device_name)?)
            .map_err(|_| IdentityError::ClientIdTooLong)?;
        Ok(Self {
            client_id: compact,
            key: DeviceKey::from_base64(device_secret)?,
            authentication,
        })
    }

    /// Client id (and TLS-PSK identity).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// TLS pre-shared key.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// User name and password for one connection attempt.
    pub fn connect_fields(&self, connection_id: ConnectionId) -> ConnectFields {
        // CLIENT_ID_CAPACITY + the fixed fields always fit USERNAME_CAPACITY.
        let username = username(&self.client_id, SDK_APP_ID, connection_id, DEFAULT_EXPIRY)
            .unwrap_or_default();
        let password = match self.authentication {
            Authentication::Transport => None,
            Authentication::HmacSha1 => Some(self.key.password_sha1(&username)),
        };
        ConnectFields { username, password }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_use_only_alphanumerics() {
        for bits in [0, 1, 61, 62, u32::MAX, 0xDEAD_BEEF] {
            let id = ConnectionId::from_random(bits);
            assert_eq!(id.as_str().len(), 5);
            assert!(id.as_str().bytes().all(|byte| byte.is_ascii_alphanumeric()));
        }
        assert_ne!(ConnectionId::from_random(1), ConnectionId::from_random(2));
        assert_eq!(
            ConnectionId::new("a1b2c").map(|id| id.as_str() == "a1b2c"),
            Some(true)
        );
        assert_eq!(ConnectionId::new("a1b2"), None);
        assert_eq!(ConnectionId::new("a1b2;"), None);
    }

    #[test]
    fn invalid_secret_is_rejected() {
        assert_eq!(
            DeviceKey::from_base64("not base64!"),
            Err(IdentityError::InvalidSecret)
        );
    }

    #[test]
    fn region_table_matches_spec() {
        assert_eq!(mqtt_domain("ap-guangzhou"), "iotcloud.tencentdevices.com");
        assert_eq!(mqtt_domain("china"), "iotcloud.tencentdevices.com");
        assert_eq!(mqtt_domain("whatever"), "iotcloud.tencentdevices.com");
        assert_eq!(
            mqtt_domain("na-ashburn"),
            "us-east.iotcloud.tencentdevices.com"
        );
        assert_eq!(
            mqtt_domain("us-east"),
            "us-east.iotcloud.tencentdevices.com"
        );
        assert_eq!(mqtt_domain("europe"), "europe.iothub.tencentdevices.com");
        assert_eq!(
            mqtt_domain("ap-bangkok"),
            "ap-bangkok.iothub.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("ap-guangzhou", true),
            "gateway.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("ap-guangzhou", false),
            "ap-guangzhou.gateway.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("us-east", false),
            "us-east.gateway.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("na-ashburn", true),
            "us-east.gateway.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("europe", true),
            "europe.gateway.tencentdevices.com"
        );
        assert_eq!(
            dynreg_host("ap-bangkok", false),
            "ap-bangkok.gateway.tencentdevices.com"
        );
        assert_eq!(
            mqtt_host("CTQS08Y5LG", "ap-guangzhou").unwrap().as_str(),
            "CTQS08Y5LG.iotcloud.tencentdevices.com"
        );
    }
}
