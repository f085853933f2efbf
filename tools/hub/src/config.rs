//! Command-line options.
//!
//! Hand-parsed: a handful of flags do not justify an argument-parsing dependency in a tool that test
//! suites build from scratch.

use crate::registry::{Registry, RegistryError};
use std::fmt;

/// Usage text for `--help` and errors.
pub const USAGE: &str = "\
usage: tc-at-hub [--mqtt-port N] [--mqtts-port N] [--admin-port N] [--http-port N]
                 [--https-port N] [--ca-out FILE] [--tls-name NAME]... [--registry FILE]
                 [--device PID:DN:SECRET]...

  --mqtt-port N     plain MQTT listener on 127.0.0.1 (default 1883, 0 = any free port)
  --mqtts-port N    MQTT over TLS 1.2, PSK and certificate suites (default 8883, 0 = any)
  --ca-out FILE     write the hub test CA (PEM, generated at start) to FILE
  --tls-name NAME   one more DNS name or IP address in the server certificate (repeatable)
  --admin-port N    admin HTTP+JSON API on 127.0.0.1 (default 18090, 0 = any free port)
  --http-port N     OTA file server over HTTP (default 0 = any free port; hub.md: 18080)
  --https-port N    OTA file server over HTTPS (default 0 = any free port; hub.md: 18443)
  --registry FILE   products and devices (JSON, see registry.example.json)
  --device P:D:S    add device D of product P with Base64 secret S (repeatable)

Without --registry and --device the hub serves one demo device.
Prints `HUB READY {...}` with the actual ports on stdout, logs on stderr (RUST_LOG).";

/// Parsed options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// MQTT listener port (0 = pick one).
    pub mqtt_port: u16,
    /// MQTT TLS listener port (0 = pick one).
    pub mqtts_port: u16,
    /// Where to write the CA certificate, if anywhere.
    pub ca_out: Option<String>,
    /// Extra subject-alternative names for the server certificate.
    pub tls_names: Vec<String>,
    /// Admin API port (0 = pick one).
    pub admin_port: u16,
    /// OTA HTTP port (0 = pick one).
    pub http_port: u16,
    /// OTA HTTPS port (0 = pick one).
    pub https_port: u16,
    /// The registry to serve.
    pub registry: Registry,
    /// Whether the demo device was used because nothing else was given.
    pub demo: bool,
}

/// Why the command line was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// `--help` was given.
    Help,
    /// Unknown flag or missing/invalid value.
    Invalid(String),
    /// The registry file could not be read or parsed.
    Registry(String, RegistryError),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => formatter.write_str(USAGE),
            Self::Invalid(message) => write!(formatter, "{message}\n{USAGE}"),
            Self::Registry(source, error) => write!(formatter, "{source}: {error}"),
        }
    }
}

impl core::error::Error for OptionsError {}

/// Parses the arguments after the program name; `read_file` reads the registry file.
///
/// # Errors
/// [`OptionsError`] for `--help`, bad flags or a bad registry.
pub fn parse(
    arguments: impl IntoIterator<Item = String>,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> Result<Options, OptionsError> {
    let mut options = Options {
        mqtt_port: 1883,
        mqtts_port: 8883,
        ca_out: None,
        tls_names: Vec::new(),
        admin_port: 18090,
        http_port: 0,
        https_port: 0,
        registry: Registry::default(),
        demo: false,
    };
    let mut arguments = arguments.into_iter();
    while let Some(flag) = arguments.next() {
        if flag == "--help" || flag == "-h" {
            return Err(OptionsError::Help);
        }
        let value = arguments
            .next()
            .ok_or_else(|| OptionsError::Invalid(format!("{flag} needs a value")))?;
        let port = || {
            value
                .parse::<u16>()
                .map_err(|_| OptionsError::Invalid(format!("{flag}: not a port: {value}")))
        };
        match flag.as_str() {
            "--mqtt-port" => options.mqtt_port = port()?,
            "--mqtts-port" => options.mqtts_port = port()?,
            "--admin-port" => options.admin_port = port()?,
            "--http-port" => options.http_port = port()?,
            "--https-port" => options.https_port = port()?,
            "--ca-out" => options.ca_out = Some(value),
            "--tls-name" => options.tls_names.push(value),
            "--registry" => {
                let text = read_file(&value).map_err(|error| {
                    OptionsError::Invalid(format!("cannot read {value}: {error}"))
                })?;
                options
                    .registry
                    .load_json(&text)
                    .map_err(|error| OptionsError::Registry(value.clone(), error))?;
            }
            "--device" => options
                .registry
                .add_device_flag(&value)
                .map_err(|error| OptionsError::Registry(value.clone(), error))?,
            _ => return Err(OptionsError::Invalid(format!("unknown option {flag}"))),
        }
    }
    if options.registry.devices.is_empty() && options.registry.products.is_empty() {
        options.registry = Registry::demo();
        options.demo = true;
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn no_file(_: &str) -> std::io::Result<String> {
        Err(std::io::Error::other("no files in this test"))
    }

    #[test]
    fn defaults_serve_the_demo_device_on_standard_ports() {
        let options = parse(Vec::new(), no_file).unwrap();
        assert_eq!(
            (
                options.mqtt_port,
                options.mqtts_port,
                options.admin_port,
                options.demo
            ),
            (1883, 8883, 18090, true)
        );
        assert_eq!((options.ca_out, options.tls_names.len()), (None, 0));
        assert!(options.registry.devices.contains_key("DEMO000001demo"));
    }

    #[test]
    fn devices_and_registry_replace_the_demo() {
        let read = |_: &str| {
            Ok(r#"{"devices":[{"pid":"P000000001","dn":"a","secret":"YWJj"}]}"#.to_owned())
        };
        let options = parse(
            arguments("--mqtt-port 0 --registry r.json --device P000000002:b:YWJj"),
            read,
        )
        .unwrap();
        assert!(!options.demo);
        assert_eq!(options.mqtt_port, 0);
        assert_eq!(options.mqtts_port, 8883);
        assert_eq!(options.registry.devices.len(), 2);
    }

    #[test]
    fn tls_options_are_read() {
        let options = parse(
            arguments("--mqtts-port 0 --ca-out /tmp/ca.pem --tls-name a.test --tls-name 10.0.0.1"),
            no_file,
        )
        .unwrap();
        assert_eq!(options.mqtts_port, 0);
        assert_eq!(options.ca_out.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(options.tls_names, ["a.test", "10.0.0.1"]);
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(matches!(
            parse(arguments("--mqtt-port x"), no_file),
            Err(OptionsError::Invalid(_))
        ));
        assert!(matches!(
            parse(arguments("--bogus 1"), no_file),
            Err(OptionsError::Invalid(_))
        ));
        assert!(matches!(
            parse(arguments("--admin-port"), no_file),
            Err(OptionsError::Invalid(_))
        ));
        assert_eq!(parse(arguments("--help"), no_file), Err(OptionsError::Help));
    }
}
