//! The Linux board's transcripts replayed against a module reached through a byte link: the
//! transcript format subset (`>`, `>>`, `<`, `! secret`, `! timeout`), the link (bytes to the
//! module, its output from a reader thread) and the replay, shared by `cargo xtask qemu`
//! (QEMU's stdio) and `cargo xtask hil` (a serial port). Byte for byte as
//! `boards/linux/tests/transcripts.rs` does over a PTY.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::process::{Failure, Outcome};

/// How long one expectation may wait for the module, unless the transcript says.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(20);

/// One step of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes the host sends (`>`), or sends one at a time (`>>`, `bytewise`).
    Send {
        bytes: Vec<u8>,
        bytewise: bool,
        line: usize,
    },
    /// Bytes the module must answer next, exactly (`<`).
    Expect { bytes: Vec<u8>, line: usize },
    /// How long later expectations may wait (`! timeout <seconds>`).
    Timeout(Duration),
}

/// A parsed transcript: its steps and the secrets that must never appear outside an echo.
#[derive(Debug, Default)]
pub struct Transcript {
    /// In file order.
    pub steps: Vec<Step>,
    /// `! secret` values.
    pub secrets: Vec<Vec<u8>>,
}

/// Parses the subset of the transcript format the replay supports.
pub fn parse(text: &str) -> Outcome<Transcript> {
    let mut transcript = Transcript::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (marker, rest) = raw.split_once(' ').unwrap_or((raw, ""));
        match marker {
            ">" | ">>" => transcript.steps.push(Step::Send {
                bytes: unescape(rest, line)?,
                bytewise: marker == ">>",
                line,
            }),
            "<" => transcript.steps.push(Step::Expect {
                bytes: unescape(rest, line)?,
                line,
            }),
            "!" if rest.starts_with("secret ") => transcript
                .secrets
                .push(unescape(&rest["secret ".len()..], line)?),
            "!" if rest.starts_with("timeout ") => {
                let seconds = rest["timeout ".len()..]
                    .parse()
                    .map_err(|_| Failure::new(format!("line {line}: bad timeout")))?;
                transcript
                    .steps
                    .push(Step::Timeout(Duration::from_secs(seconds)));
            }
            _ => {
                return Err(Failure::new(format!(
                    "line {line}: `{marker}` is not supported by the replay (xtask/src/replay.rs)"
                )))
            }
        }
    }
    Ok(transcript)
}

/// Decodes the transcript escapes `\r`, `\n`, `\t`, `\\` and `\xNN`.
pub fn unescape(text: &str, line: usize) -> Outcome<Vec<u8>> {
    let bad = || Failure::new(format!("line {line}: bad escape in {text:?}"));
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'\\' {
            output.push(bytes[index]);
            index += 1;
            continue;
        }
        let (byte, width) = match bytes.get(index + 1) {
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(b'\\') => (b'\\', 2),
            Some(b'x') => {
                let hex = text.get(index + 2..index + 4).ok_or_else(bad)?;
                (u8::from_str_radix(hex, 16).map_err(|_| bad())?, 4)
            }
            _ => return Err(bad()),
        };
        output.push(byte);
        index += width;
    }
    Ok(output)
}

/// An AT port seen from the host: bytes written to the module, and its output arriving on a
/// channel from a reader thread (QEMU's stdout, a serial port).
pub struct Link {
    input: Box<dyn Write + Send>,
    output: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    received: Vec<u8>,
    timeout: Duration,
}

