//! `cargo xtask bench`: the receive path's cost, TLS against OpenSSL, MQTT through the module,
//! and the engine's RAM per component from a riscv32 build ([`ram`]).
//!
//! The xtask itself is usually a debug build, which would measure the wrong code. So `bench`
//! builds the xtask in release mode and runs that binary's hidden subcommands (`bench-wall`,
//! and `bench-workload` under callgrind; see [`parser`]).
//!
//! `cargo xtask bench parser` runs only the receive-path figures: a few seconds once the
//! release xtask is built, so CI can afford it, and it fails when a figure regresses past its
//! ceiling. `cargo xtask bench ram` prints only the RAM table.

mod fleet;
mod parser;
mod ram;
mod workload;

pub use parser::{wall, workload_passes};

use crate::process::{self, Failure, Outcome};
use crate::{artifact, tools};

/// `bench` (everything), `bench parser` (the receive path only), `bench ram` (the engine's
/// RAM table only) or `bench fleet N`.
pub fn bench(arguments: &[String]) -> Outcome {
    match arguments {
        [] => all(false),
        [only] if only == "parser" => all(true),
        [only] if only == "ram" => ram::ram(),
        [fleet_word, count] if fleet_word == "fleet" => {
            tools::ensure(tools::HUB_BUILD)?;
            let count = count
                .parse()
                .ok()
                .filter(|count| *count > 0)
                .ok_or_else(|| {
                    Failure::new(format!("`bench fleet` needs a module count, got `{count}`"))
                })?;
            fleet::fleet(count)
        }
        _ => Err(Failure::new(
            "usage: cargo xtask bench [parser | ram | fleet N] (parser: the AT receive path only; ram: the engine's RAM per component, riscv32)",
        )),
    }
}

/// Builds the release xtask and reports both parser figures, then (unless `parser_only`) the
/// TLS comparison against `openssl s_client` (`crates/tls-psk/benches/interop.rs`), MQTT
/// through the virtual module against a raw client on the same hub and on mosquitto
/// (`boards/linux/benches/mqtt.rs`), the idle module's CPU and wake-ups
/// (`boards/linux/benches/idle.rs`), and the engine's RAM table ([`ram`]).
fn all(parser_only: bool) -> Outcome {
    tools::ensure(tools::BENCH)?;
    let executable = artifact::build_executable("xtask", "xtask", true)?;
    parser::figures(&executable)?;
    if parser_only {
        return Ok(());
    }
    process::run(process::cargo().args([
        "bench",
        "--locked",
        "--package",
        "tls-psk",
        "--bench",
        "interop",
    ]))?;
    let hub = artifact::build_executable("tc-at-hub", "tc-at-hub", true)?;
    for bench in ["mqtt", "idle"] {
        process::run(
            process::cargo()
                .args([
                    "bench",
                    "--locked",
                    "--package",
                    "tc-at-linux",
                    "--bench",
                    bench,
                ])
                .env("TCAT_HUB_BIN", &hub),
        )?;
    }
    ram::ram()
}
