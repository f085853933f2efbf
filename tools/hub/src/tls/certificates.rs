//! The hub test CA and the server certificate it signs (`hub.md` §2).
//!
//! Both are generated at every start, so no private key ever sits in the repository and a
//! test cannot come to depend on yesterday's certificate. The CA goes to the file the board
//! gets as `TCAT_CA_FILE`; the server certificate lists every host name the firmware dials,
//! because a board verifies the name even when `TCAT_RESOLVE` points it at 127.0.0.1.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509};

/// Names the server certificate always carries (`hub.md` §2); `*` covers one label.
pub const DEFAULT_NAMES: &[&str] = &[
    "*.iotcloud.tencentdevices.com",
    "*.us-east.iotcloud.tencentdevices.com",
    "*.europe.iothub.tencentdevices.com",
    "*.ap-bangkok.iothub.tencentdevices.com",
    "gateway.tencentdevices.com",
    "*.gateway.tencentdevices.com",
    "*.cos.ap-guangzhou.myqcloud.com",
    "localhost",
];

/// The IP address the server certificate carries besides the names.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";

/// RSA keeps every client able to talk to the hub (rustls, mbedTLS, `openssl s_client`).
const KEY_BITS: u32 = 2048;
/// Ten years: long enough that a test never meets an expired hub certificate.
const VALID_DAYS: u32 = 3650;

/// The CA and the server identity it signs.
pub struct HubCertificates {
    /// The hub test CA (self-signed).
    pub ca: X509,
    /// The server certificate, signed by [`Self::ca`].
    pub server: X509,
    /// The server certificate's private key.
    pub server_key: PKey<Private>,
}

impl std::fmt::Debug for HubCertificates {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of Debug output, which may reach logs.
        formatter
            .debug_struct("HubCertificates")
            .field("ca", &self.ca.subject_name())
            .field("server", &self.server.subject_name())
            .finish_non_exhaustive()
    }
}

impl HubCertificates {
    /// Generates a CA and a server certificate for [`DEFAULT_NAMES`], [`DEFAULT_ADDRESS`]
    /// and `extra_names` (DNS names, or IP addresses when they parse as one).
    ///
    /// # Errors
    /// OpenSSL failed to generate a key or sign a certificate.
    pub fn generate(extra_names: &[String]) -> Result<Self, ErrorStack> {
        let ca_key = PKey::from_rsa(Rsa::generate(KEY_BITS)?)?;
        let ca_name = name("tc-at hub test CA")?;
        let mut ca = start_certificate(&ca_name, &ca_name, &ca_key)?;
        ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        ca.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        ca.append_extension(SubjectKeyIdentifier::new().build(&ca.x509v3_context(None, None))?)?;
        ca.sign(&ca_key, MessageDigest::sha256())?;
        let ca = ca.build();

        let server_key = PKey::from_rsa(Rsa::generate(KEY_BITS)?)?;
        let mut server = start_certificate(&name("tc-at hub")?, ca.subject_name(), &server_key)?;
        server.append_extension(BasicConstraints::new().critical().build()?)?;
        server.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        server.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let mut alternative_names = SubjectAlternativeName::new();
        for dns_name in DEFAULT_NAMES {
            alternative_names.dns(dns_name);
        }
        alternative_names.ip(DEFAULT_ADDRESS);
        for extra in extra_names {
            if extra.parse::<std::net::IpAddr>().is_ok() {
                alternative_names.ip(extra);
            } else {
                alternative_names.dns(extra);
            }
        }
        let context = server.x509v3_context(Some(&ca), None);
        let alternative_names = alternative_names.build(&context)?;
        let subject_key = SubjectKeyIdentifier::new().build(&context)?;
        let authority_key = AuthorityKeyIdentifier::new().keyid(false).build(&context)?;
        server.append_extension(alternative_names)?;
        server.append_extension(subject_key)?;
        server.append_extension(authority_key)?;
        server.sign(&ca_key, MessageDigest::sha256())?;
        Ok(Self {
            ca,
            server: server.build(),
            server_key,
        })
    }

    /// The CA certificate in PEM, the content of `--ca-out`.
    ///
    /// # Errors
    /// OpenSSL failed to encode the certificate.
    pub fn ca_pem(&self) -> Result<Vec<u8>, ErrorStack> {
        self.ca.to_pem()
    }
}

fn name(common_name: &str) -> Result<X509Name, ErrorStack> {
    let mut builder = X509Name::builder()?;
    builder.append_entry_by_text("O", "tc-at test")?;
    builder.append_entry_by_text("CN", common_name)?;
    Ok(builder.build())
}

/// Version 3, a random positive serial, validity from yesterday (clock skew) on.
fn start_certificate(
    subject: &X509Name,
    issuer: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
) -> Result<X509Builder, ErrorStack> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(key)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let yesterday = i64::try_from(now.saturating_sub(86_400)).unwrap_or(i64::MAX);
    let not_before = Asn1Time::from_unix(yesterday)?;
    let not_after = Asn1Time::days_from_now(VALID_DAYS)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::X509StoreContext;

    fn verifies(certificates: &HubCertificates) -> bool {
        let mut store = X509StoreBuilder::new().unwrap();
        store.add_cert(certificates.ca.clone()).unwrap();
        let store = store.build();
        let mut context = X509StoreContext::new().unwrap();
        context
            .init(
                &store,
                &certificates.server,
                &Stack::new().unwrap(),
                |context| context.verify_cert(),
            )
            .unwrap()
    }

    #[test]
    fn server_certificate_chains_to_the_ca_and_lists_the_spec_names() {
        let certificates = HubCertificates::generate(&["ota.example.test".to_owned()]).unwrap();
        assert!(verifies(&certificates));
        let names: Vec<String> = certificates
            .server
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|name| {
                name.dnsname()
                    .map(str::to_owned)
                    .or_else(|| name.ipaddress().map(|bytes| format!("{bytes:?}")))
            })
            .collect();
        for expected in DEFAULT_NAMES.iter().chain(&["ota.example.test"]) {
            assert!(
                names.iter().any(|name| name == expected),
                "{expected} missing"
            );
        }
        assert!(names.contains(&"[127, 0, 0, 1]".to_owned()));
        assert!(certificates
            .ca_pem()
            .unwrap()
            .starts_with(b"-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn each_start_gets_its_own_ca() {
        let first = HubCertificates::generate(&[]).unwrap();
        let second = HubCertificates::generate(&[]).unwrap();
        assert_ne!(first.ca.to_der().unwrap(), second.ca.to_der().unwrap());
        let mixed = HubCertificates {
            ca: second.ca,
            server: first.server,
            server_key: first.server_key,
        };
        assert!(!verifies(&mixed));
    }
}
