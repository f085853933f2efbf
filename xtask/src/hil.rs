//! `cargo xtask hil --port <tty>`: the transcript suite against a flashed module over a real
//! serial port (hardware in the loop), for vendors with hardware.
//!
//! The port is opened raw at 115200 8N1 without flow control, the AT UART's setting on every
//! board (docs/hardware.md). A module cannot be power-cycled from here, so before each
//! transcript the suite brings it to the state the transcripts start from: it sends `AT`
//! until the module answers (it may still be booting, and bytes sent before `ready` are
//! dropped), then `AT+TCRESTORE` (cloud settings erased, reboot) and `AT+RESTORE` (Wi-Fi
//! settings erased, reboot), each awaited up to its `ready`. The transcripts are the QEMU set
//! without the two that need the Linux tests' simulated access points (`restore`, `wifi`),
//! for a module of the `full` profile (ESP32-C3/C2); an ESP8266 runs the `esp8266` profile
//! (TLS mode 1 only, no certificate commands), whose answers differ in the device and
//! product information and log transcripts, so it replays the two that hold for both
//! (`--profile esp8266`).
//!
//! Nothing here has run against a physical module. The serial code path is tested against
//! the Linux board's PTY (`tc-at-module --uart pty`), which accepts the same termios settings.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::termios::{self, BaudRate, ControlFlags, SetArg};

use crate::process::{self, Failure, Outcome};
use crate::replay::{self, Link};

/// The transcripts replayed on a `full`-profile module: those of `cargo xtask qemu` that need
/// no simulated access point.
pub const TRANSCRIPTS: [&str; 5] = [
    "framing",
    "device_info",
    "product_info",
    "unsupported",
    "log",
];
/// The ones of [`TRANSCRIPTS`] whose answers are the same in the `esp8266` profile.
pub const ESP8266_TRANSCRIPTS: [&str; 2] = ["framing", "unsupported"];

/// How often `AT` is tried while waiting for a module to answer at all.
const SYNC_ATTEMPTS: u32 = 20;
/// How long one `AT` waits for its `OK`.
const SYNC_WAIT: Duration = Duration::from_secs(1);
/// How long a restore may take up to its `ready` (a flash erase and a reboot).
const RESTORE_WAIT: Duration = Duration::from_secs(15);

const USAGE: &str = "usage: cargo xtask hil --port <tty> [--profile full|esp8266]";

/// `cargo xtask hil --port <tty> [--profile full|esp8266]`.
pub fn hil(arguments: &[String]) -> Outcome {
    let mut port = None;
    let mut names: &[&str] = &TRANSCRIPTS;
    let mut rest = arguments.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| Failure::new(USAGE))?;
        match (flag.as_str(), value.as_str()) {
            ("--port", _) => port = Some(PathBuf::from(value)),
            ("--profile", "full") => names = &TRANSCRIPTS,
            ("--profile", "esp8266") => names = &ESP8266_TRANSCRIPTS,
            _ => return Err(Failure::new(USAGE)),
        }
    }
    let port = port.ok_or_else(|| Failure::new(USAGE))?;
    let passed = run_suite(&port, names)?;
    eprintln!("hil: {passed} transcripts passed on {}", port.display());
    Ok(())
}

/// Replays the transcripts `names` on the module at `port`; the number that passed (all, or
/// an error naming the first failure).
pub fn run_suite(port: &Path, names: &[&str]) -> Outcome<usize> {
    let mut link = open_serial(port)?;
    for &name in names {
        let path = process::workspace_root()
            .join("boards/linux/tests/transcripts")
            .join(format!("{name}.txt"));
        let transcript = replay::parse(&std::fs::read_to_string(&path)?)
            .map_err(|failure| Failure::new(format!("hil {name}: {failure}")))?;
        restore(&mut link).map_err(|failure| Failure::new(format!("hil {name}: {failure}")))?;
        replay::replay(&mut link, &transcript)
            .map_err(|failure| Failure::new(format!("hil {name}: {failure}")))?;
        eprintln!("hil: {name} ok");
    }
    Ok(names.len())
}

