//! `cargo bench -p tc-at-linux --bench idle` (run by `cargo xtask bench`): what a connected,
//! idle module costs the machine (issue 9: idle means asleep).
//!
//! One hub, the module connected over TLS-PSK (mode 1, the product's default) with one
//! subscription and keep-alive 60 s, then nothing happens for `TCAT_IDLE_SECONDS` (default
//! 60). Reported: the module's CPU time over that window from `/proc/<pid>/stat` as a share
//! of one core, and its context switches per second from `/proc/<pid>/task/*/status` (each
//! switch is a thread going to sleep and being woken again), then the runtime's `epoll_wait`
//! calls per second over 10 s counted by `strace -c` (a loop that wakes itself without sleeping
//! shows up there, not in the context switches).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{context_switches, cpu_time, Hub, ModuleProcess, MODULE_DN, PID, SECRET};

fn main() {
    let seconds: u64 = std::env::var("TCAT_IDLE_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    let hub = Hub::start();
    let mut module =
        ModuleProcess::start(&format!("1883={},8883={}", hub.mqtt_port, hub.mqtts_port));
    let data = format!("{PID}/{MODULE_DN}/data");
    module.command(
        &format!("AT+TCDEVINFOSET=1,\"{PID}\",\"{MODULE_DN}\",\"{SECRET}\""),
        "+TCDEVINFOSET:OK",
    );
    module.command("AT+TCMQTTCONN=1,5000,60,1,1", "+TCMQTTCONN:OK");
    module.command(&format!("AT+TCMQTTSUB=\"{data}\",1"), "+TCMQTTSUB:OK");

    let pid = module.pid();
    let cpu_before = cpu_time(pid);
    let switches_before = context_switches(pid);
    let started = Instant::now();
    // The window under test: the benchmark itself sleeps while the module idles.
    std::thread::sleep(Duration::from_secs(seconds));
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (cpu_time(pid) - cpu_before).as_secs_f64();
    let switches = context_switches(pid) - switches_before;
    let polls = epoll_waits_per_second(pid, 10);
    // Still connected: the keep-alive kept the link up.
    module.command("AT+TCMQTTSTATE?", "+TCMQTTSTATE:1");
    println!(
        "idle module, connected over TLS-PSK with one subscription, keep-alive 60 s, {elapsed:.1} s: CPU {:.3} s = {:.3} % of a core; {switches} context switches = {:.1}/s; epoll_wait calls {polls:.1}/s",
        cpu,
        100.0 * cpu / elapsed,
        switches as f64 / elapsed
    );
}

/// `epoll_wait` (and `epoll_pwait`/`epoll_pwait2`) calls per second of `pid` over `seconds`.
fn epoll_waits_per_second(pid: u32, seconds: u64) -> f64 {
    let output = Command::new("timeout")
        .args(["-s", "INT", &seconds.to_string()])
        .args([
            "strace",
            "-f",
            "-c",
            "-e",
            "trace=epoll_wait,epoll_pwait,epoll_pwait2",
        ])
        .args(["-p", &pid.to_string()])
        .output()
        .expect("run strace (apt-get install -y strace)");
    // The summary table goes to stderr: `% time seconds usecs/call calls [errors] syscall`.
    let table = String::from_utf8_lossy(&output.stderr);
    let calls: u64 = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields.last()?;
            if !name.starts_with("epoll") {
                return None;
            }
            fields.get(3)?.parse::<u64>().ok()
        })
        .sum();
    calls as f64 / seconds as f64
}
