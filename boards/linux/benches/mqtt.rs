//! `cargo bench -p tc-at-linux --bench mqtt` (run by `cargo xtask bench`): MQTT through the
//! virtual module against a raw MQTT client, both on the same broker in the same run, once on
//! `tc-at-hub` and once on Debian's mosquitto (`set_tcp_nodelay true`).
//!
//! - Publish → subscriber: the time from writing `AT+TCMQTTPUB=...` (QoS0, on the device's data
//!   topic, looped back to its own subscription) to reading its `+TCMQTTRCVPUB` line, against
//!   the time from a raw client's PUBLISH to its own delivery. p50/p99 and the ratio.
//! - Sustained messages/s: publishes sent one after the other (the next AT line after both
//!   `+TCMQTTPUB:OK` and the loop-back, the MCU waiting for each result; the raw client
//!   pipelines nothing either), and CPU time per message of the module and of the raw client.
//! - Inbound → URC (hub only): an admin-API publish to the device until its `+TCMQTTRCVPUB`,
//!   against the same admin publish to the raw client.
//! - The module's detours: its context switches per publish (`/proc`, during the timed pass)
//!   and its system calls per publish by name (`strace -f -c` attached for a separate, untimed
//!   pass of 500 publishes, since tracing slows every call down).
//! - The UART ceiling: bytes per publish on the AT port and messages/s at 115200/921600 baud.
//!
//! The hub binary comes from `TCAT_HUB_BIN` (set by `cargo xtask bench`), else it is looked for
//! next to this benchmark's module binary.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{context_switches, cpu_time, percentiles, Hub, ModuleProcess, Mosquitto, RawClient};
use support::{MODULE_DN, PID, RAW_DN, SECRET};

const SAMPLES: usize = 2_000;
/// Publishes of the untimed pass under `strace`.
const TRACED: usize = 500;
const PAYLOAD: &str = "{\"temperature\":21.5,\"humidity\":40}";

struct Figures {
    latency: (Duration, Duration),
    rate: f64,
    cpu_per_message: Duration,
    /// Context switches of the measured process per message.
    switches_per_message: f64,
}

fn main() {
    let hub = Hub::start();
    measure("tc-at-hub", hub.mqtt_port, Some(&hub));
    drop(hub);
    let mosquitto = Mosquitto::start();
    measure("mosquitto (set_tcp_nodelay true)", mosquitto.port, None);
    uart_ceiling();
}

fn measure(broker: &str, port: u16, hub: Option<&Hub>) {
    let mut module = ModuleProcess::start(&format!("1883={port}"));
    let mut raw = RawClient::connect(port, RAW_DN);
    let data = format!("{PID}/{MODULE_DN}/data");
    module.command(
        &format!("AT+TCDEVINFOSET=0,\"{PID}\",\"{MODULE_DN}\",\"{SECRET}\""),
        "+TCDEVINFOSET:OK",
    );
    module.command("AT+TCMQTTCONN=0,5000,240,1,1", "+TCMQTTCONN:OK");
    module.command(&format!("AT+TCMQTTSUB=\"{data}\",0"), "+TCMQTTSUB:OK");
    let raw_data = format!("{PID}/{RAW_DN}/data");
    raw.subscribe(&raw_data);

    let module_figures = module_publishes(&mut module, &data);
    let raw_figures = raw_publishes(&mut raw, &raw_data);
    let us = |duration: Duration| duration.as_secs_f64() * 1e6;
    println!(
        "\nQoS0 loop-back on {broker}, {}-byte payload, {SAMPLES} samples each",
        PAYLOAD.len()
    );
    println!(
        "AT+TCMQTTPUB -> own +TCMQTTRCVPUB: p50 {:.0} us, p99 {:.0} us; raw client publish -> delivery: p50 {:.0} us, p99 {:.0} us; p50 ratio {:.2}",
        us(module_figures.latency.0),
        us(module_figures.latency.1),
        us(raw_figures.latency.0),
        us(raw_figures.latency.1),
        us(module_figures.latency.0) / us(raw_figures.latency.0)
    );
    println!(
        "sustained, one publish after the other: module {:.0} messages/s, raw client {:.0} messages/s, ratio {:.2}",
        module_figures.rate,
        raw_figures.rate,
        module_figures.rate / raw_figures.rate
    );
    println!(
        "CPU per message: module process {:.1} us, raw client (this process) {:.1} us, ratio {:.1}",
        us(module_figures.cpu_per_message),
        us(raw_figures.cpu_per_message),
        us(module_figures.cpu_per_message) / us(raw_figures.cpu_per_message)
    );
    println!(
        "module context switches per publish: {:.2}",
        module_figures.switches_per_message
    );
    match syscalls_per_publish(&mut module, &data) {
        Some(report) => println!(
            "module system calls per publish (strace -f -c, {TRACED} untimed publishes): {report}"
        ),
        None => {
            println!("module system calls per publish: not measured (strace missing or refused)")
        }
    }
    if let Some(hub) = hub {
        inbound(hub, &mut module, &mut raw, &data, &raw_data);
    }
}

