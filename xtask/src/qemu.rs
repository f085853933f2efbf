//! `cargo xtask qemu`: the Linux board's transcripts against the engine on a 32-bit RISC-V CPU
//! and on the ESP8266's Xtensa lx106 CPU.
//!
//! `boards/qemu` is the unchanged engine on QEMU's riscv32 `virt` machine (16550 UART on
//! stdio) and on its Xtensa `sim` machine with the lx106 core (semihosting console), with a
//! RAM-backed NOR flash that survives the engine's simulated reboots. This module builds it
//! with the Debian toolchain (the lx106 build as `lx106` does), starts QEMU once per
//! transcript, and replays the transcript byte for byte as `boards/linux/tests/transcripts.rs`
//! does over a PTY.
//! Debian's `qemu-system-misc` is unpacked privately (`scripts/setup-qemu.sh`), because it may
//! conflict with an installed QEMU.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::cross::{self, Toolchain};
use crate::lx106;
use crate::process::{self, Failure, Outcome};
use crate::replay::{parse, replay, Link};

/// The transcripts that need neither a network, an X.509 parser nor the Linux board's identity
/// (the others' `<~` lines name `LINUX`): framing, errors, every form of the device and product
/// commands, logging, Wi-Fi against the same simulated APs, and persistence across reboots.
pub const TRANSCRIPTS: [&str; 7] = [
    "framing",
    "device_info",
    "product_info",
    "restore",
    "unsupported",
    "log",
    "wifi",
];

/// A CPU the harness runs on: its QEMU program and machine arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// `qemu-system-riscv32 -M virt`: 16550 UART on stdio.
    Riscv32,
    /// `qemu-system-xtensa -M sim -cpu lx106`: the ESP8266's CPU, console by semihosting.
    Lx106,
}

impl Machine {
    fn name(self) -> &'static str {
        match self {
            Machine::Riscv32 => "riscv32",
            Machine::Lx106 => "lx106",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Machine::Riscv32 => "qemu-system-riscv32",
            Machine::Lx106 => "qemu-system-xtensa",
        }
    }

    fn arguments(self) -> &'static [&'static str] {
        match self {
            Machine::Riscv32 => &["-M", "virt", "-m", "64M", "-bios", "none"],
            Machine::Lx106 => &["-M", "sim", "-cpu", "lx106", "-semihosting"],
        }
    }
}

/// Builds the harness for both CPUs and replays [`TRANSCRIPTS`] on each.
pub fn qemu() -> Outcome {
    let toolchain = cross::prepare_toolchain()?;
    lx106::require_tools()?;
    let prefix = prepare_qemu()?;
    let mut failed = Vec::new();
    let mut passed = 0;
    for machine in [Machine::Riscv32, Machine::Lx106] {
        let elf = match machine {
            Machine::Riscv32 => build_riscv32(&toolchain)?,
            Machine::Lx106 => build_lx106(&toolchain)?,
        };
        let emulator = prefix.join("usr/bin").join(machine.program());
        for name in TRANSCRIPTS {
            let path = process::workspace_root()
                .join("boards/linux/tests/transcripts")
                .join(format!("{name}.txt"));
            let text = std::fs::read_to_string(&path)?;
            match run(machine, &emulator, &elf, &text) {
                Ok(()) => {
                    eprintln!("qemu {}: {name} ok", machine.name());
                    passed += 1;
                }
                Err(failure) => {
                    eprintln!("qemu {}: {name} FAILED: {failure}", machine.name());
                    failed.push(format!("{}/{name}", machine.name()));
                }
            }
        }
    }
    println!("qemu: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "qemu: failed transcripts: {}",
            failed.join(", ")
        )))
    }
}

fn board_directory() -> PathBuf {
    process::workspace_root().join("boards/qemu")
}

