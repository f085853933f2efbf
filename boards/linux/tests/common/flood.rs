//! One burst of inbound messages through a connected module, checked from the MCU's side
//! (issue 8): every `+TCMQTTRCVPUB` arrives exactly once, in order and well-formed, while an
//! `AT` sent every 200 ms keeps being answered; the module's memory stays bounded.
//!
//! Payloads are `<label><sequence:05>`, so a gap names the first lost message and a repeat
//! the first duplicate. Each line is checked as it is read, and the burst fails at the first
//! wrong line with what came instead.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{escape, Module};

/// A host reading a 115200-baud UART (8N1: 10 bits per byte).
pub const UART_115200_BYTES_PER_SECOND: u64 = 11_520;
/// Period of the `AT` probe during a burst.
pub const PROBE_PERIOD: Duration = Duration::from_millis(200);
/// Longest acceptable answer to a probe (reported either way): with a throttled reader the
/// answer queues behind the URCs already written, the harness's 4 KiB pipe and the module's
/// output buffer, about 0.8 s at 115200 baud.
pub const PROBE_BOUND: Duration = Duration::from_secs(3);
/// Growth of the module's peak resident memory allowed over its size before the bursts.
pub const RSS_GROWTH_BOUND_KIB: u64 = 8 * 1024;

/// What one burst showed.
#[derive(Debug)]
pub struct BurstReport {
    /// Messages received (all of them, or the burst failed).
    pub received: usize,
    /// Probes sent and answered.
    pub probes: usize,
    /// Slowest probe answer.
    pub worst_probe: Duration,
    /// How long the burst took to arrive completely.
    pub elapsed: Duration,
}

/// Sends `AT\r\n` every [`PROBE_PERIOD`] on its own thread, recording when each left.
struct Prober {
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<VecDeque<Instant>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Prober {
    fn start(module: &Module) -> Prober {
        let mut input = module.input();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(VecDeque::new()));
        let (stop_flag, log) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                log.lock().unwrap().push_back(Instant::now());
                if input.write_all(b"AT\r\n").is_err() {
                    return;
                }
                // The probe's own period, not a wait for the module.
                thread::sleep(PROBE_PERIOD);
            }
        });
        Prober {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one burst of `count` messages on `topic` with payloads `<label><n:05>`, n = 0..count,
/// while `publish` (already started on another thread) sends them. Fails at the first lost,
/// repeated, reordered or malformed message, or when they stop arriving before `deadline`.
pub fn read_burst(
    module: &mut Module,
    topic: &str,
    label: &str,
    count: usize,
    deadline: Duration,
) -> BurstReport {
    let started = Instant::now();
    let until = started + deadline;
    let mut prober = Prober::start(module);
    let mut next = 0usize;
    let mut probes = 0usize;
    let mut worst_probe = Duration::ZERO;
    let prefix = format!("+TCMQTTRCVPUB:\"{topic}\",");
    let sent = Arc::clone(&prober.sent);
    let answer = |module: &Module, worst: &mut Duration, answered: &mut usize| {
        let Some(at) = sent.lock().unwrap().pop_front() else {
            module.fail("an OK that answers no AT");
        };
        *worst = (*worst).max(at.elapsed());
        *answered += 1;
    };
    while next < count {
        let Some(line) = module.take_line() else {
            if !module.receive_more(until) {
                prober.stop();
                module.fail(&format!(
                    "burst {label}: {next} of {count} messages arrived within {deadline:?}; \
                     the next expected is {label}{next:05}"
                ));
            }
            continue;
        };
        match line.as_slice() {
            b"" => {}
            b"OK" => answer(module, &mut worst_probe, &mut probes),
            _ => check_message(module, &line, &prefix, label, &mut next),
        }
    }
    let elapsed = started.elapsed();
    prober.stop();
    // The probes still waiting are answered next, and nothing else comes: a message after the
    // last one would be a duplicate.
    let waiting = sent.lock().unwrap().len();
    let answers_until = Instant::now() + PROBE_BOUND;
    let mut answered = 0;
    while answered < waiting {
        let Some(line) = module.take_line() else {
            if !module.receive_more(answers_until) {
                module.fail(&format!("{} probes unanswered", waiting - answered));
            }
            continue;
        };
        match line.as_slice() {
            b"" => {}
            b"OK" => {
                answer(module, &mut worst_probe, &mut probes);
                answered += 1;
            }
            other => module.fail(&format!(
                "after the burst's last message: \"{}\"",
                escape(other)
            )),
        }
    }
    BurstReport {
        received: next,
        probes,
        worst_probe,
        elapsed,
    }
}

/// Checks one `+TCMQTTRCVPUB` line: topic, length field, and the expected next payload.
fn check_message(module: &Module, line: &[u8], prefix: &str, label: &str, next: &mut usize) {
    let text = String::from_utf8_lossy(line);
    let fields = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once(','))
        .and_then(|(length, payload)| {
            let payload = payload.strip_prefix('"')?.strip_suffix('"')?;
            Some((length.parse::<usize>().ok()?, payload))
        });
    let Some((length, payload)) = fields else {
        module.fail(&format!(
            "not a message line of this burst: \"{}\"",
            escape(line)
        ));
    };
    let expected = format!("{label}{:05}", *next);
    if payload != expected {
        let what = match payload
            .strip_prefix(label)
            .and_then(|number| number.parse::<usize>().ok())
        {
            Some(number) if number > *next => {
                format!("{} messages lost before it", number - *next)
            }
            Some(_) => "a repeat or out of order".to_owned(),
            None => "not from this burst".to_owned(),
        };
        module.fail(&format!(
            "expected payload {expected}, got {payload}: {what}"
        ));
    }
    if length != payload.len() {
        module.fail(&format!("length field {length} for \"{}\"", escape(line)));
    }
    *next += 1;
}

/// `VmRSS` and `VmHWM` (peak) of process `pid` in KiB, from `/proc/<pid>/status`.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
