//! Nothing lost in a flood (issue 8, `urc.md` §2, `at-engine.md` §9): 5,000 QoS 1 and 5,000
//! QoS 0 messages published in one burst each, from mosquitto (`mosquitto_pub -l`) and from
//! the hub's admin API, over TLS mode 0 and mode 1, first to an MCU that reads as fast as it
//! can and then to one that reads at 115200 baud. Every message must print exactly once, in
//! order and well-formed; an `AT` every 200 ms must keep being answered (worst latency
//! printed); the module's peak RSS must stay bounded. Plus the replay of 150 queued QoS 1
//! messages of a `clean_session=0` session after a reconnect (all 150 printed after
//! `+TCMQTTRECONNECTED`, in order, every one acknowledged).
//!
//! Brokers are set up so that they lose nothing themselves: mosquitto keeps every queued
//! QoS 1 message for a slow subscriber (`max_queued_messages 0`; its default of 1000 would
//! drop the rest, whatever the module does), and the hub queues without limit for an online
//! client. A slow module must push back through TCP instead of dropping.
//!
//! The four floods run side by side in one test; each takes about 50 s, most of it
//! the two throttled bursts waiting on the 115200-baud reader (5,000 lines of about 52 bytes
//! at 11,520 bytes/s: 23 s each).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::flood::{
    memory_kib, read_burst, BurstReport, RSS_GROWTH_BOUND_KIB, UART_115200_BYTES_PER_SECOND,
};
use common::hub::{Hub, DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use common::mosquitto::{free_port, Mosquitto};
use common::{Module, Options, Scratch, Uart};

/// Messages per burst.
const COUNT: usize = 5_000;
/// A burst read at full speed must be complete within this (a debug build over TLS-PSK
/// needs about 5 s on a quiet machine).
const FAST_DEADLINE: Duration = Duration::from_secs(30);
/// The 150 replayed messages need well under a second.
const REPLAY_DEADLINE: Duration = Duration::from_secs(15);
/// The harness's stdout pipe: a UART receive FIFO, not 64 KiB of slack.
const PIPE_BYTES: usize = 4096;
/// The Linux board's output collection (`OUTPUT_CAPACITY` in `src/uart.rs`): bytes the engine
/// wrote that wait for the host with the pipe full.
const BOARD_OUTPUT_BYTES: u64 = 1024;
/// Most output a probe's answer may come behind, counted in bytes (time would measure the
/// machine's load): the full pipe and the board's output collection (already written, the
/// module cannot take them back), the message being written when the probe arrived, and the
/// answer itself. A module that let queued messages overtake the answer (the executor goes
/// before the URC writer, `wake::Contender`), or answered only after the burst, exceeds it.
const PROBE_BYTES_AHEAD_BOUND: u64 = PIPE_BYTES as u64 + BOARD_OUTPUT_BYTES + 256;

/// mosquitto's PSK identity and key (`mqtt_tls_psk.rs`), and the secret that decodes to it.
const PSK_IDENTITY: &str = "PID0000001dev1";
const PSK_SECRET: &str = "AAECAwQFBgcICQoLDA0ODw==";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Mosquitto,
    Hub,
}

/// The cloud side of one flood: a broker, the module's device and topic, a way to publish.
enum Cloud {
    Mosquitto {
        _process: Mosquitto,
        plain_port: u16,
        psk_port: u16,
    },
    Hub(Hub),
}

impl Cloud {
    fn start(source: Source, scratch: &Path) -> Cloud {
        match source {
            Source::Hub => Cloud::Hub(Hub::start()),
            Source::Mosquitto => {
                let (plain_port, psk_port) = (free_port(), free_port());
                let psk_file = scratch.join("psk.txt");
                let key: String = (0u8..16).map(|byte| format!("{byte:02x}")).collect();
                std::fs::write(&psk_file, format!("{PSK_IDENTITY}:{key}\n")).expect("psk file");
                let process = Mosquitto::start(
                    scratch,
                    &format!(
                        "max_queued_messages 0\n\
                         listener {psk_port} 127.0.0.1\npsk_hint hint\npsk_file {psk}\n\
                         use_identity_as_username false\ntls_version tlsv1.2\n\
                         ciphers PSK-AES128-CBC-SHA:PSK-AES256-CBC-SHA\n\
                         listener {plain_port} 127.0.0.1\n",
                        psk = psk_file.display(),
                    ),
                );
                Cloud::Mosquitto {
                    _process: process,
                    plain_port,
                    psk_port,
                }
            }
        }
    }

    fn topic(&self) -> String {
        match self {
            Cloud::Mosquitto { .. } => "PID0000001/dev1/data".to_owned(),
            Cloud::Hub(_) => format!("{DEMO_PRODUCT}/{DEMO_DEVICE}/data"),
        }
    }

