//! What the OTA end-to-end tests share: a module connected to the hub, the hub's file
//! upload, enabling OTA, the hub's event log, MD5 in hex.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::hub::{json_number, Hub, DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use super::{Module, Options, Scratch, Uart, START_DEADLINE};

/// The flash file's layout (`boards/linux/src/flash.rs`): the settings partition and the
/// image area.
pub const SETTINGS_RANGE: std::ops::Range<u32> = 0x1F_8000..0x20_0000;
pub const FIRMWARE_RANGE: std::ops::Range<u32> = 0x11_0000..0x1E_E000;

/// Room for a 900 KB download, its verification and a retry on a loaded machine.
pub const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(60);

/// The module-info maximum (`commands.md` §5).
pub const MAX_SIZE: usize = 909_312;

/// Starts a module with `options` (plus the routing to `hub`), stores the demo device and
/// connects, echo off: TLS mode 0, or TLS-PSK (mode 1) on the `esp8266` profile, which has
/// no other.
pub fn start_connected(scratch: &Scratch, hub: &Hub, mut options: Options) -> Module {
    let mode = if options.profile == Some("esp8266") {
        1
    } else {
        0
    };
    options.environment.push((
        "TCAT_RESOLVE".into(),
        "*.tencentdevices.com=127.0.0.1".into(),
    ));
    let port_map = options
        .environment
        .iter()
        .position(|(name, _)| name == "TCAT_PORT_MAP");
    let mqtt = format!("1883={},8883={}", hub.mqtt, hub.mqtts);
    match port_map {
        Some(index) => {
            let value = &mut options.environment[index].1;
            *value = format!("{value},{mqtt}");
        }
        None => options.environment.push(("TCAT_PORT_MAP".into(), mqtt)),
    }
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(
        format!(
            "AT+TCDEVINFOSET={mode},\"{DEMO_PRODUCT}\",\"{DEMO_DEVICE}\",\"{DEMO_SECRET}\"\r\n"
        )
        .as_bytes(),
    );
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(format!("AT+TCMQTTCONN={mode},5000,240,1,1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module
}

/// Uploads `image` to the hub's file server; returns its id and MD5.
pub fn upload(hub: &Hub, image: &[u8]) -> (u64, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", hub.admin)).expect("connect admin");
    stream
        .set_read_timeout(Some(START_DEADLINE))
        .expect("admin read timeout");
    write!(
        stream,
        "POST /files HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        image.len()
    )
    .expect("send head");
    stream.write_all(image).expect("send file");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "upload answered {answer}"
    );
    let id = json_number(&answer, "id").unwrap_or_else(|| panic!("no id in {answer}"));
    let md5 = answer
        .split("\"md5\":\"")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .unwrap_or_else(|| panic!("no md5 in {answer}"))
        .to_owned();
    assert_eq!(md5, hex(&md5_of(image)), "the hub's MD5 of the upload");
    (id, md5)
}

/// `AT+TCOTASET=1,"1.0.0"`: the result and the first `ENTERUPDATE`, in either order (the hub
/// pushes the update in answer to the version report, before or after its PUBACK).
pub fn enable_and_enter(module: &mut Module) {
    module.send(b"AT+TCOTASET=1,\"1.0.0\"\r\n");
    module.expect(b"OK\r\n");
    let lines = [module.read_line(), module.read_line()];
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            b"+TCOTASET:OK".to_vec(),
            b"+TCOTASTATUS:ENTERUPDATE".to_vec()
        ],
        "got {:?}",
        lines.map(|line| String::from_utf8_lossy(&line).into_owned())
    );
}

/// Waits (long-polling the hub's event log) until an event text contains every one of
/// `needles`; returns the whole log read so far.
pub fn wait_for_event(hub: &Hub, needles: &[&str]) -> String {
    let mut log = String::new();
    let mut since = 0;
    let until = Instant::now() + DOWNLOAD_DEADLINE;
    while Instant::now() < until {
        let (status, body) = hub.admin("GET", &format!("/events?since={since}&wait_ms=2000"), "");
        assert_eq!(status, 200, "events answered {body}");
        for event in body.split("},{") {
            if needles.iter().all(|needle| event.contains(needle)) {
                log.push_str(&body);
                return log;
            }
        }
        since = body
            .split("\"seq\":")
            .skip(1)
            .filter_map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .max()
            .unwrap_or(since);
        log.push_str(&body);
    }
    panic!("no hub event with {needles:?}; log: {log}");
}

pub fn md5_of(bytes: &[u8]) -> [u8; 16] {
    let mut digest = ota::ImageDigest::new();
    digest.update(bytes);
    digest.finish()
}

pub fn hex(digest: &[u8; 16]) -> String {
    String::from_utf8(ota::to_hex(digest).to_vec()).expect("hex")
}