impl Link {
    /// Wraps `input` and starts a thread that forwards everything `output` yields.
    pub fn new(input: Box<dyn Write + Send>, mut output: impl Read + Send + 'static) -> Link {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(count) = output.read(&mut buffer) {
                if count == 0 || sender.send(buffer[..count].to_vec()).is_err() {
                    break;
                }
            }
        });
        Link {
            input,
            output: receiver,
            pending: Vec::new(),
            received: Vec::new(),
            timeout: EXPECT_TIMEOUT,
        }
    }

    /// Writes `bytes` to the module in pieces of `chunk` bytes.
    pub fn send(&mut self, bytes: &[u8], chunk: usize) -> Outcome {
        for piece in bytes.chunks(chunk.max(1)) {
            self.input.write_all(piece)?;
            self.input.flush()?;
        }
        Ok(())
    }

    /// Waits until `expected` arrived next, byte for byte.
    pub fn expect(&mut self, expected: &[u8], line: usize) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        while self.pending.len() < expected.len() {
            if !self.receive_until(deadline) {
                break;
            }
        }
        if self.pending.starts_with(expected) {
            self.pending.drain(..expected.len());
            return Ok(());
        }
        Err(Failure::new(format!(
            "line {line}: expected {:?}, received {:?}",
            String::from_utf8_lossy(expected),
            String::from_utf8_lossy(&self.pending)
        )))
    }

    /// Waits up to `timeout` until `needle` arrived anywhere, and drops everything up to its
    /// end; whether it arrived.
    pub fn skip_past(&mut self, needle: &[u8], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(position) = find(&self.pending, needle) {
                self.pending.drain(..position + needle.len());
                return true;
            }
            if !self.receive_until(deadline) {
                return false;
            }
        }
    }

    /// Whatever arrived that nobody expected yet.
    pub fn unexpected(&mut self) -> Vec<u8> {
        while let Ok(chunk) = self.output.try_recv() {
            self.take(chunk);
        }
        std::mem::take(&mut self.pending)
    }

    /// Waits for the next chunk until `deadline`; false when none came.
    fn receive_until(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.output.recv_timeout(left) {
            Ok(chunk) => {
                self.take(chunk);
                true
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    fn take(&mut self, chunk: Vec<u8>) {
        self.received.extend_from_slice(&chunk);
        self.pending.extend_from_slice(&chunk);
    }
}

/// Replays `transcript` on a module that has just printed `ready` (and nothing since): every
/// send, every expectation byte for byte, nothing unexpected before a send, and no secret in
/// the output outside the echo of the command that carried it.
pub fn replay(link: &mut Link, transcript: &Transcript) -> Outcome {
    link.received.clear();
    link.timeout = EXPECT_TIMEOUT;
    let mut previous_was_send = false;
    let mut sent = Vec::new();
    for step in &transcript.steps {
        match step {
            Step::Send {
                bytes,
                bytewise,
                line,
            } => {
                if !previous_was_send {
                    let unexpected = link.unexpected();
                    if !unexpected.is_empty() {
                        return Err(Failure::new(format!(
                            "line {line}: unexpected output before this send: {:?}",
                            String::from_utf8_lossy(&unexpected)
                        )));
                    }
                }
                link.send(bytes, if *bytewise { 1 } else { bytes.len() })?;
                sent.push(bytes.clone());
                previous_was_send = true;
            }
            Step::Expect { bytes, line } => {
                link.expect(bytes, *line)?;
                previous_was_send = false;
            }
            Step::Timeout(timeout) => link.timeout = *timeout,
        }
    }
    let mut output = link.received.clone();
    for bytes in &sent {
        if let Some(position) = find(&output, bytes) {
            output.drain(position..position + bytes.len());
        }
    }
    if transcript
        .secrets
        .iter()
        .any(|secret| find(&output, secret).is_some())
    {
        return Err(Failure::new("a secret was printed outside an echo"));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_expectations_and_secrets_are_parsed_with_their_escapes() {
        let text = "# comment\n! secret abc\n\n> AT\\r\\n\n< AT\\r\\n\\r\\nOK\\r\\n\n>> \\x00\n! timeout 5\n";
        let transcript = parse(text).unwrap();
        assert_eq!(transcript.secrets, [b"abc".to_vec()]);
        assert_eq!(
            transcript.steps,
            [
                Step::Send {
                    bytes: b"AT\r\n".to_vec(),
                    bytewise: false,
                    line: 4
                },
                Step::Expect {
                    bytes: b"AT\r\n\r\nOK\r\n".to_vec(),
                    line: 5
                },
                Step::Send {
                    bytes: vec![0],
                    bytewise: true,
                    line: 6
                },
                Step::Timeout(Duration::from_secs(5)),
            ]
        );
    }

    #[test]
    fn regex_lines_and_profiles_are_refused_rather_than_skipped() {
        assert!(parse("<~ AT version:.*\n").is_err());
        assert!(parse("! profile esp8266\n").is_err());
        assert!(unescape("\\q", 1).is_err());
        assert!(unescape("\\x4", 1).is_err());
    }
}
