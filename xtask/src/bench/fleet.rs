//! `cargo xtask bench fleet N`: one `tc-at-hub` and N virtual modules over TLS-PSK, each
//! publishing QoS 1 every 5 s (issue 9.5).
//!
//! Each module runs as its own release process on stdio with its own flash image, driven by one
//! thread of this process that plays its MCU: store the device, `AT+TCMQTTCONN` in mode 1, then
//! `AT+TCMQTTPUB` at QoS 1 every [`PUBLISH_PERIOD`], each waiting for its result line. Reported:
//! how long the whole fleet took to connect, p50/p99 of the CONN and PUB results (from the AT
//! line to its `+TCMQTT…:OK`), failures, and the CPU share and resident memory of the hub and of
//! the modules over the publishing phase, read from `/proc`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use crate::process::{Failure, Outcome};
use crate::{artifact, hub, signals};

/// Interval between two publishes of one module.
const PUBLISH_PERIOD: Duration = Duration::from_secs(5);
/// Publishes per module after the whole fleet is connected.
const PUBLISHES: u32 = 6;
const PRODUCT: &str = "FLEET00001";
const SECRET: &str = "ZmxlZXRfc2VjcmV0XzEyMzQ=";

/// What the threads record.
#[derive(Default)]
struct Results {
    connects: Vec<Duration>,
    publishes: Vec<Duration>,
    failures: Vec<String>,
}

