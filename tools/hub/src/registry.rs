//! Device registry: products and devices the hub accepts (`hub.md` §3).
//!
//! The registry is plain data loaded once from JSON or the command line and changed later
//! through the admin API. It is kept separate from the broker's live state so that a
//! CONNECT check or an ACL decision is a pure function of (registry, packet, clock) and can be
//! unit tested without sockets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The product of the built-in demo device.
pub const DEMO_PRODUCT_ID: &str = "DEMO000001";
/// The name of the built-in demo device.
pub const DEMO_DEVICE_NAME: &str = "demo";
/// The secret of the built-in demo device (Base64 of `demo_secret_1234`).
pub const DEMO_DEVICE_SECRET: &str = "ZGVtb19zZWNyZXRfMTIzNA==";

/// Rights a custom topic grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicRights {
    /// Publish only.
    Pub,
    /// Subscribe only.
    Sub,
    /// Publish and subscribe.
    Pubsub,
}

/// Whether a product's devices are plain devices or gateways (`hub.md` §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// A plain device.
    #[default]
    Device,
    /// A gateway: may use `$gateway/…` and bind devices of its `subproducts`.
    Gateway,
}

/// A console-defined topic of a product; `${deviceName}` stands for the device name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomTopic {
    /// Topic, e.g. `ABCDEFGHIJ/${deviceName}/custom`.
    pub topic: String,
    /// What devices may do with it.
    pub rights: TopicRights,
}

fn yes() -> bool {
    true
}

fn default_region() -> String {
    "ap-guangzhou".to_owned()
}

fn default_auth() -> String {
    "key".to_owned()
}

/// A product (`hub.md` §3). Fields this build does not use yet (dynamic registration) are
/// kept so a registry file written for the full hub loads unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id (10 characters on the real cloud; not enforced).
    pub pid: String,
    /// Region string as stored on the device.
    #[serde(default = "default_region")]
    pub region: String,
    /// `key` or `cert`.
    #[serde(default = "default_auth")]
    pub auth: String,
    /// Product secret (dynamic registration).
    #[serde(default)]
    pub product_secret: String,
    /// Whether a device receives its own publishes (`<pid>/<dn>/data` loop-back).
    #[serde(default = "yes")]
    pub loopback_data: bool,
    /// Whether devices may use the `$thing/…` topics.
    #[serde(default = "yes")]
    pub thing_topics: bool,
    /// Extra topics with their rights.
    #[serde(default)]
    pub custom_topics: Vec<CustomTopic>,
    /// `device` or `gateway` (`hub.md` §3).
    #[serde(default)]
    pub node_type: NodeType,
    /// Gateway products: the pids whose devices may be bound to its devices.
    #[serde(default)]
    pub subproducts: Vec<String>,
    /// Other fields (e.g. `dynreg`), kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Product {
    /// A product with every default of `hub.md` §3.
    pub fn with_defaults(pid: &str) -> Self {
        Self {
            pid: pid.to_owned(),
            region: default_region(),
            auth: default_auth(),
            product_secret: String::new(),
            loopback_data: true,
            thing_topics: true,
            custom_topics: Vec::new(),
            node_type: NodeType::Device,
            subproducts: Vec::new(),
            other: BTreeMap::new(),
        }
    }
}

/// A device (`hub.md` §3).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Product id.
    pub pid: String,
    /// Device name.
    pub dn: String,
    /// Base64 device secret.
    #[serde(default)]
    pub secret: String,
    /// Disabled devices are refused with CONNACK 5.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// PEM client certificate of a certificate-mode device; the TLS listener accepts a
    /// client certificate only if it is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    /// `"<pid>/<dn>"` of the gateway this sub-device is bound to (`hub.md` §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_gateway: Option<String>,
}

impl fmt::Debug for Device {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is deliberately left out: Debug output ends up in logs.
        formatter
            .debug_struct("Device")
            .field("pid", &self.pid)
            .field("dn", &self.dn)
            .field("enabled", &self.enabled)
            .field("cert_pem", &self.cert_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// The MQTT client id `<pid><dn>`.
    pub fn client_id(&self) -> String {
        format!("{}{}", self.pid, self.dn)
    }
}

/// Why a registry could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryError {
    /// The JSON file is not a registry.
    InvalidJson,
    /// A `--device` value is not `PID:DN:SECRET`.
    InvalidDeviceFlag,
    /// A device secret is not valid Base64.
    InvalidSecret,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::InvalidJson => "registry JSON does not match the format of hub.md §3",
            Self::InvalidDeviceFlag => "device must be given as PID:DN:SECRET",
            Self::InvalidSecret => "device secret is not valid Base64",
        })
    }
}

impl core::error::Error for RegistryError {}

/// Products and devices, keyed by product id and client id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    /// Products by product id.
    pub products: BTreeMap<String, Product>,
    /// Devices by client id `<pid><dn>`.
    pub devices: BTreeMap<String, Device>,
}

#[derive(Deserialize)]
struct RegistryFile {
    #[serde(default)]
    products: Vec<Product>,
    #[serde(default)]
    devices: Vec<Device>,
}

