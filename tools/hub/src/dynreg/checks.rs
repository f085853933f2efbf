//! The checks of `hub.md` §6 in their order, the signature, and the encrypted answer.

use crate::registry::Registry;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{Cipher, Crypter, Mode};
use serde_json::Value;

/// Counters and settings the checks read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Successful registrations of this device so far.
    pub registrations: u64,
    /// Devices of this product created by registration so far.
    pub created: u64,
    /// Accepted distance of the request's timestamp from the hub clock, if checked.
    pub window_s: Option<u64>,
}

/// A well-formed registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `deviceName`.
    pub device_name: String,
    /// `nonce`, as sent.
    pub nonce: i64,
    /// `productId`.
    pub product_id: String,
    /// `timestamp`, as sent.
    pub timestamp: i64,
    /// `signature`.
    pub signature: String,
}

/// A refusal: the cloud `code` and its `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// `code` (`errors.md` §4).
    pub code: u16,
    /// `message`.
    pub message: &'static str,
}

const fn refuse(code: u16, message: &'static str) -> Refusal {
    Refusal { code, message }
}

/// What a request that passed every check leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The device does not exist yet and is created.
    pub create: bool,
    /// The product secret (the AES key is its first 16 bytes).
    pub product_secret: String,
}

/// Parses the body; `None` → 1006.
pub fn parse(body: &[u8]) -> Option<Request> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(Request {
        device_name: value.get("deviceName")?.as_str()?.to_owned(),
        nonce: value.get("nonce")?.as_i64()?,
        product_id: value.get("productId")?.as_str()?.to_owned(),
        timestamp: value.get("timestamp")?.as_i64()?,
        signature: value.get("signature")?.as_str()?.to_owned(),
    })
}

/// `productId` of a body that may fail the checks, to select per-product faults.
pub fn product_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value.get("productId")?.as_str()?.to_owned())
}

/// Base64 of the lowercase hex HMAC-SHA1 of the canonical string (`cloud.md` §5).
pub fn signature(product_secret: &str, request: &Request) -> String {
    let canonical = format!(
        "deviceName={}&nonce={}&productId={}&timestamp={}",
        request.device_name, request.nonce, request.product_id, request.timestamp
    );
    let hex: String = PKey::hmac(product_secret.as_bytes())
        .and_then(|key| {
            let mut signer = Signer::new(MessageDigest::sha1(), &key)?;
            signer.update(canonical.as_bytes())?;
            signer.sign_to_vec()
        })
        .map(|digest| digest.iter().map(|byte| format!("{byte:02x}")).collect())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(hex)
}

/// The checks of `hub.md` §6 after the body parsed, in order. `activated` tells whether the
/// device exists and connected since its last registration.
pub fn decide(
    registry: &Registry,
    request: &Request,
    counters: Counters,
    activated: bool,
    now_unix: u64,
) -> Result<Accepted, Refusal> {
    let product = registry
        .products
        .get(&request.product_id)
        .ok_or(refuse(1004, "product does not exist"))?;
    let setting = |name: &str| product.other.get(name).cloned().unwrap_or(Value::Null);
    let mode = setting("dynreg");
    let mode = mode.as_str().unwrap_or("off");
    if mode == "off" {
        return Err(refuse(1011, "dynamic registration is not enabled"));
    }
    if signature(&product.product_secret, request) != request.signature {
        return Err(refuse(1010, "signature check failed"));
    }
    if let Some(window) = counters.window_s {
        if request.timestamp.abs_diff(now_unix as i64) > window {
            return Err(refuse(1010, "timestamp out of window"));
        }
    }
    let client_id = format!("{}{}", request.product_id, request.device_name);
    let exists = registry.devices.contains_key(&client_id);
    if exists && activated {
        return Err(refuse(1021, "device already registered and activated"));
    }
    if !exists && mode == "precreate" {
        return Err(refuse(1020, "device not created"));
    }
    let quota = setting("autocreate_quota").as_u64();
    if !exists && quota.is_some_and(|quota| counters.created >= quota) {
        return Err(refuse(1031, "auto-creation quota exceeded"));
    }
    let maximum = setting("max_registrations").as_u64();
    if maximum.is_some_and(|maximum| counters.registrations >= maximum) {
        return Err(refuse(1012, "maximum number of registrations exceeded"));
    }
    if product.auth != "key" || product.product_secret.len() < 16 {
        return Err(refuse(1000, "internal error"));
    }
    Ok(Accepted {
        create: !exists,
        product_secret: product.product_secret.clone(),
    })
}