    /// `TCAT_PORT_MAP` and the AT+TCDEVINFOSET line for `tls` mode.
    fn device(&self, tls: u8) -> (String, String) {
        let (mqtt, mqtts, product, device, secret) = match self {
            Cloud::Mosquitto {
                plain_port,
                psk_port,
                ..
            } => (*plain_port, *psk_port, "PID0000001", "dev1", PSK_SECRET),
            Cloud::Hub(hub) => (hub.mqtt, hub.mqtts, DEMO_PRODUCT, DEMO_DEVICE, DEMO_SECRET),
        };
        (
            format!("1883={mqtt},8883={mqtts}"),
            format!("AT+TCDEVINFOSET={tls},\"{product}\",\"{device}\",\"{secret}\"\r\n"),
        )
    }

    /// Publishes `<label><n:05>` for n in 0..count at `qos`, as fast as the source allows.
    fn publish_burst(&self, topic: &str, label: &str, count: usize, qos: u8) {
        match self {
            Cloud::Mosquitto { plain_port, .. } => {
                let mut publisher = Command::new("mosquitto_pub")
                    .args(["-h", "127.0.0.1", "-p", &plain_port.to_string()])
                    .args(["-q", &qos.to_string(), "-t", topic, "-l"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("run mosquitto_pub (apt-get install -y mosquitto-clients)");
                let mut lines = String::new();
                for number in 0..count {
                    lines.push_str(&format!("{label}{number:05}\n"));
                }
                let mut input = publisher.stdin.take().expect("mosquitto_pub stdin");
                input
                    .write_all(lines.as_bytes())
                    .expect("feed mosquitto_pub");
                drop(input);
                let status = publisher.wait().expect("wait for mosquitto_pub");
                assert!(status.success(), "mosquitto_pub failed ({status})");
            }
            Cloud::Hub(hub) => {
                for number in 0..count {
                    let (status, body) = hub.admin(
                        "POST",
                        &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/publish"),
                        &format!(
                            "{{\"topic\":\"{topic}\",\"payload\":\"{label}{number:05}\",\"qos\":{qos}}}"
                        ),
                    );
                    assert_eq!(status, 200, "admin publish {number} answered {body}");
                }
            }
        }
    }
}

/// A module on stdio with a small output pipe, connected in `tls` mode and subscribed at QoS 1.
fn connected_module(scratch: &Scratch, cloud: &Cloud, tls: u8, clean_session: u8) -> Module {
    let (port_map, device) = cloud.device(tls);
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), port_map),
            // Per-message debug logs would measure the logger, not the module.
            ("RUST_LOG".into(), "warn".into()),
        ],
        output_pipe_bytes: Some(PIPE_BYTES),
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(device.as_bytes());
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(format!("AT+TCMQTTCONN={tls},5000,240,{clean_session},1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(format!("AT+TCMQTTSUB=\"{}\",1\r\n", cloud.topic()).as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");
    module
}

/// Deadline of a burst read at 115200 baud: its bytes at that speed, plus half again.
fn throttled_deadline(topic: &str) -> Duration {
    let line = "+TCMQTTRCVPUB:\"\",8,\"q1t00000\"\r\n".len() + topic.len();
    let seconds = (COUNT * line) as f64 / UART_115200_BYTES_PER_SECOND as f64;
    Duration::from_secs_f64(seconds * 1.5 + 10.0)
}

fn flood(source: Source, tls: u8) {
    let scratch = Scratch::new(&format!("flood-{source:?}-{tls}"));
    let cloud = Cloud::start(source, scratch.path());
    let mut module = connected_module(&scratch, &cloud, tls, 1);
    let topic = cloud.topic();
    let (baseline_kib, _) = memory_kib(module.pid());
    let bursts = [
        ("q1f", 1, 0, FAST_DEADLINE),
        ("q0f", 0, 0, FAST_DEADLINE),
        (
            "q1t",
            1,
            UART_115200_BYTES_PER_SECOND,
            throttled_deadline(&topic),
        ),
        (
            "q0t",
            0,
            UART_115200_BYTES_PER_SECOND,
            throttled_deadline(&topic),
        ),
    ];
    for (label, qos, rate, deadline) in bursts {
        module.set_read_rate(rate);
        let report: BurstReport = std::thread::scope(|scope| {
            let publisher = scope.spawn(|| cloud.publish_burst(&topic, label, COUNT, qos));
            let report = read_burst(&mut module, &topic, label, COUNT, deadline);
            publisher.join().expect("publisher thread");
            report
        });
        let (rss_kib, peak_kib) = memory_kib(module.pid());
        println!(
            "flood {source:?} tls {tls} burst {label} (QoS {qos}, reader {}): {} messages in \
             {:?}; {} AT probes, worst answer {:?} behind at most {} bytes; RSS {rss_kib} KiB, \
             peak {peak_kib} KiB (before the floods {baseline_kib} KiB)",
            if rate == 0 { "fast" } else { "115200 baud" },
            report.received,
            report.elapsed,
            report.probes,
            report.worst_probe,
            report.most_bytes_ahead,
        );
        assert!(
            report.most_bytes_ahead <= PROBE_BYTES_AHEAD_BOUND,
            "an AT was answered behind {} bytes during burst {label}",
            report.most_bytes_ahead
        );
        assert!(
            peak_kib <= baseline_kib + RSS_GROWTH_BOUND_KIB,
            "peak RSS {peak_kib} KiB grew more than {RSS_GROWTH_BOUND_KIB} KiB over {baseline_kib} KiB"
        );
    }
    module.set_read_rate(0);
    module.expect_quiet(false);
}

