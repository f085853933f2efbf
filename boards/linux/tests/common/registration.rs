//! Fixtures of the dynamic-registration tests: a hub that wrote its test CA, its products and
//! fault switches (`hub.md` §6, §8), a module routed to it, and the AT steps every test
//! repeats.

use std::path::PathBuf;

use super::hub::Hub;
use super::{Module, Options, Scratch, Uart};

/// A product that registers devices (`dynreg` set per test).
pub const PID: &str = "CTQS08Y5LG";
/// Its product secret (24 bytes: the first 16 are the reply's AES key).
pub const PRODUCT_SECRET: &str = "Xq3mP8sLw2Kd9fRt6YbN1cVh";

/// A hub with its CA file, in a scratch directory that also holds the module's flash.
pub struct Cloud {
    /// Flash file and CA file.
    pub scratch: Scratch,
    /// The hub process.
    pub hub: Hub,
    /// The hub's test CA (PEM), for `TCAT_CA_FILE`.
    pub ca: PathBuf,
}

impl Cloud {
    /// Starts a hub that writes its test CA into a fresh scratch directory.
    pub fn start(label: &str) -> Cloud {
        let scratch = Scratch::new(label);
        let ca = scratch.path().join("hub-ca.pem");
        let hub = Hub::start_with(&["--ca-out", &ca.display().to_string()]);
        Cloud { scratch, hub, ca }
    }

    /// Creates or replaces product `pid` with [`PRODUCT_SECRET`] and the JSON members
    /// `settings` (e.g. `"dynreg":"autocreate"`).
    pub fn product(&self, pid: &str, settings: &str) {
        let body = format!(
            "{{\"product_secret\":\"{PRODUCT_SECRET}\",\"region\":\"ap-guangzhou\",{settings}}}"
        );
        let (status, answer) = self.hub.admin("PUT", &format!("/products/{pid}"), &body);
        assert_eq!(status, 200, "product {pid}: {answer}");
    }

    /// Sets the registration endpoint's transport faults (`{}` clears them).
    pub fn faults(&self, faults: &str) {
        let (status, answer) = self.hub.admin("PUT", "/dynreg/faults", faults);
        assert_eq!(status, 200, "faults {faults}: {answer}");
    }

    /// Options for a module on `profile` routed to the hub: every `*.tencentdevices.com`
    /// name is 127.0.0.1, ports 80/443/1883/8883 go to the hub's listeners unless
    /// `ports` rewrites them first, and the hub's CA is trusted when `trust_ca` is set.
    pub fn options(&self, profile: &'static str, ports: &[(u16, u16)], trust_ca: bool) -> Options {
        let hub = &self.hub;
        let mut map: Vec<String> = ports
            .iter()
            .map(|(from, to)| format!("{from}={to}"))
            .collect();
        map.push(format!(
            "80={},443={},1883={},8883={}",
            hub.http, hub.https, hub.mqtt, hub.mqtts
        ));
        let mut environment = vec![
            (
                "TCAT_RESOLVE".to_owned(),
                "*.tencentdevices.com=127.0.0.1".to_owned(),
            ),
            ("TCAT_PORT_MAP".to_owned(), map.join(",")),
        ];
        if trust_ca {
            environment.push(("TCAT_CA_FILE".to_owned(), self.ca.display().to_string()));
        }
        Options {
            profile: Some(profile),
            environment,
            ..Options::default()
        }
    }

    /// Starts a module with `options` on this cloud's flash file, echo off.
    pub fn module(&self, options: &Options) -> Module {
        let mut module = Module::start(Uart::Stdio, &self.scratch.flash(), options);
        module.send(b"ATE0\r\n");
        module.expect(b"ATE0\r\n\r\nOK\r\n");
        module
    }
}

/// AT+TCPRDINFOSET=1,"<pid>","<secret>","<dn>": stored.
pub fn set_product(module: &mut Module, pid: &str, secret: &str, device_name: &str) {
    module
        .send(format!("AT+TCPRDINFOSET=1,\"{pid}\",\"{secret}\",\"{device_name}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCPRDINFOSET:OK\r\n");
}

/// AT+TCDEVINFOSET=1,...: stored.
pub fn set_device(module: &mut Module, pid: &str, device_name: &str, secret: &str) {
    module
        .send(format!("AT+TCDEVINFOSET=1,\"{pid}\",\"{device_name}\",\"{secret}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
}

/// AT+TCDEVREG: its acceptance, then the result line after it (`+TCDEVREG:OK` or
/// `+TCDEVREG:FAIL,<code>`), returned without its `\r\n`.
pub fn register(module: &mut Module) -> String {
    module.send(b"AT+TCDEVREG\r\n");
    module.expect(b"OK\r\n");
    String::from_utf8(module.read_line()).expect("a text line")
}

/// The whole answer of AT+TCDEVINFOSET?.
pub fn device_info(module: &mut Module) -> String {
    module.send(b"AT+TCDEVINFOSET?\r\n");
    String::from_utf8(module.read_response()).expect("a text answer")
}