/// Opens `port` raw at 115200 8N1, no flow control, and starts reading it.
pub fn open_serial(port: &Path) -> Outcome<Link> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(port)
        .map_err(|error| Failure::new(format!("hil: open {}: {error}", port.display())))?;
    configure(&file)
        .map_err(|error| Failure::new(format!("hil: configure {}: {error}", port.display())))?;
    let reader = file.try_clone()?;
    Ok(Link::new(Box::new(file), reader))
}

/// 115200 baud, 8 data bits, no parity, 1 stop bit, no flow control, raw bytes.
fn configure(file: &File) -> nix::Result<()> {
    let mut attributes = termios::tcgetattr(file)?;
    termios::cfmakeraw(&mut attributes);
    termios::cfsetspeed(&mut attributes, BaudRate::B115200)?;
    attributes.control_flags &= !(ControlFlags::PARENB
        | ControlFlags::CSTOPB
        | ControlFlags::CSIZE
        | ControlFlags::CRTSCTS);
    attributes.control_flags |= ControlFlags::CS8 | ControlFlags::CLOCAL | ControlFlags::CREAD;
    termios::tcsetattr(file, SetArg::TCSANOW, &attributes)
}

/// Brings the module to the transcripts' starting state (see the module documentation).
fn restore(link: &mut Link) -> Outcome {
    let answered = (0..SYNC_ATTEMPTS)
        .any(|_| link.send(b"AT\r\n", usize::MAX).is_ok() && link.skip_past(b"OK\r\n", SYNC_WAIT));
    if !answered {
        return Err(Failure::new(format!(
            "no `OK` to {SYNC_ATTEMPTS} `AT`s: is the module flashed, powered and wired at 115200 8N1?"
        )));
    }
    for command in [&b"AT+TCRESTORE\r\n"[..], b"AT+RESTORE\r\n"] {
        link.send(command, usize::MAX)?;
        if !link.skip_past(b"\r\nready\r\n", RESTORE_WAIT) {
            return Err(Failure::new(format!(
                "no `ready` after {}",
                String::from_utf8_lossy(command).trim_end()
            )));
        }
    }
    // Late answers to the extra `AT`s arrive before the reboots; nothing may follow `ready`.
    link.unexpected();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    /// The hardware path end to end against the Linux board on a PTY in `profile`: open and
    /// configure the port as a serial line, restore, replay `names`.
    fn suite_against_the_linux_board(profile: &str, names: &[&str]) -> Result<usize, String> {
        let executable = crate::artifact::build_executable("tc-at-linux", "tc-at-module", false)
            .expect("build tc-at-module");
        let flash =
            std::env::temp_dir().join(format!("tc-at-hil-{profile}-{}.flash", std::process::id()));
        let _ = std::fs::remove_file(&flash);
        let mut module = Command::new(executable)
            .args(["--uart", "pty", "--profile", profile, "--flash"])
            .arg(&flash)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-module");
        // Kept open until the end: the module's stdout carries only this line.
        let mut stdout = BufReader::new(module.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("UART line");
        let port = PathBuf::from(line.trim_end().strip_prefix("UART ").expect("UART <path>"));
        let outcome = run_suite(&port, names);
        let _ = module.kill();
        let _ = module.wait();
        let _ = std::fs::remove_file(&flash);
        drop(stdout);
        outcome.map_err(|failure| failure.to_string())
    }

    #[test]
    fn the_suite_passes_against_the_linux_board_on_a_pty() {
        assert_eq!(suite_against_the_linux_board("full", &TRANSCRIPTS), Ok(5));
    }

    #[test]
    fn the_esp8266_suite_passes_against_the_linux_board_in_that_profile() {
        assert_eq!(
            suite_against_the_linux_board("esp8266", &ESP8266_TRANSCRIPTS),
            Ok(2)
        );
    }

    #[test]
    fn the_port_is_required() {
        assert!(hil(&[]).is_err());
        assert!(hil(&["--baud".to_owned(), "9600".to_owned()]).is_err());
        let words = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert!(hil(&words("--profile esp8266")).is_err());
        assert!(hil(&words("--port /dev/null --profile esp32")).is_err());
    }

    #[test]
    fn every_hardware_transcript_is_one_qemu_replays() {
        for name in TRANSCRIPTS {
            assert!(qemu::TRANSCRIPTS.contains(&name), "{name}");
        }
        for name in ESP8266_TRANSCRIPTS {
            assert!(TRANSCRIPTS.contains(&name), "{name}");
        }
    }
}