impl Registry {
    /// The registry holding only the demo device.
    pub fn demo() -> Self {
        let mut registry = Self::default();
        registry.add_device(Device {
            pid: DEMO_PRODUCT_ID.to_owned(),
            dn: DEMO_DEVICE_NAME.to_owned(),
            secret: DEMO_DEVICE_SECRET.to_owned(),
            enabled: true,
            cert_pem: None,
            bound_gateway: None,
        });
        registry
    }

    /// Merges a registry JSON document (`{"products":[…],"devices":[…]}`) into this one.
    ///
    /// # Errors
    /// [`RegistryError::InvalidJson`] or [`RegistryError::InvalidSecret`].
    pub fn load_json(&mut self, text: &str) -> Result<(), RegistryError> {
        let file: RegistryFile =
            serde_json::from_str(text).map_err(|_| RegistryError::InvalidJson)?;
        for product in file.products {
            self.products.insert(product.pid.clone(), product);
        }
        for device in file.devices {
            // A certificate-mode device may come without a secret.
            if device.cert_pem.is_none() || !device.secret.is_empty() {
                check_secret(&device.secret)?;
            }
            self.add_device(device);
        }
        Ok(())
    }

    /// Adds a device given as `PID:DN:SECRET` (Base64 has no `:`).
    ///
    /// # Errors
    /// [`RegistryError::InvalidDeviceFlag`] or [`RegistryError::InvalidSecret`].
    pub fn add_device_flag(&mut self, flag: &str) -> Result<(), RegistryError> {
        let mut parts = flag.splitn(3, ':');
        let (Some(pid), Some(dn), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RegistryError::InvalidDeviceFlag);
        };
        if pid.is_empty() || dn.is_empty() {
            return Err(RegistryError::InvalidDeviceFlag);
        }
        check_secret(secret)?;
        self.add_device(Device {
            pid: pid.to_owned(),
            dn: dn.to_owned(),
            secret: secret.to_owned(),
            enabled: true,
            cert_pem: None,
            bound_gateway: None,
        });
        Ok(())
    }

    /// Inserts or replaces a device, creating its product with defaults if unknown.
    pub fn add_device(&mut self, device: Device) {
        self.products
            .entry(device.pid.clone())
            .or_insert_with(|| Product::with_defaults(&device.pid));
        self.devices.insert(device.client_id(), device);
    }

    /// The product of a device; a device always has one (see [`Registry::add_device`]).
    pub fn product_of(&self, device: &Device) -> Product {
        self.products
            .get(&device.pid)
            .cloned()
            .unwrap_or_else(|| Product::with_defaults(&device.pid))
    }
}

fn check_secret(secret: &str) -> Result<(), RegistryError> {
    mqtt_session::tencent::DeviceKey::from_base64(secret)
        .map(|_| ())
        .map_err(|_| RegistryError::InvalidSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_registry_fills_product_defaults_and_keys_devices_by_client_id() {
        let mut registry = Registry::default();
        registry
            .load_json(
                r#"{"products":[{"pid":"AAAAAAAAAA","loopback_data":false,"dynreg":"off",
                    "custom_topics":[{"topic":"AAAAAAAAAA/${deviceName}/up","rights":"pub"}]}],
                   "devices":[{"pid":"AAAAAAAAAA","dn":"d1","secret":"MTIzNDU2Nzg5MDEyMzQ1Ng==","enabled":false},
                              {"pid":"BBBBBBBBBB","dn":"d2","secret":"MTIzNDU2Nzg5MDEyMzQ1Ng=="}]}"#,
            )
            .unwrap();
        let product = &registry.products["AAAAAAAAAA"];
        assert!(!product.loopback_data);
        assert!(product.thing_topics);
        assert_eq!(product.region, "ap-guangzhou");
        assert_eq!(product.custom_topics[0].rights, TopicRights::Pub);
        assert!(!registry.devices["AAAAAAAAAAd1"].enabled);
        assert!(registry.devices["BBBBBBBBBBd2"].enabled);
        assert!(registry.products["BBBBBBBBBB"].loopback_data);
    }

    #[test]
    fn device_flag_needs_three_parts_and_base64_secret() {
        let mut registry = Registry::default();
        assert_eq!(
            registry.add_device_flag("P:D"),
            Err(RegistryError::InvalidDeviceFlag)
        );
        assert_eq!(
            registry.add_device_flag("P:D:***"),
            Err(RegistryError::InvalidSecret)
        );
        registry
            .add_device_flag("PID0000001:dev:MTIzNDU2Nzg5MDEyMzQ1Ng==")
            .unwrap();
        assert_eq!(registry.devices["PID0000001dev"].dn, "dev");
    }

    #[test]
    fn shipped_example_registry_loads() {
        let mut registry = Registry::default();
        registry
            .load_json(include_str!("../registry.example.json"))
            .unwrap();
        assert_eq!(registry.devices.len(), 3);
        assert!(!registry.products["HUBONLY001"].thing_topics);
        assert!(!registry.devices["CTQS08Y5LGDisabled"].enabled);
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let registry = Registry::demo();
        let text = format!("{registry:?}");
        assert!(!text.contains(DEMO_DEVICE_SECRET));
    }
}