/// Runs the fleet benchmark with `count` modules.
pub fn fleet(count: usize) -> Outcome {
    let module_binary = artifact::build_executable("tc-at-linux", "tc-at-module", true)?;
    let hub_binary = artifact::build_executable("tc-at-hub", "tc-at-hub", true)?;
    let scratch = std::env::temp_dir().join(format!("tc-at-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let registry = scratch.join("registry.json");
    let devices: Vec<String> = (0..count)
        .map(|index| {
            format!(
                r#"{{"pid":"{PRODUCT}","dn":"m{index:05}","secret":"{SECRET}","enabled":true}}"#
            )
        })
        .collect();
    std::fs::write(
        &registry,
        format!(r#"{{"products":[],"devices":[{}]}}"#, devices.join(",")),
    )?;
    let children = signals::Children::default();
    let arguments: Vec<String> = [
        "--mqtt-port",
        "0",
        "--mqtts-port",
        "0",
        "--admin-port",
        "0",
        "--registry",
    ]
    .iter()
    .map(|text| (*text).to_owned())
    .chain([registry.display().to_string()])
    .collect();
    let mut command = Command::new(&hub_binary);
    // One log line per connection would measure the terminal, not the hub.
    command.args(&arguments).env("RUST_LOG", "warn");
    let Some(mut running) = hub::start_command(command, &children)? else {
        return Err(Failure::new("tc-at-hub stopped before it was ready"));
    };
    signals::end_children_on_stop(&children)?;
    let port_map = format!("1883={},8883={}", running.ready.mqtt, running.ready.mqtts);
    let hub_pid = running.child.id();

    let results = Arc::new(Mutex::new(Results::default()));
    let processes = Arc::new(Mutex::new(Vec::new()));
    // Everyone connected (or failed) before the measured publishing phase starts.
    let connected = Arc::new(Barrier::new(count + 1));
    // Every module done publishing: the phase ends.
    let finished = Arc::new(Barrier::new(count + 1));
    // The phase's usage has been read: only now may the modules stop (a module stopped
    // earlier reads as zero ticks and drags the total down).
    let measured = Arc::new(Barrier::new(count + 1));
    let started = Instant::now();
    let mut threads = Vec::new();
    for index in 0..count {
        let (binary, map, directory) = (module_binary.clone(), port_map.clone(), scratch.clone());
        let (results, processes, connected, finished, measured) = (
            Arc::clone(&results),
            Arc::clone(&processes),
            Arc::clone(&connected),
            Arc::clone(&finished),
            Arc::clone(&measured),
        );
        threads.push(std::thread::spawn(move || {
            let mut module = None;
            let outcome = drive(
                index,
                count,
                &binary,
                &map,
                &directory,
                &connected,
                &processes,
                &mut module,
            );
            {
                let mut results = results.lock().unwrap();
                match outcome {
                    Ok((connect, publishes)) => {
                        results.connects.push(connect);
                        results.publishes.extend(publishes);
                    }
                    Err(failure) => results.failures.push(format!("m{index:05}: {failure}")),
                }
            }
            finished.wait();
            measured.wait();
            drop(module);
        }));
    }
    connected.wait();
    let connect_time = started.elapsed();
    let pids: Vec<u32> = processes.lock().unwrap().clone();
    let before = Usage::read(hub_pid, &pids);
    let phase_started = Instant::now();
    finished.wait();
    let phase = phase_started.elapsed();
    let after = Usage::read(hub_pid, &pids);
    measured.wait();
    for thread in threads {
        let _ = thread.join();
    }
    let _ = running.child.kill();
    let _ = running.child.wait();
    let _ = std::fs::remove_dir_all(&scratch);
    report(
        count,
        connect_time,
        phase,
        &before,
        &after,
        &results.lock().unwrap(),
    );
    Ok(())
}

/// Plays one module's MCU; returns its CONN time and PUB result times. The process is left in
/// `slot`, so that it still runs when the phase's usage is read.
#[allow(clippy::too_many_arguments)]
fn drive(
    index: usize,
    count: usize,
    binary: &Path,
    port_map: &str,
    directory: &Path,
    connected: &Barrier,
    processes: &Mutex<Vec<u32>>,
    slot: &mut Option<Module>,
) -> Result<(Duration, Vec<Duration>), String> {
    let flash = directory.join(format!("m{index:05}.bin"));
    let module = match Module::start(binary, port_map, &flash) {
        Ok(module) => slot.insert(module),
        Err(error) => {
            connected.wait();
            return Err(error);
        }
    };
    processes.lock().unwrap().push(module.child.id());
    let device = format!("m{index:05}");
    let connect = module
        .command(
            &format!("AT+TCDEVINFOSET=1,\"{PRODUCT}\",\"{device}\",\"{SECRET}\""),
            "+TCDEVINFOSET:OK",
        )
        .and_then(|_| module.command("AT+TCMQTTCONN=1,20000,240,1,1", "+TCMQTTCONN:OK"));
    connected.wait();
    let connect = connect?;
    // Spread the fleet's publishes evenly over the period.
    let offset = PUBLISH_PERIOD.mul_f64(index as f64 / count as f64);
    let start = Instant::now() + offset;
    let line = format!("AT+TCMQTTPUB=\"{PRODUCT}/{device}/data\",1,\"fleet\"");
    let mut publishes = Vec::new();
    for round in 0..PUBLISHES {
        let due = start + PUBLISH_PERIOD * round;
        // The MCU's own publishing schedule.
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        publishes.push(module.command(&line, "+TCMQTTPUB:OK")?);
    }
    Ok((connect, publishes))
}

struct Module {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Module {
    fn start(binary: &Path, port_map: &str, flash: &Path) -> Result<Module, String> {
        let mut child = Command::new(binary)
            .args(["--uart", "stdio", "--flash"])
            .arg(flash)
            .env("TCAT_RESOLVE", "*.tencentdevices.com=127.0.0.1")
            .env("TCAT_PORT_MAP", port_map)
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("start: {error}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut module = Module {
            child,
            lines: BufReader::new(stdout).lines(),
        };
        module.wait_for("ready")?;
        module.command("ATE0", "OK")?;
        Ok(module)
    }

    fn wait_for(&mut self, wanted: &str) -> Result<(), String> {
        loop {
            match self.lines.next() {
                Some(Ok(line)) if line == wanted => return Ok(()),
                Some(Ok(line)) if line.contains("FAIL") || line.contains("ERROR") => {
                    return Err(format!("{line} while waiting for {wanted}"))
                }
                Some(Ok(_)) => {}
                _ => return Err(format!("output closed while waiting for {wanted}")),
            }
        }
    }

    /// Sends `line` and waits for `result`; returns how long that took.
    fn command(&mut self, line: &str, result: &str) -> Result<Duration, String> {
        let sent = Instant::now();
        let input = self.child.stdin.as_mut().ok_or("no stdin")?;
        input
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(|error| format!("write: {error}"))?;
        self.wait_for(result)?;
        Ok(sent.elapsed())
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU ticks and resident memory of the hub and of every module.
struct Usage {
    hub_ticks: u64,
    hub_rss_kib: u64,
    module_ticks: u64,
    module_rss_kib: u64,
}

impl Usage {
    fn read(hub: u32, modules: &[u32]) -> Usage {
        let (hub_ticks, hub_rss_kib) = process_usage(hub);
        let (module_ticks, module_rss_kib) = modules
            .iter()
            .map(|pid| process_usage(*pid))
            .fold((0, 0), |(ticks, rss), (more_ticks, more_rss)| {
                (ticks + more_ticks, rss + more_rss)
            });
        Usage {
            hub_ticks,
            hub_rss_kib,
            module_ticks,
            module_rss_kib,
        }
    }
}

/// utime + stime (clock ticks) and VmRSS (KiB) of `pid`; zeros once it is gone.
fn process_usage(pid: u32) -> (u64, u64) {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat.get(stat.rfind(')')? + 2..)?.to_owned();
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|field| field.parse().ok())
                .collect();
            Some(fields.iter().sum())
        })
        .unwrap_or(0);
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    (ticks, rss)
}

fn percentile(samples: &mut [Duration], percent: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    samples[((samples.len() * percent).div_ceil(100)).saturating_sub(1)]
}

fn report(
    count: usize,
    connect_time: Duration,
    phase: Duration,
    before: &Usage,
    after: &Usage,
    results: &Results,
) {
    const TICKS_PER_SECOND: f64 = 100.0;
    let share = |ticks: u64| 100.0 * ticks as f64 / TICKS_PER_SECOND / phase.as_secs_f64();
    let mut connects = results.connects.clone();
    let mut publishes = results.publishes.clone();
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    println!(
        "fleet of {count} modules over TLS-PSK on one tc-at-hub: {} connected, {} failed; whole fleet connected after {:.1} s",
        connects.len(),
        results.failures.len(),
        connect_time.as_secs_f64()
    );
    println!(
        "AT+TCMQTTCONN -> +TCMQTTCONN:OK: p50 {:.0} ms, p99 {:.0} ms",
        ms(percentile(&mut connects, 50)),
        ms(percentile(&mut connects, 99))
    );
    println!(
        "AT+TCMQTTPUB (QoS 1, every {} s) -> +TCMQTTPUB:OK: {} results, p50 {:.1} ms, p99 {:.1} ms",
        PUBLISH_PERIOD.as_secs(),
        publishes.len(),
        ms(percentile(&mut publishes, 50)),
        ms(percentile(&mut publishes, 99))
    );
    println!(
        "publishing phase {:.1} s: hub CPU {:.1} % of a core, RSS {} KiB; modules CPU {:.1} % of a core in total ({:.3} % each), RSS {} KiB in total ({} KiB each)",
        phase.as_secs_f64(),
        share(after.hub_ticks.saturating_sub(before.hub_ticks)),
        after.hub_rss_kib.max(before.hub_rss_kib),
        share(after.module_ticks.saturating_sub(before.module_ticks)),
        share(after.module_ticks.saturating_sub(before.module_ticks)) / count as f64,
        before.module_rss_kib,
        before.module_rss_kib / count.max(1) as u64,
    );
    for failure in results.failures.iter().take(10) {
        println!("failure: {failure}");
    }
}
