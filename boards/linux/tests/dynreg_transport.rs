//! AT+TCDEVREG's transport failures end to end, each with its one code (`commands.md` §1 step
//! 8, `errors.md` §3): the hub's fault switches for the HTTP side (`hub.md` §6), and real
//! sockets for the connect side (a closed port, an untrusted certificate, a server answering
//! the TLS hello in plain HTTP, a listener that never answers). Every failure leaves the stored
//! device record as it was, in RAM and in flash.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::hub::{DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use common::registration::{
    device_info, register, set_device, set_product, Cloud, PID, PRODUCT_SECRET,
};
use common::Module;

/// Room for the 5 s read timeout or handshake timeout on a loaded machine.
const SLOW: Duration = Duration::from_secs(12);

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// A server that answers the first connection's first bytes (a TLS ClientHello) with an
/// HTTP error and closes: a handshake that fails on the server's side.
fn plain_http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

/// Stores the demo device and the product `Dev01` registers with; returns the device answer.
fn prepare(module: &mut Module) -> String {
    set_device(module, DEMO_PRODUCT, DEMO_DEVICE, DEMO_SECRET);
    set_product(module, PID, PRODUCT_SECRET, "Dev01");
    module.deadline = SLOW;
    device_info(module)
}

/// AT+TCDEVREG fails with `code` and changes nothing.
fn assert_fails(module: &mut Module, stored: &str, code: i32, case: &str) {
    let flash = module.flash_bytes();
    assert_eq!(register(module), format!("+TCDEVREG:FAIL,{code}"), "{case}");
    assert_eq!(device_info(module), stored, "{case}");
    assert!(module.flash_bytes() == flash, "{case}: flash changed");
}

#[test]
fn every_http_fault_of_the_hub_has_its_code_over_https_and_http() {
    for profile in ["full", "esp8266"] {
        let cloud = Cloud::start(&format!("dynreg-http-{profile}"));
        cloud.product(PID, "\"dynreg\":\"autocreate\"");
        let mut module = cloud.module(&cloud.options(profile, &[], true));
        let stored = prepare(&mut module);
        for (fault, code) in [
            ("\"status\":401", -9),
            ("\"status\":403", -9),
            ("\"status\":404", -10),
            ("\"status\":500", -4),
            ("\"close\":true", -3),
            ("\"malformed\":true", -5),
            ("\"stall_s\":7.0", -11),
        ] {
            cloud.faults(&format!("{{{fault},\"next_only\":true}}"));
            let started = Instant::now();
            assert_fails(&mut module, &stored, code, &format!("{profile} {fault}"));
            if code == -11 {
                let waited = started.elapsed();
                assert!(
                    waited >= Duration::from_secs(5) && waited < Duration::from_secs(10),
                    "the read timeout is 5 s, inside the 10 s budget: {waited:?}"
                );
            }
        }
        // The faults were one-shot: the next registration succeeds.
        assert_eq!(register(&mut module), "+TCDEVREG:OK", "{profile}");
    }
}

#[test]
fn every_connect_failure_has_its_code() {
    let cloud = Cloud::start("dynreg-connect");
    cloud.product(PID, "\"dynreg\":\"autocreate\"");
    // Accepted by the kernel, never answered: the TLS handshake waits for the server.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let closed = closed_port();
    let cases = [
        ("full", vec![(443, closed)], true, -603, "HTTPS port closed"),
        (
            "esp8266",
            vec![(80, closed)],
            false,
            -603,
            "HTTP port closed",
        ),
        ("full", vec![], false, -702, "hub certificate not trusted"),
        (
            "full",
            vec![(443, plain_http_server())],
            true,
            -703,
            "plain HTTP behind the HTTPS port",
        ),
        (
            "full",
            vec![(443, silent_port)],
            true,
            -704,
            "handshake never answered",
        ),
    ];
    for (profile, ports, trust_ca, code, case) in cases {
        let mut module = cloud.module(&cloud.options(profile, &ports, trust_ca));
        let stored = prepare(&mut module);
        let started = Instant::now();
        assert_fails(&mut module, &stored, code, case);
        if code == -704 {
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_secs(5) && waited < Duration::from_secs(10),
                "the handshake timeout is 5 s: {waited:?}"
            );
        }
        module.kill();
    }
    drop(silent);
    // Nothing was registered by any of them.
    let (status, _) = cloud.hub.admin("GET", &format!("/devices/{PID}/Dev01"), "");
    assert_eq!(status, 404);
}

/// The registration host does not resolve: `-602`, at once. The registration hosts are fixed
/// `*.gateway.tencentdevices.com` names (`cloud.md` §5), so no `.invalid` name can stand in for
/// them; the board's `TCAT_RESOLVE` rule `name=none` answers "no such name" before the
/// machine's resolver is asked, the same `ConnectError::Dns` a failed lookup gives, without
/// depending on (or waiting for) the machine's DNS.
#[test]
fn an_unresolvable_registration_host_fails_with_602_at_once() {
    let cloud = Cloud::start("dynreg-dns");
    cloud.product(PID, "\"dynreg\":\"autocreate\"");
    for profile in ["full", "esp8266"] {
        let mut options = cloud.options(profile, &[], true);
        for (name, value) in &mut options.environment {
            if name == "TCAT_RESOLVE" {
                *value = format!("*.gateway.tencentdevices.com=none,{value}");
            }
        }
        let mut module = cloud.module(&options);
        let stored = prepare(&mut module);
        let started = Instant::now();
        assert_fails(&mut module, &stored, -602, profile);
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(3),
            "no resolver is waited for: {waited:?}"
        );
        module.kill();
    }
    let (status, _) = cloud.hub.admin("GET", &format!("/devices/{PID}/Dev01"), "");
    assert_eq!(status, 404);
}
