//! AT+TCDEVREG end to end (`commands.md` §1, `cloud.md` §5): the module registers against
//! `tc-at-hub`'s `POST /register/dev` over real TCP on loopback (HTTPS on the `full` profile,
//! plain HTTP on `esp8266`), stores the secret it gets, and connects with it. Every refusal of
//! the hub gives its cloud code with the stored records unchanged, in RAM, in flash and after
//! a restart. Transport faults are in `dynreg_transport.rs`.

mod common;

use common::hub::{DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use common::registration::{
    device_info, register, set_device, set_product, Cloud, PID, PRODUCT_SECRET,
};
use common::transcript::Transcript;
use common::{find, Module, Uart};
use regex::Regex;

/// `+TCDEVINFOSET:1,"<pid>","<dn>",<bcc>,"ap-guangzhou"` and `OK`: the BCC of the stored
/// secret.
fn registered_bcc(answer: &str, pid: &str, device_name: &str) -> u8 {
    let pattern = format!(
        "^\\+TCDEVINFOSET:1,\"{pid}\",\"{device_name}\",(\\d+),\"ap-guangzhou\"\r\n\r\nOK\r\n$"
    );
    let captures = Regex::new(&pattern)
        .unwrap()
        .captures(answer)
        .unwrap_or_else(|| panic!("{answer:?} does not match {pattern}"));
    captures[1].parse().unwrap()
}

/// The product secret never reaches the AT port (echo is off, so not even in an echo) nor the
/// log (`RUST_LOG=debug`).
fn assert_product_secret_hidden(module: &Module) {
    let secret = PRODUCT_SECRET.as_bytes();
    assert!(
        find(module.received(), secret).is_none(),
        "secret on the AT port"
    );
    assert!(
        find(&module.stderr(), secret).is_none(),
        "secret in the log"
    );
}

fn connect_mode_1(module: &mut Module) {
    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
}

#[test]
fn a_registered_secret_connects_over_https_and_over_plain_http() {
    for profile in ["full", "esp8266"] {
        let cloud = Cloud::start(&format!("dynreg-ok-{profile}"));
        cloud.product(PID, "\"dynreg\":\"autocreate\"");
        // The other scheme's port leads nowhere: only the profile's transport can succeed.
        let unused = if profile == "full" { 80 } else { 443 };
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let options = cloud.options(profile, &[(unused, closed_port)], true);
        let mut module = cloud.module(&options);
        set_product(&mut module, PID, PRODUCT_SECRET, "Dev01");
        assert_eq!(device_info(&mut module), "+CME ERROR:207\r\n");
        assert_eq!(register(&mut module), "+TCDEVREG:OK", "{profile}");
        let bcc = registered_bcc(&device_info(&mut module), PID, "Dev01");
        let (status, device) = cloud.hub.admin("GET", &format!("/devices/{PID}/Dev01"), "");
        assert_eq!(status, 200, "{device}");
        assert!(device.contains("\"registrations\":1"), "{device}");
        // The product record is kept.
        module.send(b"AT+TCPRDINFOSET?\r\n");
        module.expect(b"+TCPRDINFOSET:1,\"CTQS08Y5LG\",");
        module.read_response();
        connect_mode_1(&mut module);
        let (_, device) = cloud.hub.admin("GET", &format!("/devices/{PID}/Dev01"), "");
        assert!(device.contains("\"online\":true"), "{device}");
        module.send(b"AT+TCMQTTDISCONN\r\n");
        module.expect(b"\r\nOK\r\n");
        // After a restart the record is the registered one, and it still connects.
        module.kill();
        let mut module = cloud.module(&options);
        assert_eq!(registered_bcc(&device_info(&mut module), PID, "Dev01"), bcc);
        connect_mode_1(&mut module);
        assert_product_secret_hidden(&module);
    }
}

#[test]
fn every_cloud_code_fails_with_it_and_changes_nothing() {
    let cloud = Cloud::start("dynreg-codes");
    let options = cloud.options("esp8266", &[], false);
    let mut module = cloud.module(&options);
    // No product record at all.
    assert_eq!(register(&mut module), "+TCDEVREG:FAIL,207");
    set_device(&mut module, DEMO_PRODUCT, DEMO_DEVICE, DEMO_SECRET);
    let stored = device_info(&mut module);
    cloud.product(PID, "\"dynreg\":\"autocreate\"");
    cloud.product("OFFPRODUCT", "\"dynreg\":\"off\"");
    cloud.product("PRECREATE1", "\"dynreg\":\"precreate\"");
    cloud.product(
        "QUOTAZERO1",
        "\"dynreg\":\"autocreate\",\"autocreate_quota\":0",
    );
    cloud.product(
        "MAXIMUM001",
        "\"dynreg\":\"autocreate\",\"max_registrations\":0",
    );
    let cases = [
        ("NOPRODUCT1", PRODUCT_SECRET, 1004),
        (PID, "WrongSecretWrongSecret", 1010),
        ("OFFPRODUCT", PRODUCT_SECRET, 1011),
        ("MAXIMUM001", PRODUCT_SECRET, 1012),
        ("PRECREATE1", PRODUCT_SECRET, 1020),
        ("QUOTAZERO1", PRODUCT_SECRET, 1031),
        // Shorter than the 16-byte AES key: refused before anything is sent.
        (PID, "fifteen-bytes-x", -1001),
    ];
    for (pid, secret, code) in cases {
        set_product(&mut module, pid, secret, "Dev01");
        let flash = module.flash_bytes();
        assert_eq!(
            register(&mut module),
            format!("+TCDEVREG:FAIL,{code}"),
            "{pid}"
        );
        assert_eq!(device_info(&mut module), stored, "{pid}");
        assert!(module.flash_bytes() == flash, "{pid}: flash changed");
    }
    // The cloud's internal error (the hub's fault switch).
    set_product(&mut module, PID, PRODUCT_SECRET, "Dev01");
    cloud.faults("{\"internal_error\":true,\"next_only\":true}");
    assert_eq!(register(&mut module), "+TCDEVREG:FAIL,1000");
    assert_eq!(device_info(&mut module), stored);
    module.kill();
    let mut module = cloud.module(&options);
    assert_eq!(device_info(&mut module), stored);
    // The device the refusals named was never created.
    let (status, _) = cloud.hub.admin("GET", &format!("/devices/{PID}/Dev01"), "");
    assert_eq!(status, 404);
}

#[test]
fn another_device_name_replaces_the_record_only_on_success() {
    let cloud = Cloud::start("dynreg-replace");
    cloud.product(PID, "\"dynreg\":\"autocreate\"");
    let options = cloud.options("full", &[], true);
    let mut module = cloud.module(&options);
    set_device(&mut module, DEMO_PRODUCT, DEMO_DEVICE, DEMO_SECRET);
    let demo = device_info(&mut module);
    set_product(&mut module, PID, PRODUCT_SECRET, "Dev02");
    // A failed registration of Dev02 keeps the demo device.
    cloud.faults("{\"status\":500}");
    assert_eq!(register(&mut module), "+TCDEVREG:FAIL,-4");
    assert_eq!(device_info(&mut module), demo);
    cloud.faults("{}");
    assert_eq!(register(&mut module), "+TCDEVREG:OK");
    let bcc = registered_bcc(&device_info(&mut module), PID, "Dev02");
    // Connecting activates the device: the cloud refuses it a second registration, and the
    // record stays the one that works.
    connect_mode_1(&mut module);
    module.send(b"AT+TCDEVREG\r\n");
    module.expect(b"+CME ERROR:208\r\n");
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    assert_eq!(register(&mut module), "+TCDEVREG:FAIL,1021");
    assert_eq!(registered_bcc(&device_info(&mut module), PID, "Dev02"), bcc);
    module.kill();
    let mut module = cloud.module(&options);
    assert_eq!(registered_bcc(&device_info(&mut module), PID, "Dev02"), bcc);
    connect_mode_1(&mut module);
    assert_product_secret_hidden(&module);
}

#[test]
fn other_forms_are_unsupported_and_change_nothing() {
    let cloud = Cloud::start("dynreg-forms");
    let options = cloud.options("full", &[], true);
    let mut module = cloud.module(&options);
    set_product(&mut module, PID, PRODUCT_SECRET, "Dev01");
    let flash = module.flash_bytes();
    assert_eq!(module.transact(b"AT+TCDEVREG=?\r\n"), b"\r\nOK\r\n");
    for line in [
        &b"AT+TCDEVREG?\r\n"[..],
        b"AT+TCDEVREG=1\r\n",
        b"AT+TCDEVREG=\"CTQS08Y5LG\",\"Dev01\"\r\n",
        b"AT+TCDEVREG=\r\n",
    ] {
        assert_eq!(
            module.transact(line),
            b"ERR CODE:0x01090000\r\n\r\nERROR\r\n",
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    assert!(module.flash_bytes() == flash, "flash changed");
    assert_eq!(device_info(&mut module), "+CME ERROR:207\r\n");
}

/// Tencent's module test tool's registration case: product record, AT+TCDEVREG, the device
/// record read back, connect (echo on, `esp8266` profile as the tool's runs use).
#[test]
fn the_module_test_tool_registration_case() {
    let transcript = Transcript::parse(
        "tool_registration",
        include_str!("hub_transcripts/tool_registration.txt"),
    );
    // A fresh hub per run: the first run's connect activates the device, and the cloud
    // refuses an activated device a second registration (1021).
    for uart in Uart::ALL {
        let cloud = Cloud::start("dynreg-tool");
        cloud.product(PID, "\"dynreg\":\"autocreate\"");
        transcript.run_with(uart, &cloud.options("esp8266", &[], false));
    }
}
