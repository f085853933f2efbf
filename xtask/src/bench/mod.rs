//! `cargo xtask bench`: throughput and instruction counts of the receive path.
//!
//! Two figures, because each hides what the other shows. Wall-clock bytes per second (best of
//! several runs, so scheduler noise only ever makes a run slower) is what a developer feels,
//! but it depends on the machine. Instructions per byte, counted by callgrind, are the same on
//! every x86_64 machine and move only when the code does, so they are what to compare across
//! commits. (They are x86_64 counts, not RISC-V ones, but an algorithmic change moves both.)
//!
//! The xtask itself is usually a debug build, which would measure the wrong code. So `bench`
//! builds the xtask in release mode and runs that binary's hidden subcommands: `bench-wall`
//! for timing and `bench-workload` under callgrind. Process start-up and building the input
//! are excluded by counting one run with one pass over the input and one with three passes, and
//! dividing the difference by the bytes of two passes.

mod fleet;
mod workload;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use at_parser::Framer;

use crate::process::{self, Failure, Outcome};
use crate::{artifact, tools};

/// Rounds of the session mix in the timed stream (about 0.6 MB).
const WALL_ROUNDS: usize = 1024;
/// Timed repetitions; the fastest one is reported.
const WALL_REPETITIONS: usize = 15;
/// Rounds of the mix in the stream that callgrind runs over (about 37 KB per pass).
const CALLGRIND_ROUNDS: usize = 64;

/// Builds the release xtask and reports both parser figures, then the TLS comparison against
/// `openssl s_client` (`crates/tls-psk/benches/interop.rs`), MQTT through the virtual module
/// against a raw client on the same hub and on mosquitto (`boards/linux/benches/mqtt.rs`), and
/// the idle module's CPU and wake-ups (`boards/linux/benches/idle.rs`).
pub fn bench(arguments: &[String]) -> Outcome {
    match arguments {
        [] => all(),
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
        _ => Err(Failure::new("usage: cargo xtask bench [fleet N]")),
    }
}

fn all() -> Outcome {
    tools::ensure(tools::BENCH)?;
    let executable = artifact::build_executable("xtask", "xtask", true)?;
    process::run(Command::new(&executable).arg("bench-wall"))?;
    instructions_per_byte(&executable)?;
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
    Ok(())
}

/// Hidden subcommand `bench-wall`: times the workload in this (release) process.
pub fn wall() -> Outcome {
    let bytes = workload::stream(WALL_ROUNDS);
    let mut framer = Framer::<4608>::new();
    let reference = workload::process(&mut framer, &bytes);
    let mut best = f64::INFINITY;
    for _ in 0..WALL_REPETITIONS {
        let started = Instant::now();
        let summary = workload::process(&mut framer, &bytes);
        best = best.min(started.elapsed().as_secs_f64());
        if summary != reference {
            return Err(Failure::new(
                "the workload gave different results on repeated passes",
            ));
        }
    }
    let lines = WALL_ROUNDS * workload::LINES_PER_ROUND;
    println!(
        "at-parser wall clock: {} bytes ({lines} lines, {}-byte reads) in {:.3} ms (best of {WALL_REPETITIONS}): {:.1} MB/s, {:.0} ns/line",
        bytes.len(),
        workload::CHUNK,
        best * 1e3,
        bytes.len() as f64 / best / 1e6,
        best * 1e9 / lines as f64,
    );
    Ok(())
}

/// Hidden subcommand `bench-workload <passes>`: processes the callgrind stream `passes` times.
pub fn workload_passes(arguments: &[String]) -> Outcome {
    let passes: usize = arguments
        .first()
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| Failure::new("bench-workload needs a pass count"))?;
    let bytes = workload::stream(CALLGRIND_ROUNDS);
    let mut framer = Framer::<4608>::new();
    for _ in 0..passes {
        workload::process(&mut framer, &bytes);
    }
    Ok(())
}

fn instructions_per_byte(executable: &Path) -> Outcome {
    if !process::on_path("valgrind") {
        return Err(Failure::new(
            "valgrind is not installed (apt-get install valgrind); it counts the instructions",
        ));
    }
    let one = callgrind_total(executable, 1)?;
    let three = callgrind_total(executable, 3)?;
    let stream_bytes = workload::stream(CALLGRIND_ROUNDS).len() as u64;
    let counted_bytes = 2 * stream_bytes;
    let instructions = three
        .checked_sub(one)
        .ok_or_else(|| Failure::new("callgrind counted fewer instructions for more passes"))?;
    println!(
        "at-parser instructions: {instructions} Ir for {counted_bytes} bytes (Ir(3 passes) {three} - Ir(1 pass) {one}): {:.1} instructions/byte, {:.0} instructions/line",
        instructions as f64 / counted_bytes as f64,
        instructions as f64 / (2 * CALLGRIND_ROUNDS * workload::LINES_PER_ROUND) as f64,
    );
    Ok(())
}

/// Runs `bench-workload <passes>` under callgrind and returns the total instruction count.
fn callgrind_total(executable: &Path, passes: u32) -> Outcome<u64> {
    let output_file = std::env::temp_dir().join(format!(
        "xtask-callgrind-{}-{passes}.out",
        std::process::id()
    ));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", output_file.display()))
        .arg(executable)
        .args(["bench-workload", &passes.to_string()]);
    eprintln!("$ {}", process::describe(&command));
    let output = command.output()?;
    if !output.status.success() {
        return Err(Failure::new(format!(
            "callgrind run failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let profile = std::fs::read_to_string(&output_file)?;
    let _ = std::fs::remove_file(&output_file);
    total_instructions(&profile)
        .ok_or_else(|| Failure::new("the callgrind profile has no `totals:` or `summary:` line"))
}

/// Reads the first event count (Ir, callgrind's default event) of the profile's total line.
fn total_instructions(profile: &str) -> Option<u64> {
    profile.lines().find_map(|line| {
        line.strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
            .and_then(|counts| counts.split_whitespace().next())
            .and_then(|first| first.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line_gives_the_instruction_count() {
        let profile =
            "version: 1\nevents: Ir\nsummary: 123456\nfn=(1) main\n5 10\ntotals: 123456\n";
        assert_eq!(total_instructions(profile), Some(123_456));
    }

    #[test]
    fn a_profile_without_totals_gives_nothing() {
        assert_eq!(total_instructions("events: Ir\nfn=(1) main\n"), None);
    }
}
