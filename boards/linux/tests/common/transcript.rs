//! Transcript files: the spec's exact bytes, written down once and replayed over every UART.
//!
//! Format, one item per line (the text after the marker and one space is taken verbatim, then
//! unescaped with `\r \n \t \xNN \\`):
//!
//! | Line | Meaning |
//! |---|---|
//! | `# …` or blank | comment |
//! | `> BYTES` | send the bytes in one write |
//! | `>> BYTES` | send the bytes one write per byte |
//! | `< BYTES` | the next output bytes are exactly these |
//! | `<~ REGEX` | the next output line (through `\r\n`) matches `^(?:REGEX)$`; for variable fields only |
//! | `! profile NAME` | start the module with `--profile NAME` (before the first send) |
//! | `! secret BYTES` | these bytes never appear on the AT port except inside echoes of sent lines, nor on stderr |
//! | `! timeout SECONDS` | deadline of the following expectations |
//!
//! A literal backslash is written `\\` (so the AT escape `\,` appears as `\\,`).
//!
//! Before every send that follows an expectation the runner checks that nothing unexpected has
//! arrived, and at the end that nothing is left over; by convention each transcript ends with an
//! `AT` round trip, so any stray output before it is caught.

use std::path::PathBuf;
use std::time::Duration;

use regex::bytes::Regex;

use super::{escape, find, unescape, Module, Options, Scratch, Uart};

/// One parsed transcript step.
#[derive(Debug)]
enum Step {
    Send {
        bytes: Vec<u8>,
        bytewise: bool,
        line: usize,
    },
    Expect {
        bytes: Vec<u8>,
        line: usize,
    },
    ExpectLine {
        pattern: Regex,
        line: usize,
    },
    Timeout(Duration),
}

/// A parsed transcript file.
pub struct Transcript {
    name: String,
    profile: &'static str,
    secrets: Vec<Vec<u8>>,
    steps: Vec<Step>,
}

/// Directory holding the transcript files.
pub fn directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

impl Transcript {
    /// Loads `tests/transcripts/<name>.txt`.
    pub fn load(name: &str) -> Transcript {
        let path = directory().join(format!("{name}.txt"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        Transcript::parse(name, &text)
    }

    /// Parses transcript text.
    pub fn parse(name: &str, text: &str) -> Transcript {
        let mut transcript = Transcript {
            name: name.to_string(),
            profile: "full",
            secrets: Vec::new(),
            steps: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let (marker, rest) = raw.split_once(' ').unwrap_or((raw, ""));
            let step = match marker {
                ">" => Step::Send {
                    bytes: unescape(rest),
                    bytewise: false,
                    line,
                },
                ">>" => Step::Send {
                    bytes: unescape(rest),
                    bytewise: true,
                    line,
                },
                "<" => Step::Expect {
                    bytes: unescape(rest),
                    line,
                },
                "<~" => {
                    let pattern = Regex::new(&format!("^(?:{rest})$"))
                        .unwrap_or_else(|error| panic!("{name}:{line}: bad regex: {error}"));
                    Step::ExpectLine { pattern, line }
                }
                "!" => {
                    transcript.directive(rest, line);
                    continue;
                }
                _ => panic!("{name}:{line}: unknown marker {marker:?}"),
            };
            transcript.steps.push(step);
        }
        transcript
    }

    fn directive(&mut self, text: &str, line: usize) {
        let (keyword, value) = text.split_once(' ').unwrap_or((text, ""));
        match keyword {
            "profile" => {
                self.profile = match value {
                    "full" => "full",
                    "esp8266" => "esp8266",
                    other => panic!("{}:{line}: unknown profile {other:?}", self.name),
                }
            }
            "secret" => self.secrets.push(unescape(value)),
            "timeout" => {
                let seconds: u64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("{}:{line}: bad timeout", self.name));
                self.steps.push(Step::Timeout(Duration::from_secs(seconds)));
            }
            other => panic!("{}:{line}: unknown directive {other:?}", self.name),
        }
    }

    /// Starts a fresh module (new flash file) on `uart` and replays the transcript.
    pub fn run(&self, uart: Uart) {
        self.run_with(uart, &Options::default());
    }

    /// [`Transcript::run`] with `options` (e.g. the routing to a hub); the profile is the
    /// transcript's.
    pub fn run_with(&self, uart: Uart, options: &Options) {
        let scratch = Scratch::new(&self.name);
        let options = Options {
            profile: Some(self.profile),
            ..options.clone()
        };
        let mut module = Module::start(uart, &scratch.flash(), &options);
        let mut sent_lines: Vec<Vec<u8>> = Vec::new();
        let mut previous_was_send = false;
        for step in &self.steps {
            match step {
                Step::Send {
                    bytes,
                    bytewise,
                    line,
                } => {
                    module.context = format!("{}:{line} ({uart:?})", self.name);
                    // Output still owed to earlier sends of the same group is expected later.
                    if !previous_was_send {
                        let unexpected = module.drain_ready();
                        if !unexpected.is_empty() {
                            module.fail(&format!(
                                "unexpected output before this send: \"{}\"",
                                escape(&unexpected)
                            ));
                        }
                    }
                    if *bytewise {
                        module.send_bytewise(bytes);
                    } else {
                        module.send(bytes);
                    }
                    sent_lines.extend(split_lines(bytes));
                }
                Step::Expect { bytes, line } => {
                    module.context = format!("{}:{line} ({uart:?})", self.name);
                    module.expect(bytes);
                }
                Step::ExpectLine { pattern, line } => {
                    module.context = format!("{}:{line} ({uart:?})", self.name);
                    let received = module.read_line();
                    if !pattern.is_match(&received) {
                        module.fail(&format!(
                            "{}:{line} ({uart:?}): line \"{}\" does not match {pattern}",
                            self.name,
                            escape(&received)
                        ));
                    }
                }
                Step::Timeout(deadline) => module.deadline = *deadline,
            }
            previous_was_send = matches!(step, Step::Send { .. });
        }
        let leftover = module.drain_ready();
        if !leftover.is_empty() {
            module.fail(&format!(
                "{} ({uart:?}): unexpected output after the last expectation: \"{}\"",
                self.name,
                escape(&leftover)
            ));
        }
        self.check_secrets(&module, &sent_lines);
    }

    fn check_secrets(&self, module: &Module, sent_lines: &[Vec<u8>]) {
        let mut output = module.received().to_vec();
        for sent in sent_lines {
            if let Some(position) = find(&output, sent) {
                output.drain(position..position + sent.len());
            }
        }
        let stderr = module.stderr();
        for secret in &self.secrets {
            if let Some(position) = find(&output, secret) {
                module.fail(&format!(
                    "{}: secret \"{}\" printed on the AT port outside an echo (at {position})",
                    self.name,
                    escape(secret)
                ));
            }
            if find(&stderr, secret).is_some() {
                module.fail(&format!(
                    "{}: secret \"{}\" printed in the log (stderr)",
                    self.name,
                    escape(secret)
                ));
            }
        }
    }
}

/// Splits sent bytes into lines that keep their `\r\n` (the unit that is echoed).
fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while let Some(position) = find(rest, b"\r\n") {
        lines.push(rest[..position + 2].to_vec());
        rest = &rest[position + 2..];
    }
    if !rest.is_empty() {
        lines.push(rest.to_vec());
    }
    lines
}
