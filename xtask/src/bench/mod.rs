//! `cargo xtask bench`: the receive path's cost, TLS against OpenSSL, MQTT through the module.
//!
//! The xtask itself is usually a debug build, which would measure the wrong code. So `bench`
//! builds the xtask in release mode and runs that binary's hidden subcommands (`bench-wall`,
//! and `bench-workload` under callgrind; see [`parser`]).
//!
//! `cargo xtask bench parser` runs only the receive-path figures: a few seconds once the
//! release xtask is built, so CI can afford it, and it fails when a figure regresses past its
//! ceiling.

mod parser;
mod workload;

pub use parser::{wall, workload_passes};

use crate::artifact;
use crate::process::{self, Failure, Outcome};

/// `bench` (everything) or `bench parser` (the receive path only).
pub fn bench(arguments: &[String]) -> Outcome {
    let parser_only = match arguments {
        [] => false,
        [only] if only == "parser" => true,
        _ => {
            return Err(Failure::new(
                "usage: cargo xtask bench [parser] (parser: the AT receive path only)",
            ))
        }
    };
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
    process::run(
        process::cargo()
            .args([
                "bench",
                "--locked",
                "--package",
                "tc-at-linux",
                "--bench",
                "mqtt",
            ])
            .env("TCAT_HUB_BIN", hub),
    )
}
