//! Harness that drives the real `tc-at-module` binary over a real pseudo-terminal or over stdio.
//!
//! The tests are black-box on purpose: the expected bytes come from the specification
//! (`shared/spec/`), not from the implementation, so the harness only knows how to start the
//! process, send bytes and wait for bytes. Every wait is bounded by a deadline and fails with an
//! escaped expected/actual dump; nothing sleeps to synchronise.

#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod escape;
pub mod flood;
pub mod hub;
pub mod mosquitto;
pub mod ota;
pub mod registration;
pub mod transcript;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};

pub use escape::{escape, unescape};

/// How long any single expectation may wait for its bytes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// Process start (exec, flash file creation, PTY setup) gets a little more on a loaded machine.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// The boot banner written after every (re)boot (`at-engine.md` §2).
pub const READY: &[u8] = b"\r\nready\r\n";
/// Simulated access points of every test run (`hub.md` §1): the first uses the default BSSID
/// `02:00:00:00:00:01` and channel 6, the second sets both explicitly.
pub const WIFI_APS: &str = "hub-ap:password123:-45;lab-ap:labpass99:-67:02aabbccddee:11";

/// Which UART transport the module serves the AT port on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uart {
    /// `--uart pty`: the harness opens the printed slave path in raw mode.
    Pty,
    /// `--uart stdio`: the AT port is the child's stdin/stdout.
    Stdio,
}

impl Uart {
    /// Both transports; transcripts run over each of them.
    pub const ALL: [Uart; 2] = [Uart::Pty, Uart::Stdio];
}

/// Options for starting one module process.
#[derive(Debug, Clone)]
pub struct Options {
    /// Capability profile passed as `--profile`; `None` passes no flag.
    pub profile: Option<&'static str>,
    /// Value of `TCAT_WIFI_APS`; `None` removes the variable.
    pub wifi_aps: Option<String>,
    /// Whether to pass `--flash <path>` (otherwise the binary's default applies).
    pub flash_flag: bool,
    /// Extra environment variables.
    pub environment: Vec<(String, String)>,
    /// Extra command-line arguments.
    pub extra_arguments: Vec<String>,
    /// Capacity of the stdout pipe (stdio transport); `None` keeps the kernel's 64 KiB. A
    /// small pipe makes the harness behave like a UART with a small receive FIFO.
    pub output_pipe_bytes: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            profile: Some("full"),
            wifi_aps: Some(WIFI_APS.to_string()),
            flash_flag: true,
            environment: Vec::new(),
            extra_arguments: Vec::new(),
            output_pipe_bytes: None,
        }
    }
}