/// Base64 of AES-128-CBC(key = first 16 bytes of the product secret, IV = 16 × `0`) of the
/// plaintext zero-padded to a multiple of 16 (nothing added when aligned).
pub fn encrypt(
    product_secret: &str,
    plaintext: &[u8],
) -> Result<String, openssl::error::ErrorStack> {
    let mut padded = plaintext.to_vec();
    padded.resize(plaintext.len().div_ceil(16) * 16, 0);
    let key = &product_secret.as_bytes()[..16];
    let mut crypter = Crypter::new(Cipher::aes_128_cbc(), Mode::Encrypt, key, Some(&[b'0'; 16]))?;
    crypter.pad(false);
    let mut out = vec![0; padded.len() + 16];
    let mut length = crypter.update(&padded, &mut out)?;
    length += crypter.finalize(&mut out[length..])?;
    out.truncate(length);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Xq3mP8sLw2Kd9fRt6YbN1cVh";

    fn request() -> Request {
        Request {
            device_name: "Dev01".into(),
            nonce: 123_456_789,
            product_id: "CTQS08Y5LG".into(),
            timestamp: 1_700_000_000,
            signature: "ZTFmMTJkZmU4OTEzODI4NTIyNzFhY2I4ZjU3NjcyZTBmMzA0ZjZhMg==".into(),
        }
    }

    fn registry(settings: &str, device: bool) -> Registry {
        let devices = if device {
            r#"[{"pid":"CTQS08Y5LG","dn":"Dev01","secret":"ZHNkIGRzZCA="}]"#
        } else {
            "[]"
        };
        let mut registry = Registry::default();
        registry
            .load_json(&format!(
                r#"{{"products":[{{"pid":"CTQS08Y5LG","product_secret":"{SECRET}"{settings}}}],"devices":{devices}}}"#
            ))
            .unwrap();
        registry
    }

    fn code(registry: &Registry, request: &Request, counters: Counters, activated: bool) -> u16 {
        match decide(registry, request, counters, activated, 1_700_000_100) {
            Ok(_) => 0,
            Err(refusal) => refusal.code,
        }
    }

    #[test]
    fn signature_and_encryption_match_the_vectors() {
        assert_eq!(signature(SECRET, &request()), request().signature);
        let plaintext = br#"{"encryptionType":2,"psk":"k3Zq8cB1vP+Lx0T2mY9wRg=="}"#;
        assert_eq!(
            encrypt(SECRET, plaintext).unwrap(),
            "LNFcGLhiEQPjTGTzW5v/YRCFsOxn2Lv0nFocllhaE6pn5+BkeWYvsfWaaeuZlsY+H+S1pVT4CXrXxvoeI/bzKQ=="
        );
    }

    #[test]
    fn every_check_in_its_order() {
        let none = Counters::default();
        let auto = r#","dynreg":"autocreate""#;
        assert_eq!(parse(b"{}"), None);
        assert_eq!(
            parse(
                br#"{"deviceName":"d","nonce":"1","productId":"p","timestamp":1,"signature":"s"}"#
            ),
            None
        );
        let mut unknown = request();
        unknown.product_id = "NOPRODUCT1".into();
        assert_eq!(code(&registry(auto, false), &unknown, none, false), 1004);
        assert_eq!(code(&registry("", false), &request(), none, false), 1011);
        assert_eq!(
            code(
                &registry(r#","dynreg":"off""#, false),
                &request(),
                none,
                false
            ),
            1011
        );
        let mut forged = request();
        forged.signature = "x".into();
        assert_eq!(code(&registry(auto, false), &forged, none, false), 1010);
        let window = Counters {
            window_s: Some(60),
            ..none
        };
        assert_eq!(
            code(&registry(auto, false), &request(), window, false),
            1010
        );
        let wide = Counters {
            window_s: Some(100),
            ..none
        };
        assert_eq!(code(&registry(auto, false), &request(), wide, false), 0);
        assert_eq!(code(&registry(auto, true), &request(), none, true), 1021);
        assert_eq!(code(&registry(auto, true), &request(), none, false), 0);
        assert_eq!(
            code(
                &registry(r#","dynreg":"precreate""#, false),
                &request(),
                none,
                false
            ),
            1020
        );
        assert_eq!(
            code(
                &registry(r#","dynreg":"precreate""#, true),
                &request(),
                none,
                false
            ),
            0
        );
        let quota = r#","dynreg":"autocreate","autocreate_quota":1"#;
        let one = Counters { created: 1, ..none };
        assert_eq!(code(&registry(quota, false), &request(), one, false), 1031);
        assert_eq!(code(&registry(quota, true), &request(), one, false), 0);
        let maximum = r#","dynreg":"autocreate","max_registrations":2"#;
        let two = Counters {
            registrations: 2,
            ..none
        };
        assert_eq!(code(&registry(maximum, true), &request(), two, false), 1012);
        let certificate = r#","dynreg":"autocreate","auth":"cert""#;
        assert_eq!(
            code(&registry(certificate, false), &request(), none, false),
            1000
        );
    }
}
