//! One burst of inbound messages through a connected module, checked from the MCU's side
//! (issue 8): every `+TCMQTTRCVPUB` arrives exactly once, in order and well-formed, while an
//! `AT` sent every 200 ms keeps being answered; the module's memory stays bounded.
//!
//! Payloads are `<label><sequence:05>`, so a gap names the first lost message and a repeat
//! the first duplicate. Each line is checked as it is read, and the burst fails at the first
//! wrong line with what came instead.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{escape, Module};

/// A host reading a 115200-baud UART (8N1: 10 bits per byte).
pub const UART_115200_BYTES_PER_SECOND: u64 = 11_520;
/// Period of the `AT` probe during a burst.
pub const PROBE_PERIOD: Duration = Duration::from_millis(200);
/// How long the probes still waiting when a burst ends may take to come (a deadline for a
/// failure, not a measure: what is asserted is [`BurstReport::most_bytes_ahead`]).
const LAST_ANSWERS_DEADLINE: Duration = Duration::from_secs(30);
/// Growth of the module's peak resident memory allowed over its size before the bursts.
pub const RSS_GROWTH_BOUND_KIB: u64 = 8 * 1024;

/// What one burst showed.
#[derive(Debug)]
pub struct BurstReport {
    /// Messages received (all of them, or the burst failed).
    pub received: usize,
    /// Probes sent and answered.
    pub probes: usize,
    /// Slowest probe answer (reported, not asserted: it depends on how the machine schedules
    /// the reader, the module and the publisher).
    pub worst_probe: Duration,
    /// Most bytes of module output read after a probe was sent, up to and including its
    /// answer: what was already on its way (the output pipe's content, which the module
    /// cannot take back) plus what the module wrote ahead of the answer. Counted in bytes, it
    /// does not depend on the machine's load.
    pub most_bytes_ahead: u64,
    /// How long the burst took to arrive completely.
    pub elapsed: Duration,
}

/// The `AT` probes of one burst, sent by the reading thread itself every [`PROBE_PERIOD`]: a
/// probe's byte count is taken after its write, before its answer can have been read.
struct Prober {
    next: Instant,
    /// Each unanswered probe: when it left, and the module output read by then.
    sent: VecDeque<(Instant, u64)>,
    answered: usize,
    worst: Duration,
    most_bytes_ahead: u64,
}

impl Prober {
    fn new() -> Prober {
        Prober {
            next: Instant::now(),
            sent: VecDeque::new(),
            answered: 0,
            worst: Duration::ZERO,
            most_bytes_ahead: 0,
        }
    }

    /// Sends a probe if one is due.
    fn send_due(&mut self, module: &mut Module) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        module.send(b"AT\r\n");
        self.sent.push_back((now, module.bytes_read()));
        self.next = now + PROBE_PERIOD;
    }

    /// An `OK` was just taken: it answers the oldest probe.
    fn answer(&mut self, module: &Module) {
        let Some((at, bytes_read)) = self.sent.pop_front() else {
            module.fail("an OK that answers no AT");
        };
        self.worst = self.worst.max(at.elapsed());
        self.most_bytes_ahead = self
            .most_bytes_ahead
            .max(module.consumed().saturating_sub(bytes_read));
        self.answered += 1;
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
    let mut prober = Prober::new();
    let mut next = 0usize;
    let prefix = format!("+TCMQTTRCVPUB:\"{topic}\",");
    while next < count {
        prober.send_due(module);
        let Some(line) = module.take_line() else {
            // Woken for the next probe or by output; only the burst's deadline or a closed
            // port ends the wait.
            if !module.receive_more(until.min(prober.next))
                && (module.is_closed() || Instant::now() >= until)
            {
                module.fail(&format!(
                    "burst {label}: {next} of {count} messages arrived within {deadline:?}; \
                     the next expected is {label}{next:05}"
                ));
            }
            continue;
        };
        match line.as_slice() {
            b"" => {}
            b"OK" => prober.answer(module),
            _ => check_message(module, &line, &prefix, label, &mut next),
        }
    }
    let elapsed = started.elapsed();
    // The probes still waiting are answered next, and nothing else comes: a message after the
    // last one would be a duplicate.
    let answers_until = Instant::now() + LAST_ANSWERS_DEADLINE;
    while !prober.sent.is_empty() {
        let Some(line) = module.take_line() else {
            if !module.receive_more(answers_until) {
                module.fail(&format!("{} probes unanswered", prober.sent.len()));
            }
            continue;
        };
        match line.as_slice() {
            b"" => {}
            b"OK" => prober.answer(module),
            other => module.fail(&format!(
                "after the burst's last message: \"{}\"",
                escape(other)
            )),
        }
    }
    BurstReport {
        received: next,
        probes: prober.answered,
        worst_probe: prober.worst,
        most_bytes_ahead: prober.most_bytes_ahead,
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
