//! `cargo xtask hub`: the local IoT Hub stand-in (`tools/hub`) in the foreground, and the
//! helpers `cargo xtask run` uses to start it next to the module.
//!
//! The hub reports the ports it really bound on one `HUB READY {json}` line; everything the
//! xtask tells the user (or the module) about ports comes from that line, so free ports
//! (`--mqtt-port 0`) work the same as the defaults.

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::process::{self, Failure, Outcome};
use crate::signals;
use crate::{artifact, tools};

/// The hub's built-in demo device: product id, device name and Base64 secret.
pub const DEMO_DEVICE: (&str, &str, &str) = ("DEMO000001", "demo", "ZGVtb19zZWNyZXRfMTIzNA==");

/// The ports of a running hub, as its ready line reports them (0: listener not present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// Plain MQTT (TLS mode 0).
    pub mqtt: u16,
    /// MQTT over TLS (modes 1 and 2).
    pub mqtts: u16,
    /// Admin API.
    pub admin: u16,
}

impl Ready {
    /// Parses `HUB READY {"mqtt":…,"mqtts":…,…,"admin":…}`.
    pub fn parse(line: &str) -> Option<Ready> {
        let json = line.trim_end().strip_prefix("HUB READY ")?;
        Some(Ready {
            mqtt: json_port(json, "mqtt")?,
            mqtts: json_port(json, "mqtts")?,
            admin: json_port(json, "admin")?,
        })
    }

    /// The `TCAT_PORT_MAP` value that sends the module's MQTT connections to this hub.
    pub fn port_map(&self) -> String {
        let mut map = format!("1883={}", self.mqtt);
        if self.mqtts != 0 {
            map.push_str(&format!(",8883={}", self.mqtts));
        }
        map
    }
}

/// The port number of `"key":` in the ready line's flat JSON object.
fn json_port(json: &str, key: &str) -> Option<u16> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let digits: String = json[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A started hub: its process, the rest of its stdout and its ports.
pub struct Running {
    /// The hub process.
    pub child: Child,
    /// Kept open: the hub must never meet a closed stdout.
    pub stdout: Lines<BufReader<ChildStdout>>,
    /// The ports it bound.
    pub ready: Ready,
    /// The ready line itself, for anyone who scripts the xtask.
    pub ready_line: String,
}

/// Builds the hub and returns its executable.
pub fn build() -> Outcome<PathBuf> {
    tools::ensure(tools::HUB_BUILD)?;
    artifact::build_executable("tc-at-hub", "tc-at-hub", false)
}

/// Starts the hub with `arguments` and waits for its ready line; `None` when it exited
/// first (its own error message is already on the terminal).
pub fn start(
    executable: &Path,
    arguments: &[String],
    children: &signals::Children,
) -> Outcome<Option<Running>> {
    let mut command = Command::new(executable);
    command.args(arguments);
    start_command(command, children)
}

/// [`start`] with a command the caller prepared (environment, arguments).
pub fn start_command(
    mut command: Command,
    children: &signals::Children,
) -> Outcome<Option<Running>> {
    command.stdout(Stdio::piped());
    eprintln!("$ {}", process::describe(&command));
    let mut child = command.spawn()?;
    children.add(child.id());
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure::new("the hub's stdout was not captured"))?;
    let mut stdout = BufReader::new(stdout).lines();
    for line in stdout.by_ref() {
        let line = line?;
        if let Some(ready) = Ready::parse(&line) {
            return Ok(Some(Running {
                child,
                stdout,
                ready,
                ready_line: line,
            }));
        }
        println!("{line}");
    }
    child.wait()?;
    Ok(None)
}

/// Builds and runs the hub in the foreground with `extra_arguments`.
pub fn hub(extra_arguments: &[String]) -> Outcome {
    let executable = build()?;
    let children = signals::Children::default();
    let Some(mut running) = start(&executable, extra_arguments, &children)? else {
        return Err(Failure::new("tc-at-hub stopped before it was ready"));
    };
    signals::end_children_on_stop(&children)?;
    println!("{}", running.ready_line);
    println!(
        "MQTT on 127.0.0.1:{}, admin API on 127.0.0.1:{}",
        running.ready.mqtt, running.ready.admin
    );
    let demo = !extra_arguments.iter().any(|argument| {
        ["--registry", "--device"]
            .iter()
            .any(|option| argument == option || argument.starts_with(&format!("{option}=")))
    });
    print_hub_help(&running.ready, demo);
    for line in running.stdout.by_ref() {
        println!("{}", line?);
    }
    let exit = running.child.wait()?;
    if exit.success() || children.stopped() {
        Ok(())
    } else {
        Err(Failure::new(format!("tc-at-hub exited ({exit})")))
    }
}

fn print_hub_help(ready: &Ready, demo: bool) {
    let (product, device, _) = DEMO_DEVICE;
    let admin = ready.admin;
    if demo {
        println!(
            "\n\
             Without --registry or --device the hub serves one demo device:\n\
             \x20   product id {product}, device name {device} (its secret, public test data, is in\n\
             \x20   tools/hub/README.md: secrets are never printed)"
        );
    }
    println!(
        "\n\
         Start a virtual module routed to this hub (in another terminal):\n\
         \n    TCAT_RESOLVE='*.tencentdevices.com=127.0.0.1' TCAT_PORT_MAP={} \\\n\
         \x20       cargo xtask run --no-hub\n\
         \n\
         or simply `cargo xtask run`, which starts a hub of its own.\n\
         \n\
         Admin API (tools/hub/README.md):\n\
         \n    curl -s localhost:{admin}/sessions\n\
         \x20   curl -s 'localhost:{admin}/events?since=0'\n\
         \x20   curl -s -XPOST localhost:{admin}/devices/{product}/{device}/publish \\\n\
         \x20       -d '{{\"topic\":\"{product}/{device}/data\",\"payload\":\"from the cloud\"}}'\n\
         \x20   curl -s -XPOST localhost:{admin}/devices/{product}/{device}/kick -d '{{}}'\n\
         \n\
         Stop with Ctrl-C.\n",
        ready.port_map()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_gives_the_bound_ports() {
        let ready = Ready::parse(
            "HUB READY {\"mqtt\":41883,\"mqtts\":0,\"http\":0,\"https\":0,\"admin\":18090}\n",
        );
        assert_eq!(
            ready,
            Some(Ready {
                mqtt: 41883,
                mqtts: 0,
                admin: 18090
            })
        );
    }

    #[test]
    fn other_lines_are_not_ready_lines() {
        assert_eq!(Ready::parse("demo device: product id DEMO000001"), None);
        assert_eq!(Ready::parse("HUB READY {\"mqtt\":1883}"), None);
    }

    #[test]
    fn port_map_covers_the_tls_port_only_when_the_hub_has_one() {
        let plain = Ready {
            mqtt: 1883,
            mqtts: 0,
            admin: 18090,
        };
        assert_eq!(plain.port_map(), "1883=1883");
        let both = Ready {
            mqtt: 40001,
            mqtts: 40002,
            admin: 40003,
        };
        assert_eq!(both.port_map(), "1883=40001,8883=40002");
    }
}
