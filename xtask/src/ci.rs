//! `cargo xtask ci`: every step CI runs, in CI's order, runnable on a laptop.
//!
//! The workflow file and `.ci/run` only install system packages and call this, so "green
//! locally" and "green in CI" mean the same thing. Cheap checks come first so a formatting
//! slip fails in seconds rather than after the test build.

use std::time::Instant;

use crate::process::{self, Outcome};
use crate::{chips, cross, fuzz, test, tools};

/// Seconds per fuzz target in CI: a smoke run, long enough to catch shallow panics.
const SMOKE_FUZZ_SECONDS: &str = "10";

/// Runs format check, clippy (both command-core builds), rustdoc, tests, the riscv32 build, the chip builds and a fuzz smoke run.
pub fn ci() -> Outcome {
    let started = Instant::now();
    // Clippy already builds the hub, which links the system OpenSSL.
    step("system tools", || tools::ensure(tools::TEST))?;
    step("format", || {
        process::run(process::cargo().args(["fmt", "--all", "--check"]))
    })?;
    step("clippy", || {
        process::run(process::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // The workspace build has command-core's default `certificates` feature; the esp8266
    // build compiles other code paths, so it gets its own lint run.
    step("clippy (esp8266 build)", || {
        process::run(process::cargo().args([
            "clippy",
            "--package",
            "command-core",
            "--no-default-features",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("docs", || {
        process::run(process::cargo().env("RUSTDOCFLAGS", "-D warnings").args([
            "doc",
            "--workspace",
            "--no-deps",
            "--locked",
        ]))
    })?;
    step("test", || test::test(&[]))?;
    // The workspace tests build command-core with its default `certificates` feature, so they
    // check the full build's RAM gate; the esp8266 build's gate needs its own run.
    step("esp8266 engine RAM gate", || {
        process::run(process::cargo().args([
            "test",
            "--locked",
            "--package",
            "command-core",
            "--no-default-features",
            "--lib",
            "footprint",
        ]))
    })?;
    // The settings store as the esp8266 profile builds it: a work buffer without room for
    // the certificate table.
    step("settings store without certificates", || {
        process::run(process::cargo().args([
            "test",
            "--locked",
            "--package",
            "storage",
            "--no-default-features",
            "--features",
            "mock",
        ]))
    })?;
    step("cross", cross::cross)?;
    // ESP32-C3/C2 images, the ESP8266 RAM gate (printed; enforced per chips::RAM_GATE_ENFORCED)
    // and the transcripts on riscv32 and lx106 QEMU.
    step("chips", chips::chips)?;
    step("fuzz", || {
        fuzz::fuzz(&["--seconds".to_owned(), SMOKE_FUZZ_SECONDS.to_owned()])
    })?;
    eprintln!("ci: all steps passed in {} s", started.elapsed().as_secs());
    Ok(())
}

/// Runs one named step and reports its duration, so slow steps are visible in the log.
fn step(name: &str, body: impl FnOnce() -> Outcome) -> Outcome {
    eprintln!("\n=== ci: {name} ===");
    let started = Instant::now();
    let outcome = body();
    let verdict = if outcome.is_ok() { "passed" } else { "FAILED" };
    eprintln!(
        "=== ci: {name} {verdict} after {} s ===",
        started.elapsed().as_secs()
    );
    outcome
}
