#![doc = include_str!("../README.md")]

mod artifact;
mod bench;
mod chips;
mod ci;
mod cross;
mod flash;
mod fuzz;
mod hil;
mod hub;
mod image;
mod lx106;
mod preset;
mod process;
mod qemu;
mod replay;
mod run;
mod signals;
mod terminal;
mod test;
mod tools;

use std::process::ExitCode;

use process::{Failure, Outcome};

const USAGE: &str = "\
usage: cargo xtask <command> [arguments]

commands:
  test [cargo test arguments]    run every test of the workspace
  run [--no-hub] [tc-at-module arguments]
                                 build and start the local hub and the virtual module on a
                                 PTY, routed to the hub (--no-hub: the module alone)
  hub [tc-at-hub arguments]      build and run the local IoT Hub stand-in (demo device)
  cross                          build the no_std core crates for riscv32imc-unknown-none-elf
  build-image [esp32c3] [esp32c2]
                                 build the ESP32-C3/C2 firmware and its merged flash image
                                 (target/images/), printing the section sizes
  lx106 [--ram-gate]             build the ESP8266 board for the lx106 CPU and print its RAM
                                 map against the SDK's budget (--ram-gate: fail if over)
  qemu                           replay the Linux board's transcripts against the engine on
                                 QEMU's riscv32 `virt` machine
  chips                          build-image for both RISC-V chips, lx106, qemu (CI's step)
  flash --board esp32c3|esp32c2|esp8266 --port <tty>
                                 write a module (espflash; esptool for the ESP8266)
  hil --port <tty> [--profile full|esp8266]
                                 replay the hardware transcripts against a flashed module on a
                                 serial port at 115200 8N1 (restores it before each)
  fuzz [--seconds N] [--build-only]
                                 build and run every fuzz target (default 20 s each)
  bench [parser | fleet N]       parser, TLS, MQTT through the module vs raw clients, idle CPU;
                                 parser: the receive path only; fleet N: one hub and N modules
  ci                             format, clippy, test, cross and a fuzz smoke run, as CI does";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = arguments.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    match dispatch(command, rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: &str, rest: &[String]) -> Outcome {
    match command {
        "test" => test::test(rest),
        "run" => run::run(rest),
        "hub" => hub::hub(rest),
        "cross" => no_arguments(command, rest).and_then(|()| cross::cross()),
        "build-image" => image::build_image(rest),
        "lx106" => lx106::lx106(rest),
        "qemu" => no_arguments(command, rest).and_then(|()| qemu::qemu()),
        "chips" => no_arguments(command, rest).and_then(|()| chips::chips()),
        "flash" => flash::flash(rest),
        "hil" => hil::hil(rest),
        "fuzz" => fuzz::fuzz(rest),
        "bench" => bench::bench(rest),
        "ci" => no_arguments(command, rest).and_then(|()| ci::ci()),
        // Hidden: what `bench` runs in its release build of this binary.
        "bench-wall" => bench::wall(),
        "bench-workload" => bench::workload_passes(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::new(format!(
            "unknown command `{other}`\n\n{USAGE}"
        ))),
    }
}

fn no_arguments(command: &str, rest: &[String]) -> Outcome {
    match rest.first() {
        None => Ok(()),
        Some(argument) => Err(Failure::new(format!(
            "`{command}` takes no arguments (got `{argument}`)"
        ))),
    }
}