/// Builds `boards/qemu` for riscv32 and returns its ELF.
fn build_riscv32(toolchain: &Toolchain) -> Outcome<PathBuf> {
    let target_directory = cross::target_directory().join("qemu-board");
    process::run(
        toolchain
            .cargo(&board_directory())
            .env("CARGO_TARGET_DIR", &target_directory)
            .args(["build", "--locked", "--release"]),
    )?;
    Ok(target_directory
        .join(cross::TARGET)
        .join("release/tc-at-qemu"))
}

/// Builds `boards/qemu` for lx106 the way `lx106` builds the ESP8266 board (LLVM assembly,
/// literal fix-up, GNU as), then links it with its start file; returns the ELF.
fn build_lx106(toolchain: &Toolchain) -> Outcome<PathBuf> {
    let target_directory = cross::target_directory().join("qemu-board-lx106");
    let board = board_directory();
    process::run(&mut lx106::build(toolchain, &board, &target_directory))?;
    let mut objects = lx106::assemble(&target_directory)?;
    // The ESP8266 board's LoadStoreError emulation, which the harness checks at boot.
    objects.push(lx106::assemble_source(
        &target_directory.join("lx106-objects"),
        &lx106::load_store_error_source(),
    )?);
    let start = target_directory.join("lx106-start.o");
    process::run(
        Command::new("xtensa-lx106-elf-as")
            .arg("--text-section-literals")
            .arg("-o")
            .arg(&start)
            .arg(board.join("lx106-start.S")),
    )?;
    let elf = target_directory.join("tc-at-qemu-lx106.elf");
    process::run(
        Command::new("xtensa-lx106-elf-gcc")
            .current_dir(&board)
            .args([
                "-nostdlib",
                "-Wl,--gc-sections",
                "-Wl,-T,qemu-lx106.ld",
                "-o",
            ])
            .arg(&elf)
            .arg(&start)
            .args(&objects)
            .arg("-lgcc"),
    )?;
    Ok(elf)
}

/// Returns the prefix of Debian's QEMU, unpacked privately by `scripts/setup-qemu.sh`
/// (`$TCAT_QEMU_PREFIX` overrides where).
fn prepare_qemu() -> Outcome<PathBuf> {
    let prefix = match std::env::var_os("TCAT_QEMU_PREFIX").filter(|value| !value.is_empty()) {
        Some(prefix) => PathBuf::from(prefix),
        None => qemu_prefix()?,
    };
    if !prefix.join("usr/bin/qemu-system-xtensa").is_file() {
        process::run(
            Command::new("bash")
                .arg(process::workspace_root().join("scripts/setup-qemu.sh"))
                .env("PREFIX", &prefix),
        )?;
    }
    Ok(prefix)
}

/// The private QEMU prefix, beside the Debian Rust toolchain.
fn qemu_prefix() -> Outcome<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or_else(|| Failure::new("HOME is not set"))?;
    Ok(PathBuf::from(home).join(".cache/tc-at/qemu-7.2"))
}

/// QEMU running the harness, its UART on the link.
struct Emulator {
    child: Child,
    link: Link,
}

impl Emulator {
    fn start(machine: Machine, emulator: &PathBuf, elf: &PathBuf) -> Outcome<Emulator> {
        let mut child = Command::new(emulator)
            .args(machine.arguments())
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child
            .stdin
            .take()
            .ok_or_else(|| Failure::new("no QEMU stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Failure::new("no QEMU stdout"))?;
        Ok(Emulator {
            child,
            link: Link::new(Box::new(input), stdout),
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Boots the harness and replays `text`.
fn run(machine: Machine, emulator: &PathBuf, elf: &PathBuf, text: &str) -> Outcome {
    let transcript = parse(text)?;
    let mut module = Emulator::start(machine, emulator, elf)?;
    module.link.expect(b"\r\nready\r\n", 0)?;
    replay(&mut module.link, &transcript)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chosen_transcript_parses() {
        for name in TRANSCRIPTS {
            let path = process::workspace_root()
                .join("boards/linux/tests/transcripts")
                .join(format!("{name}.txt"));
            let text = std::fs::read_to_string(path).unwrap();
            assert!(!parse(&text).unwrap().steps.is_empty(), "{name}");
        }
    }
}