fn module_publishes(module: &mut ModuleProcess, data: &str) -> Figures {
    let mut latency = Vec::with_capacity(SAMPLES);
    let cpu_before = cpu_time(module.pid());
    let switches_before = context_switches(module.pid());
    let started = Instant::now();
    for _ in 0..SAMPLES {
        latency.push(publish(module, data));
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(module.pid()) - cpu_before;
    let switches = context_switches(module.pid()) - switches_before;
    Figures {
        latency: percentiles(&mut latency),
        rate: SAMPLES as f64 / elapsed.as_secs_f64(),
        cpu_per_message: cpu / SAMPLES as u32,
        switches_per_message: switches as f64 / SAMPLES as f64,
    }
}

/// One AT publish, waiting for its result and its loop-back; returns the time to the loop-back.
fn publish(module: &mut ModuleProcess, data: &str) -> Duration {
    let escaped = PAYLOAD.replace('"', "\\\"").replace(',', "\\,");
    let publish_line = format!("AT+TCMQTTPUB=\"{data}\",0,\"{escaped}\"");
    let rcvpub = format!("+TCMQTTRCVPUB:\"{data}\",{},\"{PAYLOAD}\"", PAYLOAD.len());
    let sent = Instant::now();
    module.send(&publish_line);
    // The loop-back may come before or after the command's result (urc.md §7 item 6).
    let mut latency = None;
    let mut seen_result = false;
    while latency.is_none() || !seen_result {
        let line = module.line();
        if line == rcvpub {
            latency = Some(sent.elapsed());
        } else if line == "+TCMQTTPUB:OK" {
            seen_result = true;
        }
    }
    latency.unwrap_or_default()
}

/// The module's system calls per publish over [`TRACED`] publishes under `strace -f -c`: the
/// total and the calls that make it up, most frequent first.
fn syscalls_per_publish(module: &mut ModuleProcess, data: &str) -> Option<String> {
    let mut strace = Command::new("strace")
        .args(["-f", "-c", "-p", &module.pid().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stderr = BufReader::new(strace.stderr.take()?);
    // strace names each thread it attached to before it counts anything.
    let mut line = String::new();
    while !line.contains("attached") {
        line.clear();
        if stderr.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    for _ in 0..TRACED {
        publish(module, data);
    }
    // SIGINT makes strace detach and print its table.
    Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status()
        .ok()?;
    let mut table = String::new();
    stderr.read_to_string(&mut table).ok()?;
    strace.wait().ok()?;
    // `% time  seconds  usecs/call  calls  [errors]  syscall`, then a `total` line.
    let mut calls: Vec<(String, u64)> = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let count = fields.get(3)?.parse::<u64>().ok()?;
            Some((fields.last()?.to_string(), count))
        })
        .collect();
    let total = calls.iter().find(|(name, _)| name == "total")?.1;
    calls.retain(|(name, count)| name != "total" && *count as usize >= TRACED / 10);
    calls.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let per = |count: u64| count as f64 / TRACED as f64;
    let parts: Vec<String> = calls
        .iter()
        .map(|(name, count)| format!("{name} {:.2}", per(*count)))
        .collect();
    Some(format!("{:.2} ({})", per(total), parts.join(", ")))
}

fn raw_publishes(raw: &mut RawClient, raw_data: &str) -> Figures {
    let mut latency = Vec::with_capacity(SAMPLES);
    let cpu_before = cpu_time(std::process::id());
    let switches_before = context_switches(std::process::id());
    let started = Instant::now();
    for _ in 0..SAMPLES {
        let sent = Instant::now();
        raw.publish(raw_data, PAYLOAD.as_bytes());
        raw.expect_message(raw_data);
        latency.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(std::process::id()) - cpu_before;
    Figures {
        latency: percentiles(&mut latency),
        rate: SAMPLES as f64 / elapsed.as_secs_f64(),
        cpu_per_message: cpu / SAMPLES as u32,
        switches_per_message: (context_switches(std::process::id()) - switches_before) as f64
            / SAMPLES as f64,
    }
}

fn inbound(hub: &Hub, module: &mut ModuleProcess, raw: &mut RawClient, data: &str, raw_data: &str) {
    let mut module_inbound = Vec::new();
    let mut raw_inbound = Vec::new();
    for _ in 0..50 {
        let sent = Instant::now();
        hub.admin_publish(MODULE_DN, data);
        while !module.line().starts_with("+TCMQTTRCVPUB:") {}
        module_inbound.push(sent.elapsed());
        let sent = Instant::now();
        hub.admin_publish(RAW_DN, raw_data);
        raw.expect_message(raw_data);
        raw_inbound.push(sent.elapsed());
    }
    let (module_in, _) = percentiles(&mut module_inbound);
    let (raw_in, _) = percentiles(&mut raw_inbound);
    println!(
        "inbound (admin publish) -> +TCMQTTRCVPUB: p50 {:.0} us; same publish to the raw client: p50 {:.0} us (50 samples, HTTP admin call included in both)",
        module_in.as_secs_f64() * 1e6,
        raw_in.as_secs_f64() * 1e6
    );
}

/// What the UART itself allows, whatever the module does: one QoS0 publish costs its AT line,
/// `OK`, `+TCMQTTPUB:OK` and the loop-back URC on the wire (8N1: 10 bits per byte).
fn uart_ceiling() {
    let data = format!("{PID}/{MODULE_DN}/data");
    let escaped = PAYLOAD.replace('"', "\\\"").replace(',', "\\,");
    let to_module = format!("AT+TCMQTTPUB=\"{data}\",0,\"{escaped}\"\r\n").len();
    let from_module = "OK\r\n+TCMQTTPUB:OK\r\n".len()
        + format!(
            "+TCMQTTRCVPUB:\"{data}\",{},\"{PAYLOAD}\"\r\n",
            PAYLOAD.len()
        )
        .len();
    let busiest = to_module.max(from_module) as f64;
    println!(
        "\nUART ceiling: {to_module} bytes to the module and {from_module} bytes back per publish; at most {:.0} messages/s at 115200 baud, {:.0} at 921600",
        11_520.0 / busiest,
        92_160.0 / busiest
    );
}