/// A private scratch directory, removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates a fresh directory under cargo's per-target temporary directory.
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let number = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "e2e-{}-{}-{}",
            label,
            std::process::id(),
            number
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch directory");
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The flash image path inside the directory.
    pub fn flash(&self) -> PathBuf {
        self.path.join("flash.bin")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Bytes from a reader thread, plus whether that reader has reached end of stream.
enum Chunk {
    Data(Vec<u8>),
    Closed,
}

/// Reads `source` into a channel; while `rate` is non-zero, no faster than `rate` bytes per
/// second (a host reading a UART at that speed: small reads, no credit for idle time).
/// `read_total` counts the bytes taken out of `source`, as soon as each read returns.
fn spawn_reader(
    mut source: impl Read + Send + 'static,
    rate: Arc<AtomicU64>,
    read_total: Arc<AtomicU64>,
) -> Receiver<Chunk> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let mut paced_since = Instant::now();
        let mut paced_bytes = 0u64;
        loop {
            let bytes_per_second = rate.load(Ordering::Relaxed);
            let limit = if bytes_per_second == 0 {
                buffer.len()
            } else {
                64
            };
            let result = source.read(&mut buffer[..limit]);
            if let Ok(count) = &result {
                read_total.fetch_add(*count as u64, Ordering::Relaxed);
            }
            if let (Ok(count), true) = (&result, bytes_per_second != 0) {
                let now = Instant::now();
                let due = paced_since
                    + Duration::from_secs_f64(paced_bytes as f64 / bytes_per_second as f64);
                if due < now {
                    paced_since = now;
                    paced_bytes = 0;
                }
                paced_bytes += *count as u64;
                let due = paced_since
                    + Duration::from_secs_f64(paced_bytes as f64 / bytes_per_second as f64);
                // Pacing a reader's throughput, not synchronising with the module.
                thread::sleep(due.saturating_duration_since(now));
            }
            match result {
                Ok(0) | Err(_) => {
                    let _ = sender.send(Chunk::Closed);
                    return;
                }
                Ok(count) => {
                    if sender.send(Chunk::Data(buffer[..count].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

fn spawn_collector(mut source: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let collected = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&collected);
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(count) = source.read(&mut buffer) {
            if count == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buffer[..count]);
        }
    });
    collected
}

enum Port {
    /// The slave side, plus the child's stdin kept open (unused) so that it never sees EOF.
    Pty(File, ChildStdin),
    Stdio(ChildStdin),
}

/// One running `tc-at-module` process and its AT port.
pub struct Module {
    child: Child,
    port: Port,
    incoming: Receiver<Chunk>,
    closed: bool,
    /// Received but not yet consumed by an expectation.
    pending: Vec<u8>,
    /// Everything received on the AT port since start.
    transcript: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The PTY slave path (PTY transport only).
    pub pty_path: Option<PathBuf>,
    /// The flash image this process uses.
    pub flash: PathBuf,
    /// Deadline for each expectation.
    pub deadline: Duration,
    /// Prefix of failure messages (e.g. the transcript line being checked).
    pub context: String,
    /// Reading speed in bytes per second; 0 reads as fast as the module writes.
    read_rate: Arc<AtomicU64>,
    /// Bytes taken out of the AT port so far (received, not necessarily looked at yet).
    port_read: Arc<AtomicU64>,
}

impl Module {
    /// Starts the binary without waiting for the banner.
    pub fn spawn(uart: Uart, flash: &Path, options: &Options) -> Module {
        let mut command = module_command(options);
        command.arg("--uart").arg(match uart {
            Uart::Pty => "pty",
            Uart::Stdio => "stdio",
        });
        if options.flash_flag {
            command.arg("--flash").arg(flash);
        }
        let mut child = command.spawn().expect("spawn tc-at-module");
        let stderr = spawn_collector(child.stderr.take().unwrap());
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let read_rate = Arc::new(AtomicU64::new(0));
        let rate = Arc::clone(&read_rate);
        let port_read = Arc::new(AtomicU64::new(0));
        let read_total = Arc::clone(&port_read);
        let (port, incoming, pty_path) = match uart {
            Uart::Stdio => {
                if let Some(bytes) = options.output_pipe_bytes {
                    nix::fcntl::fcntl(&stdout, nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes as i32))
                        .expect("resize the stdout pipe");
                }
                (
                    Port::Stdio(stdin),
                    spawn_reader(stdout, rate, read_total),
                    None,
                )
            }
            Uart::Pty => {
                let path = read_uart_line(stdout, &stderr);
                let file = open_raw_pty(&path);
                let reader = file.try_clone().expect("clone pty descriptor");
                (
                    Port::Pty(file, stdin),
                    spawn_reader(reader, rate, read_total),
                    Some(path),
                )
            }
        };
        Module {
            child,
            port,
            incoming,
            closed: false,
            pending: Vec::new(),
            transcript: Vec::new(),
            stderr,
            pty_path,
            flash: flash.to_path_buf(),
            deadline: DEFAULT_DEADLINE,
            context: String::new(),
            read_rate,
            port_read,
        }
    }

    /// Bytes taken out of the AT port so far by the reading thread (received, whether or not
    /// looked at yet).
    pub fn bytes_read(&self) -> u64 {
        self.port_read.load(Ordering::Relaxed)
    }

    /// Whether the module closed its AT port.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Position in the module's output of the first byte not taken by a read of this harness
    /// (`take_line`, `expect`, ...): every byte received before it has been looked at.
    pub fn consumed(&self) -> u64 {
        (self.transcript.len() - self.pending.len()) as u64
    }

    /// Reads the AT port no faster than `bytes_per_second` from now on (0: unthrottled).
    pub fn set_read_rate(&self, bytes_per_second: u64) {
        self.read_rate.store(bytes_per_second, Ordering::Relaxed);
    }

    /// The module's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A second handle on the AT port's input, for a writer on another thread.
    pub fn input(&self) -> File {
        let descriptor = match &self.port {
            Port::Pty(file, _) => file.as_fd().try_clone_to_owned(),
            Port::Stdio(stdin) => stdin.as_fd().try_clone_to_owned(),
        };
        File::from(descriptor.expect("duplicate the AT port descriptor"))
    }

    /// Takes the next received chunk (waiting at most until `until`) into the pending bytes;
    /// false on timeout or close.
    pub fn receive_more(&mut self, until: Instant) -> bool {
        self.receive_until(until)
    }

    /// Takes one complete line (without `\r\n`) from the bytes already received.
    pub fn take_line(&mut self) -> Option<Vec<u8>> {
        let position = find(&self.pending, b"\r\n")?;
        let line = self.pending[..position].to_vec();
        self.pending.drain(..position + 2);
        Some(line)
    }

    /// Starts the binary and waits for the first `\r\nready\r\n`.
    pub fn start(uart: Uart, flash: &Path, options: &Options) -> Module {
        let mut module = Module::spawn(uart, flash, options);
        module.expect_within(READY, START_DEADLINE);
        module
    }

    /// Writes bytes to the AT port in one write.
    pub fn send(&mut self, bytes: &[u8]) {
        let result = match &mut self.port {
            Port::Pty(file, _) => file.write_all(bytes).and_then(|()| file.flush()),
            Port::Stdio(stdin) => stdin.write_all(bytes).and_then(|()| stdin.flush()),
        };
        if let Err(error) = result {
            self.fail(&format!("write to the AT port failed: {error}"));
        }
    }

    /// Writes bytes one write call per byte (the module must reassemble split lines).
    pub fn send_bytewise(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.send(std::slice::from_ref(byte));
        }
    }

    /// Pulls whatever arrived, waiting at most until `until`. Returns false on timeout or close.
    fn receive_until(&mut self, until: Instant) -> bool {
        if self.closed {
            return false;
        }
        let now = Instant::now();
        let wait = until.saturating_duration_since(now);
        match self.incoming.recv_timeout(wait) {
            Ok(Chunk::Data(data)) => {
                self.transcript.extend_from_slice(&data);
                self.pending.extend_from_slice(&data);
                true
            }
            Ok(Chunk::Closed) | Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// Takes any bytes already received without waiting.
    pub fn drain_ready(&mut self) -> Vec<u8> {
        while let Ok(chunk) = self.incoming.try_recv() {
            match chunk {
                Chunk::Data(data) => {
                    self.transcript.extend_from_slice(&data);
                    self.pending.extend_from_slice(&data);
                }
                Chunk::Closed => self.closed = true,
            }
        }
        std::mem::take(&mut self.pending)
    }

    /// Expects exactly `expected` as the next bytes of output, within the default deadline.
    pub fn expect(&mut self, expected: &[u8]) {
        self.expect_within(expected, self.deadline);
    }

    /// Expects exactly `expected` as the next bytes, failing early on the first wrong byte.
    pub fn expect_within(&mut self, expected: &[u8], deadline: Duration) {
        let until = Instant::now() + deadline;
        loop {
            let available = self.pending.len().min(expected.len());
            if self.pending[..available] != expected[..available] {
                self.mismatch(expected, "wrong bytes");
            }
            if available == expected.len() {
                self.pending.drain(..expected.len());
                return;
            }
            if !self.receive_until(until) {
                self.mismatch(
                    expected,
                    if self.closed {
                        "port closed"
                    } else {
                        "timeout"
                    },
                );
            }
        }
    }

    /// Reads one line (through its `\r\n`) and returns it without the terminator.
    pub fn read_line(&mut self) -> Vec<u8> {
        let until = Instant::now() + self.deadline;
        loop {
            if let Some(position) = find(&self.pending, b"\r\n") {
                let line = self.pending[..position].to_vec();
                self.pending.drain(..position + 2);
                return line;
            }
            if !self.receive_until(until) {
                self.fail(&format!(
                    "expected a line ending in \\r\\n, got \"{}\"",
                    escape(&self.pending)
                ));
            }
        }
    }

    /// Reads exactly `count` bytes of output, whatever they are (binary blocks).
    pub fn read_bytes(&mut self, count: usize) -> Vec<u8> {
        let until = Instant::now() + self.deadline;
        while self.pending.len() < count {
            if !self.receive_until(until) {
                self.fail(&format!(
                    "expected {count} bytes, got {}",
                    self.pending.len()
                ));
            }
        }
        self.pending.drain(..count).collect()
    }

    /// Reads until the received bytes end with a final result (`[OK]`, `[ERROR]`, `CME(n)`,
    /// an async result line `+TC…:OK|FAIL…`), and returns them all. For queries and simple
    /// commands whose answers contain no such pattern earlier.
    pub fn read_response(&mut self) -> Vec<u8> {
        let until = Instant::now() + self.deadline;
        loop {
            if let Some(end) = final_result_end(&self.pending) {
                let response = self.pending[..end].to_vec();
                self.pending.drain(..end);
                return response;
            }
            if !self.receive_until(until) {
                self.fail(&format!(
                    "no final result within the deadline; got \"{}\"",
                    escape(&self.pending)
                ));
            }
        }
    }

    /// Sends one line and returns its whole response (see [`Module::read_response`]).
    pub fn transact(&mut self, line: &[u8]) -> Vec<u8> {
        self.send(line);
        self.read_response()
    }

    /// Sends `AT\r\n` and expects its reply as the very next bytes: proves that nothing else
    /// was written in between (commands run and answer in order, `at-engine.md` §6, §9).
    pub fn expect_quiet(&mut self, echo: bool) {
        self.send(b"AT\r\n");
        if echo {
            self.expect(b"AT\r\n\r\nOK\r\n");
        } else {
            self.expect(b"\r\nOK\r\n");
        }
    }

    /// Everything received on the AT port so far.
    pub fn received(&self) -> &[u8] {
        &self.transcript
    }

    /// Everything the module wrote on stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr.lock().unwrap().clone()
    }

    /// Current flash image bytes.
    pub fn flash_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.flash).expect("read flash file")
    }

    /// Sends SIGKILL (`Child::kill` is SIGKILL on Unix) and reaps the process.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics with the context of this module run.
    pub fn fail(&self, message: &str) -> ! {
        panic!(
            "{}{message}\n--- AT port so far ---\n\"{}\"\n--- stderr tail ---\n{}",
            if self.context.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.context)
            },
            escape(&self.transcript),
            stderr_tail(&self.stderr())
        );
    }

    fn mismatch(&self, expected: &[u8], reason: &str) -> ! {
        let common = self
            .pending
            .iter()
            .zip(expected)
            .take_while(|(a, b)| a == b)
            .count();
        self.fail(&format!(
            "{reason} (first difference at byte {common})\nexpected: \"{}\"\nactual:   \"{}\"",
            escape(expected),
            escape(&self.pending)
        ));
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with the options' flags and a controlled environment; stdio all piped.
pub fn module_command(options: &Options) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tc-at-module"));
    if let Some(profile) = options.profile {
        command.arg("--profile").arg(profile);
    }
    command
        .args(&options.extra_arguments)
        .env_remove("TCAT_FLASH")
        .env_remove("TCAT_PROFILE")
        .env_remove("TCAT_WIFI_APS")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(access_points) = &options.wifi_aps {
        command.env("TCAT_WIFI_APS", access_points);
    }
    for (name, value) in &options.environment {
        command.env(name, value);
    }
    command
}

fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(30);
    lines[start..].join("\n")
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// End offset of the first final result in `bytes`, if any.
fn final_result_end(bytes: &[u8]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut consider = |end: usize| {
        best = Some(best.map_or(end, |current: usize| current.min(end)));
    };
    for terminator in [&b"\r\nOK\r\n"[..], b"\r\nERROR\r\n", b"\r\nbusy p...\r\n"] {
        if let Some(position) = find(bytes, terminator) {
            consider(position + terminator.len());
        }
    }
    let mut start = 0;
    for (index, window) in bytes.windows(2).enumerate() {
        if window == b"\r\n" {
            let line = &bytes[start..index];
            if line.starts_with(b"+CME ERROR:") || is_async_result(line) {
                consider(index + 2);
            }
            start = index + 2;
        }
    }
    best
}

fn is_async_result(line: &[u8]) -> bool {
    line.starts_with(b"+TC")
        && (line.ends_with(b":OK") || find(line, b":FAIL").is_some())
        && !line.starts_with(b"+TCSAP:WIFI")
        && !line.starts_with(b"+TCSTARTSMART:WIFI")
}

fn read_uart_line(stdout: impl Read + Send + 'static, stderr: &Arc<Mutex<Vec<u8>>>) -> PathBuf {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let result = reader.read_line(&mut line).map(|_| line);
        let _ = sender.send(result);
        // Anything further on stdout would be a contract violation; keep draining so the
        // module never blocks on a full pipe.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
    });
    let line = match receiver.recv_timeout(START_DEADLINE) {
        Ok(Ok(line)) => line,
        other => panic!(
            "no `UART <path>` line on stdout ({other:?})\n--- stderr ---\n{}",
            stderr_tail(&stderr.lock().unwrap())
        ),
    };
    let path = line
        .strip_suffix('\n')
        .and_then(|rest| rest.strip_prefix("UART "))
        .unwrap_or_else(|| panic!("stdout line is not `UART <path>\\n`: {line:?}"));
    PathBuf::from(path)
}

fn open_raw_pty(path: &Path) -> File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|error| panic!("open {}: {error}", path.display()));
    let mut attributes = tcgetattr(&file).expect("tcgetattr on the pty");
    cfmakeraw(&mut attributes);
    tcsetattr(&file, SetArg::TCSANOW, &attributes).expect("tcsetattr on the pty");
    file
}

/// XOR of all bytes: the only form in which a secret is ever shown (`README.md` glossary).
pub fn bcc(secret: &[u8]) -> u8 {
    secret
        .iter()
        .fold(0, |accumulator, byte| accumulator ^ byte)
}