/// The four floods at once, each on its own thread: the throttled bursts spend their time
/// waiting on the reader, so running them side by side keeps the file near one flood's 50 s
/// whatever the test harness's thread count.
#[test]
fn floods_from_mosquitto_and_the_hub_over_tls_0_and_1_arrive_whole() {
    let setups = [
        (Source::Mosquitto, 0),
        (Source::Mosquitto, 1),
        (Source::Hub, 0),
        (Source::Hub, 1),
    ];
    let failures: Vec<String> = std::thread::scope(|scope| {
        let floods: Vec<_> = setups
            .iter()
            .map(|&(source, tls)| (source, tls, scope.spawn(move || flood(source, tls))))
            .collect();
        floods
            .into_iter()
            .filter_map(|(source, tls, flood)| {
                flood.join().err().map(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                        .unwrap_or_default();
                    format!("{source:?} tls {tls}: {message}")
                })
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The hub keeps up to 150 QoS 1 messages for an offline `clean_session=0` session
/// (`cloud.md` §2.5) and sends them all right after the reconnect's CONNACK, before the
/// re-subscription's SUBACK. The module reports `+TCMQTTRECONNECTED` at the CONNACK and holds
/// the replay in its session like any message (back-pressure, `docs/decisions.md` "Reconnect
/// window without a hold queue"). So: all 150 are printed after `+TCMQTTRECONNECTED`, in
/// order, exactly once; every one is acknowledged to the hub; and a second burst of 150
/// arrives whole too.
#[test]
fn clean_session_0_replay_of_150_queued_messages_after_a_reconnect() {
    const QUEUED: usize = 150;
    let scratch = Scratch::new("flood-replay");
    let cloud = Cloud::start(Source::Hub, scratch.path());
    let Cloud::Hub(hub) = &cloud else {
        unreachable!()
    };
    let mut module = connected_module(&scratch, &cloud, 0, 0);
    let topic = cloud.topic();
    // Offline for at least 3 s (the hub closes every CONNECT before its CONNACK meanwhile):
    // the burst below is queued, not delivered live.
    hub.kick(Some(3));
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    cloud.publish_burst(&topic, "cs0", QUEUED, 1);
    module.deadline = Duration::from_secs(60);
    loop {
        match module.read_line().as_slice() {
            b"+TCMQTTRECONNECTING" => continue,
            b"+TCMQTTRECONNECTED" => break,
            other => module.fail(&format!(
                "expected the reconnect, got \"{}\"",
                common::escape(other)
            )),
        }
    }
    module.deadline = common::DEFAULT_DEADLINE;
    // All 150 follow the URC (`read_line` fails the test at its deadline); nothing else is
    // printed meanwhile.
    let mut printed = Vec::new();
    while printed.len() < QUEUED {
        let line = module.read_line();
        if !line.is_empty() {
            printed.push(line);
        }
    }
    let prefix = format!("+TCMQTTRCVPUB:\"{topic}\",8,\"cs0");
    for (number, line) in printed.iter().enumerate() {
        let expected = format!("{prefix}{number:05}\"");
        assert_eq!(
            String::from_utf8_lossy(line),
            expected,
            "message {number} of the replay (in order, none skipped or repeated)"
        );
    }
    assert_eq!(
        acknowledgements(hub, QUEUED),
        QUEUED,
        "PUBACKs the hub received"
    );

    // A live burst after the replay loses nothing either.
    let report = std::thread::scope(|scope| {
        scope.spawn(|| cloud.publish_burst(&topic, "cs1", QUEUED, 1));
        read_burst(&mut module, &topic, "cs1", QUEUED, REPLAY_DEADLINE)
    });
    assert_eq!(report.received, QUEUED);
    module.expect_quiet(false);
}

/// PUBACKs the hub received from the module, waiting (long-poll) until there are `wanted` or
/// the default deadline passes.
fn acknowledgements(hub: &Hub, wanted: usize) -> usize {
    let until = std::time::Instant::now() + common::DEFAULT_DEADLINE;
    loop {
        let (status, events) = hub.admin("GET", "/events?since=0&wait_ms=200", "");
        assert_eq!(status, 200, "event log answered {events}");
        let count = events
            .split("},{")
            .filter(|event| {
                event.contains("\"kind\":\"puback\"") && event.contains("\"direction\":\"in\"")
            })
            .count();
        if count >= wanted || std::time::Instant::now() >= until {
            return count;
        }
    }
}
